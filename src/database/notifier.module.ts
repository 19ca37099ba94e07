import { Module } from '@nestjs/common';
import { Notifier } from './notifier';

/** The process's one `LISTEN` connection; imported by the owners of channels and by whoever waits on them. */
@Module({ providers: [Notifier], exports: [Notifier] })
export class NotifierModule {}

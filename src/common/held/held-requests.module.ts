import { Global, Module } from '@nestjs/common';
import { HeldRequests } from './held-requests';

@Global()
@Module({ providers: [HeldRequests], exports: [HeldRequests] })
export class HeldRequestsModule {}

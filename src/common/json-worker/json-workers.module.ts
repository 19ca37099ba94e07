import { Global, Module } from '@nestjs/common';
import { JsonWorkers } from './json-workers';

@Global()
@Module({ providers: [JsonWorkers], exports: [JsonWorkers] })
export class JsonWorkersModule {}

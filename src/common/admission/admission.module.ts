import { Global, Module } from '@nestjs/common';
import { AdmissionService } from './admission.service';

@Global()
@Module({ providers: [AdmissionService], exports: [AdmissionService] })
export class AdmissionModule {}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NotifierModule } from '../database/notifier.module';
import { FlowAnalysisCache } from './flow-analysis';
import { FlowVersionEntity } from './flow-version.entity';
import { FlowEntity } from './flow.entity';
import { FlowsController } from './flows.controller';
import { FlowsRepository } from './flows.repository';
import { FlowsService } from './flows.service';

@Module({
  imports: [TypeOrmModule.forFeature([FlowEntity, FlowVersionEntity]), NotifierModule],
  controllers: [FlowsController],
  providers: [FlowsService, FlowsRepository, FlowAnalysisCache],
  exports: [FlowsService, FlowAnalysisCache],
})
export class FlowsModule {}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FlowVersionEntity } from './flow-version.entity';
import { FlowEntity } from './flow.entity';
import { FlowsController } from './flows.controller';
import { FlowsRepository } from './flows.repository';
import { FlowsService } from './flows.service';

@Module({
  imports: [TypeOrmModule.forFeature([FlowEntity, FlowVersionEntity])],
  controllers: [FlowsController],
  providers: [FlowsService, FlowsRepository],
  exports: [FlowsService],
})
export class FlowsModule {}

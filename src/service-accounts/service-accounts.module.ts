import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeysController } from './api-keys.controller';
import { ServiceAccountEntity } from './service-account.entity';
import { ServiceAccountsController } from './service-accounts.controller';
import { ServiceAccountsRepository } from './service-accounts.repository';
import { ServiceAccountsService } from './service-accounts.service';

@Module({
  imports: [TypeOrmModule.forFeature([ServiceAccountEntity, ApiKeyEntity])],
  controllers: [ServiceAccountsController, ApiKeysController],
  providers: [ServiceAccountsService, ServiceAccountsRepository],
  exports: [ServiceAccountsService],
})
export class ServiceAccountsModule {}

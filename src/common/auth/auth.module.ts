import { Global, Module } from '@nestjs/common';
import { NotifierModule } from '../../database/notifier.module';
import { ApiKeyVerifier } from './api-key.verifier';
import { CredentialChanges } from './credential-changes';
import { CredentialWatch } from './credential-watch';
import { JwtVerifier } from './jwt.verifier';

@Global()
@Module({
  imports: [NotifierModule],
  providers: [JwtVerifier, ApiKeyVerifier, CredentialChanges, CredentialWatch],
  exports: [JwtVerifier, ApiKeyVerifier, CredentialChanges, CredentialWatch],
})
export class AuthModule {}

import { Global, Module } from '@nestjs/common';
import { NotifierModule } from '../../database/notifier.module';
import { ApiKeyVerifier } from './api-key.verifier';
import { CredentialChanges } from './credential-changes';
import { JwtVerifier } from './jwt.verifier';

@Global()
@Module({ imports: [NotifierModule], providers: [JwtVerifier, ApiKeyVerifier, CredentialChanges], exports: [JwtVerifier, ApiKeyVerifier, CredentialChanges] })
export class AuthModule {}

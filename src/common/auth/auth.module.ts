import { Global, Module } from '@nestjs/common';
import { ApiKeyVerifier } from './api-key.verifier';
import { JwtVerifier } from './jwt.verifier';

@Global()
@Module({ providers: [JwtVerifier, ApiKeyVerifier], exports: [JwtVerifier, ApiKeyVerifier] })
export class AuthModule {}

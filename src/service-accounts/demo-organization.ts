import type { INestApplication } from '@nestjs/common';
import type { Caller } from './service-accounts.service';
import { ServiceAccountsService } from './service-accounts.service';

export const DEMO_ORGANIZATION_ID = '00000000-0000-4000-8000-000000000001';
const DEMO_ACCOUNT_NAME = 'demo-admin';

/**
 * The embedded default's first start: an org_admin key for a fixed demo organization, printed once.
 * Later starts print no token, only how to get a new credential.
 */
export async function ensureDemoOrganization(app: INestApplication, port: number): Promise<void> {
  const service = app.get(ServiceAccountsService);
  const caller: Caller = { subject: 'demo-setup', organizationId: DEMO_ORGANIZATION_ID };
  const cli = (command: string) => `npm run cli -- ${command} --org ${DEMO_ORGANIZATION_ID} --role org_admin`;

  if (await service.hasAccountNamed(caller, DEMO_ACCOUNT_NAME)) {
    console.log(
      `Demo organization ${DEMO_ORGANIZATION_ID} exists. New API key (with the server stopped): ${cli('create-api-key')}; a bearer token any time: ${cli('mint-jwt')}`,
    );
    return;
  }
  const { key } = await service.createWithKey(caller, {
    name: DEMO_ACCOUNT_NAME,
    description: 'Demo administrator, created at the first start of the embedded default',
    role: 'org_admin',
  });
  console.log(
    [
      '',
      'Demo organization created. This API key is shown only now; keep it.',
      `  organization: ${DEMO_ORGANIZATION_ID}`,
      `  API key:      ${key.token}`,
      `  try:          curl -H "X-API-Key: ${key.token}" http://localhost:${port}/api/flows`,
      '',
    ].join('\n'),
  );
}

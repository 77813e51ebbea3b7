// Dialpad's deauthorize, and later the "Remove access" button: revoke every token an app holds for a user
// and forget the consent, so the next authorization asks again.
import type { Storage } from '../storage/storage.ts';
import { recordSecurityEvent } from './security-events.ts';

export async function deauthorize(
  storage: Storage,
  userId: string,
  clientId: string,
  now: number,
): Promise<number> {
  const revoked = await storage.grants.revokeForUserAndClient(userId, clientId, now);
  await storage.consents.forget(userId, clientId);
  await recordSecurityEvent(storage, now, 'deauthorized', { clientId, userId, detail: { grants: revoked } });
  return revoked;
}

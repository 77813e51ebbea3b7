// Dialpad's deauthorize, and later the "Remove access" button: revoke every token an app holds for a user
// and forget the consent, so the next authorization asks again.
import type { Storage } from '../storage/storage.ts';
import { type Actor, recordSecurityEvent } from './security-events.ts';

/**
 * `by`: who asked (the app with the user's token at /oauth/deauthorize, or the user at /account/apps) and from
 * which address, for the security event.
 */
export async function deauthorize(
  storage: Storage,
  userId: string,
  clientId: string,
  now: number,
  by: { actor: Actor; ip: string },
): Promise<number> {
  const revoked = await storage.grants.revokeForUserAndClient(userId, clientId, now);
  await storage.consents.forget(userId, clientId);
  await recordSecurityEvent(storage, now, 'deauthorized', {
    actor: by.actor,
    ip: by.ip,
    clientId,
    userId,
    detail: { grants: revoked },
  });
  return revoked;
}

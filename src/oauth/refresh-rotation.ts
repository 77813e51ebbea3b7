// Refresh token rotation with a grace period, without keeping any token in the clear: a successor is derived
// from a server key and its parent's id, so a client that presents the immediately previous token again
// inside the grace period (two tabs, a retry after a lost response) gets the very same successor back.
import { createHmac, hkdfSync } from 'node:crypto';
import { sha256 } from '../util/hash.ts';
import { opaqueTokenFrom, TOKEN_PREFIX } from './opaque-token.ts';

export function rotationKeyFrom(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'refresh-rotation/v1', 32));
}

export function successorOf(rotationKey: Buffer, parentId: string): string {
  const body = createHmac('sha256', rotationKey).update(`refresh-successor:${parentId}`).digest('base64url');
  return opaqueTokenFrom(TOKEN_PREFIX.refreshToken, body);
}

/** What a rotation request asked for; a replay must ask for the same to get the same answer. */
export function rotationFingerprint(scope: string | undefined, resource: string | undefined): string {
  return sha256(`${scope ?? ''}\n${resource ?? ''}`);
}

// /api/v1/keys: the signing keys (public facts only) and their rotation. A rotation answers only once every
// running server publishes the new keys (the same wait as `gatehouse keys rotate`), so a caller that fetches
// the JWKS right after the answer finds them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { rotateKeys } from '../../applications/keys.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { KEY_CHANGE_VISIBLE_WITHIN_MS } from '../../oauth/keys.ts';
import { resolveSecret } from '../../secret.ts';
import type { SigningKeyRecord } from '../../storage/storage.ts';
import { API_PREFIX, authorize, bodyOf, iso } from './auth.ts';

/** The longest an operator may publish a key before it signs: a week. */
const MAX_ACTIVATE_MINUTES = 7 * 24 * 60;

/**
 * A key as the admin API shows it. `signing`: it signs new tokens (active, and no newer key of its alg is
 * active yet: a rotated-out key keeps signing until its successor activates); `retired`: gone from the JWKS;
 * `published`: in the JWKS, not signing (waiting to activate, or superseded). `keys` is every key considered.
 */
function keyView(key: SigningKeyRecord, keys: readonly SigningKeyRecord[], now: number) {
  const superseded = keys.some(
    (other) => other.alg === key.alg && other.createdAt > key.createdAt && other.activatesAt <= now,
  );
  return {
    kid: key.kid,
    alg: key.alg,
    created_at: iso(key.createdAt),
    activates_at: iso(key.activatesAt),
    rotated_at: iso(key.rotatedAt),
    retire_at: iso(key.retireAt),
    state:
      key.retireAt !== null && key.retireAt <= now
        ? 'retired'
        : key.activatesAt <= now && !superseded
          ? 'signing'
          : 'published',
  };
}

export function registerAdminKeys(app: FastifyInstance, deps: Deps) {
  app.get(`${API_PREFIX}/keys`, async (request, reply) => {
    await authorize(deps, request, reply, 'keys:read');
    const now = deps.clock.now();
    const keys = await deps.storage.keys.list();
    return { items: keys.map((key) => keyView(key, keys, now)) };
  });

  app.post(`${API_PREFIX}/keys/rotate`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'keys:write');
    const minutes = bodyOf(request).activate_in_minutes ?? 10;
    if (
      typeof minutes !== 'number' ||
      !Number.isInteger(minutes) ||
      minutes < 0 ||
      minutes > MAX_ACTIVATE_MINUTES
    ) {
      throw new OAuthError(
        'invalid_request',
        `activate_in_minutes must be a whole number from 0 to ${MAX_ACTIVATE_MINUTES}`,
      );
    }
    const now = deps.clock.now();
    const { added, retireAfterMs } = await rotateKeys(
      deps.storage,
      deps.config,
      // The secret the server started with (GATEHOUSE_SECRET, or the generated one in the data folder).
      resolveSecret(deps.config).secret,
      now,
      minutes * 60_000,
      acting,
    );
    // This process publishes at once; the others within their next change check.
    await deps.keys.reload();
    await sleep(KEY_CHANGE_VISIBLE_WITHIN_MS);
    return {
      // The newest keys of their algs: signing once active.
      added: added.map((key) => keyView(key, added, now)),
      activates_at: iso(now + minutes * 60_000),
      old_keys_retire_after_seconds: Math.round(retireAfterMs / 1000),
    };
  });
}

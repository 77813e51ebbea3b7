// Credentials for the admin API (`ghm_…`), created by an operator with `gatehouse admin-keys create`. Unlike a
// user's API key (`ghk_`, a bearer token for resource APIs), an admin key speaks for the operator, so it opens
// only the admin API, and only the parts its scopes name. Only its SHA-256 is stored; the key is shown once.

import { mintOpaqueToken, TOKEN_PREFIX } from '../oauth/opaque-token.ts';
import { recordSecurityEvent } from '../oauth/security-events.ts';
import type { AdminKey, Storage } from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import { randomId } from '../util/random.ts';
import { UserInputError } from './users.ts';

/** Every admin scope, and what it opens. */
export const ADMIN_SCOPES = {
  interactions: 'Read, accept and reject login and consent challenges (/api/v1/interactions/…)',
  'clients:read': 'List and read registered clients (/api/v1/clients)',
  'clients:write':
    'Create, approve, reject, disable, enable and delete clients, rotate their secrets, revoke their tokens, issue registration tokens (includes clients:read)',
  'users:read': 'List and read users and their authorizations (/api/v1/users)',
  'users:write':
    "Create, disable, enable and delete users, reset passwords, revoke a user's tokens and authorizations (includes users:read)",
  'keys:read': 'List the signing keys (/api/v1/keys)',
  'keys:write': 'Rotate the signing keys (includes keys:read)',
  'events:read': 'Read and export the security event log (/api/v1/security-events)',
} as const;
export type AdminScope = keyof typeof ADMIN_SCOPES;

export interface NewAdminKeyInput {
  name: string;
  scopes: string[];
  expiresInDays?: number;
}

// Made and revoked at the CLI only (`gatehouse admin-keys`): the events name the CLI as the actor.
export async function createAdminKey(
  storage: Storage,
  input: NewAdminKeyInput,
  now: number,
): Promise<{ key: string; record: AdminKey }> {
  const name = input.name.trim();
  if (!name || name.length > 200) throw new UserInputError('Give the key a name of at most 200 characters.');
  if (input.scopes.length === 0) throw new UserInputError('Give the key at least one scope.');
  const unknown = input.scopes.filter((scope) => !Object.hasOwn(ADMIN_SCOPES, scope));
  if (unknown.length > 0) {
    throw new UserInputError(
      `Unknown admin scope ${unknown.map((scope) => `"${scope}"`).join(', ')}; admin scopes are: ${Object.keys(ADMIN_SCOPES).join(', ')}.`,
    );
  }
  const key = mintOpaqueToken(TOKEN_PREFIX.adminKey);
  const record: AdminKey = {
    id: randomId(),
    keyHash: sha256(key),
    name,
    scope: [...new Set(input.scopes)].join(' '),
    createdAt: now,
    expiresAt: input.expiresInDays ? now + input.expiresInDays * 86_400_000 : null,
    revokedAt: null,
  };
  await storage.transaction(async (tx) => {
    await tx.adminKeys.create(record);
    await recordSecurityEvent(tx, now, 'admin_key_created', {
      actor: { kind: 'cli' },
      detail: { admin_key: record.id, name, scope: record.scope },
    });
  });
  return { key, record };
}

/** False when no live key has that id. */
export async function revokeAdminKey(storage: Storage, id: string, now: number): Promise<boolean> {
  return storage.transaction(async (tx) => {
    if (!(await tx.adminKeys.revoke(id, now))) return false;
    await recordSecurityEvent(tx, now, 'admin_key_revoked', {
      actor: { kind: 'cli' },
      detail: { admin_key: id },
    });
    return true;
  });
}

/** The live key a presented value stands for, if it carries `scope`; 'missing_scope' if it does not. */
export async function findAdminKey(
  storage: Storage,
  presented: string,
  scope: AdminScope,
  now: number,
): Promise<AdminKey | 'unknown' | 'missing_scope'> {
  const key = await storage.adminKeys.findActive(sha256(presented), now);
  if (!key) return 'unknown';
  const held = key.scope.split(' ');
  // Whoever may change a kind of record may read it: X:write includes X:read.
  const alsoBy = scope.endsWith(':read') ? `${scope.slice(0, -':read'.length)}:write` : undefined;
  return held.includes(scope) || (alsoBy !== undefined && held.includes(alsoBy)) ? key : 'missing_scope';
}

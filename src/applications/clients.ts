// What an operator (or, for their own apps, a developer) does to a registered client: approve or reject it and
// the changes and scopes it asks for, disable, enable, delete, rotate its secret, revoke its tokens. The admin
// console, the developer portal, the admin API and the CLI all call these, so each operation has one rule set
// and records one security event, with who did it, whichever face it came through.
//
// Each operation reads the client, writes it and records its event in one transaction: the log never claims a
// change that did not happen, and a change is never made without its entry.
import { UserInputError } from '../accounts/users.ts';
import { buildClient, type ClientInput } from '../oauth/client-metadata.ts';
import {
  changedFields,
  isOperatorApproved,
  reviewFingerprint,
  withChangesApplied,
} from '../oauth/client-review.ts';
import { mintOpaqueToken, TOKEN_PREFIX } from '../oauth/opaque-token.ts';
import { formatScope, parseScope } from '../oauth/scope.ts';
import { type Acting, recordSecurityEvent } from '../oauth/security-events.ts';
import type { Client, Storage } from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import type { Outcome } from '../util/outcome.ts';

export type ClientOutcome<Extra = object> = Outcome<Client, Extra>;

/** The operations' common frame: find the client, decide, write and record, all in one transaction. */
async function onClient<Extra = object>(
  storage: Storage,
  id: string,
  work: (tx: Storage, client: Client) => Promise<ClientOutcome<Extra>>,
): Promise<ClientOutcome<Extra>> {
  return storage.transaction(async (tx) => {
    const client = await tx.clients.find(id);
    if (!client) return { status: 'not_found' };
    return work(tx, client);
  });
}

function record(tx: Storage, now: number, type: string, client: Client, by: Acting, detail = {}) {
  // The name as it was when the operation ran: a deleted client can no longer be looked up.
  return recordSecurityEvent(tx, now, type, {
    clientId: client.id,
    clientName: client.name,
    actor: by.actor,
    ip: by.ip,
    detail,
  });
}

const changedMeanwhile = (client: Client): ClientOutcome => ({
  status: 'conflict',
  value: client,
  reason: `${client.name} changed after it was shown to you: review it again.`,
});

/**
 * Registers a client as an operator (the CLI's `clients add`, the admin API): under the same metadata rules as
 * every registration (oauth/client-metadata.ts), approved by whoever made it. The secret, if any, is in the
 * answer only. Throws OAuthError (invalid_client_metadata, invalid_redirect_uri) for bad metadata.
 */
export async function createClient(
  storage: Storage,
  now: number,
  input: ClientInput,
  by: Acting,
): Promise<{ client: Client; secret: string | undefined }> {
  const { client, secret } = buildClient({ ...input, registeredVia: 'cli' }, now);
  await storage.transaction(async (tx) => {
    await tx.clients.create(client);
    await record(tx, now, 'client_created', client, by);
  });
  return { client, secret };
}

/**
 * Approves a client's registration: a pending client becomes active, and an active self-registered one that no
 * operator approved becomes operator-approved (so it may use the client_credentials it holds). With `seen`
 * (reviewFingerprint of what the administrator was shown), only if the client still is what they saw.
 */
export function approveClient(storage: Storage, now: number, id: string, by: Acting, seen?: string) {
  return onClient(storage, id, async (tx, client) => {
    if (client.status === 'active' && isOperatorApproved(client))
      return { status: 'unchanged', value: client };
    if (seen !== undefined && seen !== reviewFingerprint(client)) return changedMeanwhile(client);
    const approved: Client = { ...client, status: 'active', reviewedAt: now };
    await tx.clients.update(approved);
    await record(tx, now, 'client_approve', client, by, { grant_types: client.grantTypes });
    return { status: 'ok', value: approved };
  });
}

/** Puts the client's pending change in force; with `seen`, only if it is the change the administrator saw. */
export function approveClientChanges(storage: Storage, now: number, id: string, by: Acting, seen?: string) {
  return onClient(storage, id, async (tx, client) => {
    const changes = client.pendingChanges;
    if (!changes)
      return { status: 'conflict', value: client, reason: `${client.name} has no change waiting.` };
    if (seen !== undefined && seen !== reviewFingerprint(changes)) return changedMeanwhile(client);
    const updated = withChangesApplied(client, changes, now);
    await tx.clients.update(updated);
    await record(tx, now, 'client_approve_changes', client, by, { fields: changedFields(client, changes) });
    return { status: 'ok', value: updated };
  });
}

/** Drops the client's pending change; the approved registration stays. */
export function rejectClientChanges(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    const changes = client.pendingChanges;
    if (!changes)
      return { status: 'conflict', value: client, reason: `${client.name} has no change waiting.` };
    const updated = { ...client, pendingChanges: null };
    await tx.clients.update(updated);
    await record(tx, now, 'client_reject_changes', client, by, { fields: changedFields(client, changes) });
    return { status: 'ok', value: updated };
  });
}

/** Rejects a registration that waits for approval: the client is deleted. An active client is deleted instead. */
export function rejectClient(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    if (client.status !== 'pending') {
      return { status: 'conflict', value: client, reason: `${client.name} is not waiting for approval.` };
    }
    await tx.clients.delete(client.id, now);
    await record(tx, now, 'client_reject', client, by);
    return { status: 'ok', value: client };
  });
}

/** Every token the client holds stops working at once (each check joins the client); nothing is deleted. */
export function disableClient(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    if (client.disabledAt !== null) return { status: 'unchanged', value: client };
    const updated = { ...client, disabledAt: now };
    await tx.clients.update(updated);
    await record(tx, now, 'client_disable', client, by);
    return { status: 'ok', value: updated };
  });
}

/** Undoes disableClient: tokens that have not expired work again (they were never revoked). */
export function enableClient(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    if (client.disabledAt === null) return { status: 'unchanged', value: client };
    const updated = { ...client, disabledAt: null };
    await tx.clients.update(updated);
    await record(tx, now, 'client_enable', client, by);
    return { status: 'ok', value: updated };
  });
}

/** Deletes the client: every grant it holds is revoked, so every token; consents and CORS origins go too. */
export function deleteClient(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    await tx.clients.delete(client.id, now);
    await record(tx, now, 'client_delete', client, by);
    return { status: 'ok', value: client };
  });
}

/** Grants the scopes the client asked for that need an administrator (scope catalogue `requiresApproval`). */
export function approveClientScopes(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    if (!client.requestedScope) {
      return { status: 'conflict', value: client, reason: `${client.name} asks for no scope.` };
    }
    const updated = {
      ...client,
      scope: formatScope(new Set([...parseScope(client.scope), ...parseScope(client.requestedScope)])),
      requestedScope: '',
    };
    await tx.clients.update(updated);
    await record(tx, now, 'client_approve_scopes', client, by, { scope: client.requestedScope });
    return { status: 'ok', value: updated };
  });
}

/** Refuses the scopes the client asked for; what it was granted stays. */
export function rejectClientScopes(storage: Storage, now: number, id: string, by: Acting) {
  return onClient(storage, id, async (tx, client) => {
    if (!client.requestedScope) {
      return { status: 'conflict', value: client, reason: `${client.name} asks for no scope.` };
    }
    const updated = { ...client, requestedScope: '' };
    await tx.clients.update(updated);
    await record(tx, now, 'client_reject_scopes', client, by, { scope: client.requestedScope });
    return { status: 'ok', value: updated };
  });
}

/**
 * Issues a new client secret. The old one keeps working for `overlapSeconds` (0: stops at once, for a leaked
 * secret), so the app can deploy the new one without an outage. Only the SHA-256 of either is stored; the new
 * secret is in the answer and nowhere else.
 */
export function rotateClientSecret(
  storage: Storage,
  now: number,
  id: string,
  by: Acting,
  overlapSeconds: number,
) {
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > 30 * 24 * 3600) {
    throw new UserInputError('The overlap must be a whole number of seconds, from 0 to 30 days.');
  }
  return onClient<{ secret: string }>(storage, id, async (tx, client) => {
    if (client.secretHash === null) {
      return {
        status: 'conflict',
        value: client,
        reason: `${client.name} is a public client: it has no secret.`,
      };
    }
    const secret = mintOpaqueToken(TOKEN_PREFIX.clientSecret);
    const updated = {
      ...client,
      secretHash: sha256(secret),
      previousSecretHash: overlapSeconds > 0 ? client.secretHash : null,
      previousSecretExpiresAt: overlapSeconds > 0 ? now + overlapSeconds * 1000 : null,
    };
    await tx.clients.update(updated);
    await record(tx, now, 'client_secret_rotated', client, by, { overlap_seconds: overlapSeconds });
    return { status: 'ok', value: updated, secret };
  });
}

/**
 * Revokes every grant the client holds, so every access and refresh token it has, for every user; the client
 * stays registered and may ask users again (a leaked token store at the client, say).
 */
export function revokeClientTokens(storage: Storage, now: number, id: string, by: Acting) {
  return onClient<{ revokedGrants: number }>(storage, id, async (tx, client) => {
    const revokedGrants = await tx.grants.revokeForClient(client.id, now);
    await record(tx, now, 'client_tokens_revoked', client, by, { revoked_grants: revokedGrants });
    return { status: 'ok', value: client, revokedGrants };
  });
}

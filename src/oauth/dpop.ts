// DPoP (RFC 9449) at the authorization server: the token and PAR endpoints check a request's proof here, and
// Gatehouse's own protected endpoints get their replay cache from here. The proof itself (typ, asymmetric alg,
// public jwk, htm, htu, iat, ath) is checked by @gatehouse/resource's verifyDpopProof, the same code every API
// runs; this file adds what only the server has:
//
// - htu is compared with the issuer's configured public URL of the endpoint, never one rebuilt from the Host
//   header (a proxy or a client chooses that);
// - replay: each proof's jti (with its key) is remembered in the database's rate_limits table, one atomic upsert
//   shared by every process and instance, until the proof would be refused as too old anyway. Of two identical
//   proofs sent at once, on SQLite or PostgreSQL, exactly one gets count 1 (docs/security.md I-04, R3);
// - server nonces (§8), stateless: an HMAC of a five-minute time slot under a key derived from the server
//   secret, so that any instance can check a nonce any other issued, with nothing stored.
//
// Nonces are required by default (GATEHOUSE_DPOP_NONCE). Without them a proof is bounded only by its iat, which
// the client sets: whoever runs code in the client for a moment (an XSS, a malicious extension) can sign proofs
// dated in the future with a non-extractable key and use them after being cut off. With a nonce, a proof can
// only be made after the server issued the nonce. The cost is one extra round trip when a client has no fresh
// nonce: each token response carries the current one, and a nonce is accepted for 10 to 15 minutes, so a client
// that refreshes every access token lifetime (10 minutes by default) usually holds a fresh one.
import { createHmac, type KeyObject } from 'node:crypto';
import { BearerError, type DpopReplayCache, htuOf, verifyDpopProof } from '@gatehouse/resource';
import { OAuthError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import { constantTimeEqual, sha256 } from '../util/hash.ts';

export { DPOP_ALGORITHMS } from '@gatehouse/resource';

/** A proof is accepted this long after its iat (RFC 9449 §11.1: short, and its jti remembered as long). */
export const PROOF_MAX_AGE_SECONDS = 300;
/** Nonces change every slot; one is accepted during its own slot and the two after it. */
const NONCE_SLOT_MS = 5 * 60_000;
const NONCE_SLOTS_ACCEPTED = 3;

export interface DpopContext {
  storage: Storage;
  /** Keys the nonce HMAC: the server-secret-derived rotation key, under a label of its own. */
  nonceKey: KeyObject;
  requireNonce: boolean;
  now: number;
}

function nonceForSlot(key: KeyObject, slot: number): string {
  // "dpop-nonce:" keeps these MACs apart from every other use of the key (refresh successors use another label).
  const mac = createHmac('sha256', key).update(`dpop-nonce:${slot}`).digest('base64url').slice(0, 22);
  return `${slot.toString(36)}.${mac}`;
}

/** The nonce a client should use from now on (the DPoP-Nonce header of every answer to a DPoP request). */
export function currentNonce(key: KeyObject, now: number): string {
  return nonceForSlot(key, Math.floor(now / NONCE_SLOT_MS));
}

export function isValidNonce(key: KeyObject, nonce: string, now: number): boolean {
  const dot = nonce.indexOf('.');
  if (dot < 1 || dot > 12) return false;
  const slot = Number.parseInt(nonce.slice(0, dot), 36);
  const current = Math.floor(now / NONCE_SLOT_MS);
  if (!Number.isSafeInteger(slot) || slot > current || slot <= current - NONCE_SLOTS_ACCEPTED) return false;
  return constantTimeEqual(nonce, nonceForSlot(key, slot));
}

function proofError(description: string, nonce: string | undefined): OAuthError {
  return new OAuthError('invalid_dpop_proof', description, {
    headers: nonce === undefined ? undefined : { 'dpop-nonce': nonce },
  });
}

/**
 * Remembers a proof's key and jti until `until`; false when they were seen before (a replay), by any process on
 * this database.
 */
async function firstUse(storage: Storage, key: string, now: number, until: number) {
  // Through storage.transaction: on SQLite the write then shares its COMMIT (its fsync) with concurrent
  // requests' (group commit) instead of paying one of its own.
  const hit = await storage.transaction((tx) =>
    tx.rateLimits.hit(`dpop:${sha256(key)}`, now, Math.max(1, until - now)),
  );
  return hit.count === 1;
}

/**
 * The DPoP proof of a request to one of the server's endpoints (`url`: its public URL under the issuer). Returns
 * the key thumbprint, or undefined when the request has no DPoP header; throws `invalid_dpop_proof` or
 * `use_dpop_nonce` (with a DPoP-Nonce header) per RFC 9449 §5 and §8.
 */
export async function checkEndpointProof(
  context: DpopContext,
  header: string | string[] | undefined,
  method: string,
  url: string,
): Promise<{ jkt: string; nonce: string | undefined } | undefined> {
  if (header === undefined) return undefined;
  const nonce = context.requireNonce ? currentNonce(context.nonceKey, context.now) : undefined;
  let proof: Awaited<ReturnType<typeof verifyDpopProof>>;
  try {
    proof = await verifyDpopProof({
      header,
      method,
      url,
      now: context.now,
      maxAgeSeconds: PROOF_MAX_AGE_SECONDS,
    });
  } catch (error) {
    if (error instanceof BearerError) throw proofError(error.description ?? 'Invalid DPoP proof', nonce);
    throw error;
  }
  if (
    nonce !== undefined &&
    (proof.nonce === undefined || !isValidNonce(context.nonceKey, proof.nonce, context.now))
  ) {
    throw new OAuthError(
      'use_dpop_nonce',
      proof.nonce === undefined
        ? 'Use the DPoP-Nonce in the proof'
        : 'The DPoP nonce expired: use the new one',
      { headers: { 'dpop-nonce': nonce } },
    );
  }
  // Remembered last: a proof the checks above refuse costs no write, and garbage never reaches the database.
  if (
    !(await firstUse(
      context.storage,
      `${proof.jkt}:${proof.jti}`,
      context.now,
      proof.acceptableUntil + 60_000,
    ))
  ) {
    throw proofError('The DPoP proof was used before', nonce);
  }
  return { jkt: proof.jkt, nonce };
}

/** The database as the resource library's replay cache (Gatehouse's own userinfo and other protected endpoints). */
export function databaseReplayCache(storage: Storage, now: () => number): DpopReplayCache {
  return {
    remember: (key, expiresAt) => firstUse(storage, key, now(), expiresAt),
  };
}

/** The public URL of one of the server's endpoints, as a proof's htu must name it. */
export function endpointUrl(issuer: string, path: string): string {
  return htuOf(`${issuer}${path}`) ?? `${issuer}${path}`;
}

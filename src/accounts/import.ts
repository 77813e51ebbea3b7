// Importing users from another system with their password hashes (docs/import.md has the format and the rules).
// One JSON object per line; lines are read as a stream and written in batches, one transaction each, so a
// million users never sit in memory and a bad line costs only itself. The `external_id` becomes the user's id,
// so the OpenID Connect `sub` that third-party apps already store keeps its value.

import { recordSecurityEvent } from '../oauth/security-events.ts';
import type { AddressClaim, Storage, User } from '../storage/storage.ts';
import { hasControlCharacter } from '../util/control-characters.ts';
import { randomId } from '../util/random.ts';
import { isGatehouseHash, NO_PASSWORD_HASH, passwordHashProblem } from './password.ts';
import { parseContact, UserInputError } from './users.ts';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
/** Printable ASCII without space: what a `sub` can carry in every client without escaping surprises. */
const EXTERNAL_ID = /^[\x21-\x7e]{1,255}$/;
const FIELDS = new Set([
  'external_id',
  'email',
  'name',
  'email_verified',
  'disabled',
  'password_hash',
  'phone_number',
  'phone_number_verified',
  'address',
]);
/** A longer line is refused unread by JSON.parse: no real user record comes near it. */
export const MAX_LINE_LENGTH = 64 * 1024;
export const DEFAULT_BATCH_SIZE = 500;

/** One line, checked. An absent field (undefined) leaves an existing user's value as it is. */
export interface ImportedUser {
  lineNumber: number;
  id?: string;
  email: string;
  name?: string | null;
  emailVerified?: boolean;
  disabled?: boolean;
  /** A foreign or Gatehouse hash; NO_PASSWORD_HASH for `"password_hash": null`. */
  passwordHash?: string;
  /** OIDC Core §5.1 (the phone and address scopes). */
  phoneNumber?: string | null;
  phoneNumberVerified?: boolean;
  address?: AddressClaim | null;
}

export class ImportLineError extends Error {}

function optionalBoolean(record: Record<string, unknown>, field: string): boolean | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ImportLineError(`${field} must be true or false`);
  return value;
}

/** Parses and checks one line of the import file; ImportLineError says what is wrong with it. */
export function parseImportLine(text: string, lineNumber: number): ImportedUser {
  if (text.length > MAX_LINE_LENGTH)
    throw new ImportLineError(`the line is longer than ${MAX_LINE_LENGTH} characters`);
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    throw new ImportLineError('not valid JSON');
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new ImportLineError('not a JSON object');
  }
  const fields = record as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (!FIELDS.has(field)) throw new ImportLineError(`unknown field "${field.slice(0, 40)}"`);
  }

  const user: ImportedUser = { lineNumber, email: '' };
  const externalId = fields.external_id;
  if (externalId !== undefined && externalId !== null) {
    const id = Number.isSafeInteger(externalId) ? String(externalId) : externalId;
    if (typeof id !== 'string' || !EXTERNAL_ID.test(id)) {
      throw new ImportLineError(
        'external_id must be 1–255 printable ASCII characters without spaces (or an integer)',
      );
    }
    user.id = id;
  }

  const email = fields.email;
  if (typeof email !== 'string') throw new ImportLineError('email is missing');
  user.email = email.trim().toLowerCase();
  if (!EMAIL.test(user.email) || hasControlCharacter(user.email))
    throw new ImportLineError('email is not a valid address');

  if (fields.name !== undefined) {
    const name = fields.name;
    if (name !== null && typeof name !== 'string') throw new ImportLineError('name must be a string or null');
    if (name !== null && (name.length > 200 || hasControlCharacter(name))) {
      throw new ImportLineError('name must be at most 200 characters, without control characters');
    }
    user.name = name?.trim() || null;
  }
  user.emailVerified = optionalBoolean(fields, 'email_verified');
  user.disabled = optionalBoolean(fields, 'disabled');
  try {
    Object.assign(user, parseContact(fields));
  } catch (error) {
    if (error instanceof UserInputError) throw new ImportLineError(error.message);
    throw error;
  }

  if (fields.password_hash === null) user.passwordHash = NO_PASSWORD_HASH;
  else if (fields.password_hash !== undefined) {
    const hash = fields.password_hash;
    if (typeof hash !== 'string' || hash.length > 1024)
      throw new ImportLineError('password_hash must be a string');
    const problem = passwordHashProblem(hash);
    if (problem) throw new ImportLineError(`password_hash: ${problem}`);
    user.passwordHash = hash;
  }
  return user;
}

export type LineOutcome = 'created' | 'updated' | 'unchanged';

export interface ImportSummary {
  /** Lines read, blank ones included. */
  lines: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface ImportOptions {
  now: () => number;
  /** Check every line against the database, write nothing. */
  dryRun?: boolean;
  batchSize?: number;
  onLineError: (lineNumber: number, message: string) => void;
  /** After each batch, with the totals so far. */
  onProgress?: (summary: ImportSummary) => void;
}

/** A change in a batch that a concurrent writer got to first: the batch is retried line by line. */
class ConcurrentChange extends Error {}

interface Pending {
  user: User;
  /** The row as the batch read it; undefined for a user this batch creates. */
  seen: User | undefined;
}

/**
 * The matching rule, line by line in file order: a line with an external_id is that user (created if new);
 * a line without one is the user with its email (created, with a new id, if none has it). A line whose email
 * belongs to another user is an error, never a merge. Returns each line's outcome or error message, and the
 * users to write.
 */
function resolve(batch: readonly ImportedUser[], existing: readonly User[], now: number) {
  const byId = new Map<string, Pending>(existing.map((user) => [user.id, { user, seen: user }]));
  const idByEmail = new Map(existing.map((user) => [user.email, user.id]));
  const outcomes: (LineOutcome | string)[] = [];
  for (const line of batch) {
    const holder = idByEmail.get(line.email);
    const id = line.id ?? holder;
    const pending = id === undefined ? undefined : byId.get(id);
    if (holder !== undefined && holder !== id) {
      outcomes.push(
        pending
          ? `email ${line.email} belongs to another user (id ${holder})`
          : `a user with email ${line.email} already has id ${holder}; an id never changes (give that external_id, or none to match on email)`,
      );
      continue;
    }
    if (!pending) {
      const user: User = {
        id: line.id ?? randomId(),
        email: line.email,
        name: line.name ?? null,
        passwordHash: line.passwordHash ?? NO_PASSWORD_HASH,
        isAdmin: false,
        emailVerified: line.emailVerified ?? false,
        createdAt: now,
        updatedAt: now,
        disabledAt: line.disabled ? now : null,
        claims: null,
        phoneNumber: line.phoneNumber ?? null,
        phoneNumberVerified: line.phoneNumberVerified ?? false,
        address: line.address ?? null,
      };
      byId.set(user.id, { user, seen: undefined });
      idByEmail.set(user.email, user.id);
      outcomes.push('created');
      continue;
    }
    const current = pending.user;
    const next: User = {
      ...current,
      email: line.email,
      name: line.name === undefined ? current.name : line.name,
      emailVerified: line.emailVerified ?? current.emailVerified,
      phoneNumber: line.phoneNumber === undefined ? current.phoneNumber : line.phoneNumber,
      phoneNumberVerified: line.phoneNumberVerified ?? current.phoneNumberVerified,
      address: line.address === undefined ? current.address : line.address,
      disabledAt:
        line.disabled === undefined ? current.disabledAt : line.disabled ? (current.disabledAt ?? now) : null,
      // A hash in Gatehouse's own format was set here (a sign-in's rehash, a reset): newer than any import.
      passwordHash:
        line.passwordHash === undefined || isGatehouseHash(current.passwordHash)
          ? current.passwordHash
          : line.passwordHash,
    };
    if (
      next.email === current.email &&
      next.name === current.name &&
      next.emailVerified === current.emailVerified &&
      next.phoneNumber === current.phoneNumber &&
      next.phoneNumberVerified === current.phoneNumberVerified &&
      JSON.stringify(next.address) === JSON.stringify(current.address) &&
      next.disabledAt === current.disabledAt &&
      next.passwordHash === current.passwordHash
    ) {
      outcomes.push('unchanged');
      continue;
    }
    idByEmail.delete(current.email);
    idByEmail.set(next.email, next.id);
    pending.user = { ...next, updatedAt: now };
    outcomes.push('updated');
  }
  return { outcomes, pending: [...byId.values()] };
}

async function writeBatch(storage: Storage, pending: readonly Pending[]): Promise<void> {
  await storage.transaction(async (tx) => {
    // Updates first, in file order: an email one of them gives up may be taken by a user created below.
    for (const { user, seen } of pending) {
      if (!seen || user === seen) continue;
      if (!(await tx.users.replaceUnlessChanged(user, seen))) throw new ConcurrentChange();
      // As the admin console's Disable: the user's sessions end with it (their tokens stop at their next check).
      if (user.disabledAt !== null && seen.disabledAt === null) await tx.sessions.deleteForUser(user.id);
    }
    await tx.users.createMany(pending.filter((entry) => !entry.seen).map((entry) => entry.user));
  });
}

async function applyBatch(
  storage: Storage,
  batch: readonly ImportedUser[],
  now: number,
  dryRun: boolean,
): Promise<(LineOutcome | string)[]> {
  const existing = await storage.users.findByIdsOrEmails(
    batch.flatMap((line) => (line.id === undefined ? [] : [line.id])),
    batch.map((line) => line.email),
  );
  const { outcomes, pending } = resolve(batch, existing, now);
  if (!dryRun) await writeBatch(storage, pending);
  return outcomes;
}

async function importBatch(
  storage: Storage,
  batch: readonly ImportedUser[],
  options: ImportOptions,
  summary: ImportSummary,
): Promise<void> {
  const dryRun = options.dryRun ?? false;
  let outcomes: (LineOutcome | string)[];
  try {
    outcomes = await applyBatch(storage, batch, options.now(), dryRun);
  } catch (error) {
    // Someone else wrote one of these users (or took an email) meanwhile: redo the batch one line at a time, so
    // only the lines that really collide fail. An outage is not retried: the import stops with it.
    if (!isConflict(error)) throw error;
    outcomes = [];
    for (const line of batch) {
      try {
        outcomes.push(...(await applyBatch(storage, [line], options.now(), dryRun)));
      } catch (lineError) {
        if (!isConflict(lineError)) throw lineError;
        outcomes.push(
          'changed by someone else during the import (a sign-in, a reset or a new user): run it again',
        );
      }
    }
  }
  outcomes.forEach((outcome, i) => {
    if (outcome === 'created' || outcome === 'updated' || outcome === 'unchanged') summary[outcome] += 1;
    else {
      summary.failed += 1;
      options.onLineError(batch[i]!.lineNumber, outcome);
    }
  });
}

function isConflict(error: unknown): boolean {
  if (error instanceof ConcurrentChange) return true;
  // A unique constraint: SQLite's SQLITE_CONSTRAINT_PRIMARYKEY / _UNIQUE, PostgreSQL's 23505.
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  return code === '23505' || errcode === 1555 || errcode === 2067;
}

/**
 * Imports the users in `lines` (one JSON object each; blank lines are skipped) in batches of `batchSize`, one
 * transaction per batch. Bad lines are reported through onLineError and skipped; the rest is imported. Records
 * one `users_imported` security event at the end (not for a dry run). Throws only for a storage failure, after
 * recording what was already written.
 */
export async function importUsers(
  storage: Storage,
  lines: AsyncIterable<string>,
  options: ImportOptions,
): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const summary: ImportSummary = { lines: 0, created: 0, updated: 0, unchanged: 0, failed: 0 };
  let batch: ImportedUser[] = [];
  const flush = async () => {
    if (batch.length > 0) await importBatch(storage, batch, options, summary);
    batch = [];
    options.onProgress?.({ ...summary });
  };
  const recordEvent = () =>
    recordSecurityEvent(storage, options.now(), 'users_imported', {
      actor: { kind: 'cli' },
      detail: {
        created: summary.created,
        updated: summary.updated,
        unchanged: summary.unchanged,
        failed: summary.failed,
      },
    });
  try {
    for await (const text of lines) {
      summary.lines += 1;
      const lineNumber = summary.lines;
      const trimmed = (lineNumber === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
      if (trimmed === '') continue;
      try {
        batch.push(parseImportLine(trimmed, lineNumber));
      } catch (error) {
        if (!(error instanceof ImportLineError)) throw error;
        summary.failed += 1;
        options.onLineError(lineNumber, error.message);
      }
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } catch (error) {
    // What was written before the failure is on record, if the database still takes a write.
    if (!options.dryRun && summary.created + summary.updated > 0) await recordEvent().catch(() => undefined);
    throw error;
  }
  if (!options.dryRun) await recordEvent();
  return summary;
}

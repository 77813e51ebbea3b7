// The server secret encrypts private signing keys at rest. GATEHOUSE_SECRET wins; otherwise one is generated
// once into the data folder, readable by the owner only, and reused on every start.
//
// What else it keys (each through its own HKDF label): the sealed cookies of an upstream sign-in in progress and
// of the playground (util/seal.ts), and the derivation of a refresh token's successor, used only to answer a
// replay inside the grace period (oauth/refresh-rotation.ts). Stored tokens, codes, sessions, client secrets,
// API and admin keys are hashes and passwords scrypt: none of them depends on it (docs/operations.md, "Recovery").
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { randomToken } from './util/random.ts';

/** Where the generated secret lives when GATEHOUSE_SECRET is not set. */
export function secretFile(config: Config): string {
  return path.join(config.dataDir, 'secret');
}

/**
 * The server secret. `generate: false` (commands other than start and keys reset) returns undefined rather than
 * make one: a secret made by a command run in another folder, or without the server's GATEHOUSE_SECRET, would
 * encrypt keys that the server can never read.
 */
export function resolveSecret(config: Config): { secret: string; generatedAt?: string };
export function resolveSecret(
  config: Config,
  options: { generate: false },
): { secret: string; generatedAt?: string } | undefined;
export function resolveSecret(
  config: Config,
  options: { generate?: boolean } = {},
): { secret: string; generatedAt?: string } | undefined {
  if (config.secret) return { secret: config.secret };
  const file = secretFile(config);
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { secret: readFileSync(file, 'utf8').trim() };
  }
  if (options.generate === false) return undefined;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = randomToken(32);
  // flag "wx": never overwrite a secret another process wrote a moment ago.
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    return { secret: readFileSync(file, 'utf8').trim() };
  }
  return { secret, generatedAt: file };
}

/** Where this process's secret came from, for messages. */
export function secretSource(config: Config): string {
  return config.secret ? 'GATEHOUSE_SECRET' : secretFile(config);
}

/** One line for an operator whose secret does not open the stored signing keys: what happened, what to do. */
export function secretMismatchMessage(config: Config, generatedNow: boolean): string {
  const what = generatedNow
    ? `There was no server secret (GATEHOUSE_SECRET unset, no ${secretFile(config)}), so a new one was generated, but the signing keys in the database were encrypted with another`
    : `The server secret (${secretSource(config)}) is not the one the signing keys in the database were encrypted with`;
  return `${what}. Set GATEHOUSE_SECRET (or ${secretFile(config)}) back to the original secret, or, if it is lost, run "gatehouse keys reset" to replace the signing keys (tokens they signed stop verifying; see docs/operations.md).`;
}

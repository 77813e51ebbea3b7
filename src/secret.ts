// The server secret encrypts private signing keys at rest. GATEHOUSE_SECRET wins; otherwise one is generated
// once into the data folder, readable by the owner only, and reused on every start.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { randomToken } from './util/random.ts';

export function resolveSecret(config: Config): { secret: string; generatedAt?: string } {
  if (config.secret) return { secret: config.secret };
  const file = path.join(config.dataDir, 'secret');
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { secret: readFileSync(file, 'utf8').trim() };
  }
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

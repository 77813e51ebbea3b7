// Sealing a small JSON value for a cookie: AES-256-GCM under a key derived from the server secret, so the
// browser can carry it but neither read nor alter it.
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

// A KeyObject, not a Buffer: node:crypto finds out that a Buffer is not a KeyObject by catching an exception,
// which captures a stack trace (about 12 µs under a request's stack).
export function sealKeyFrom(secret: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'cookie-seal/v1', 32)));
}

export function seal(value: unknown, key: KeyObject, purpose: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return [iv, body, cipher.getAuthTag()].map((part) => part.toString('base64url')).join('.');
}

/** The sealed value, or undefined when it was tampered with, sealed for another purpose, or is garbage. */
export function unseal<T>(sealed: string | undefined, key: KeyObject, purpose: string): T | undefined {
  if (!sealed) return undefined;
  const [iv, body, tag] = sealed.split('.');
  if (!iv || !body || !tag) return undefined;
  try {
    // A full 16-byte tag only: Node would otherwise accept truncated tags, which are far easier to forge.
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: 16,
    });
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

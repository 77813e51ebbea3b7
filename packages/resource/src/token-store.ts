// Which token each request was verified with, for the adapters' tokenOf(). A WeakMap keyed by the framework's own
// request object: nothing is added to objects the framework owns, and an entry goes when its request does.
import type { VerifiedToken } from './verify.ts';

const verified = new WeakMap<object, VerifiedToken>();

export function rememberToken(request: object, token: VerifiedToken): void {
  verified.set(request, token);
}

/** The token a request was verified with by one of the adapters; undefined before (or without) a check. */
export function tokenOf(request: object): VerifiedToken | undefined {
  return verified.get(request);
}

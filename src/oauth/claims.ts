// OIDC Core §5.4: which user claims each scope releases, for the ID token and UserInfo alike.
import type { User } from '../storage/storage.ts';
import { epochSeconds } from '../util/clock.ts';

export const SUPPORTED_CLAIMS = ['sub', 'name', 'email', 'email_verified', 'updated_at'] as const;

export function userClaims(user: User, scopes: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  if (scopes.includes('profile')) {
    if (user.name) claims.name = user.name;
    claims.updated_at = epochSeconds(user.updatedAt);
  }
  if (scopes.includes('email')) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified;
  }
  return claims;
}

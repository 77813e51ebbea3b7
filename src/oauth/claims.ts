// OIDC Core §5.4: which user claims each scope releases, for the ID token and UserInfo alike.
import type { User } from '../storage/storage.ts';
import { epochSeconds } from '../util/clock.ts';

export const SUPPORTED_CLAIMS = [
  'sub',
  'name',
  'email',
  'email_verified',
  'updated_at',
  'phone_number',
  'phone_number_verified',
  'address',
] as const;

/**
 * OIDC Core §5.4: the standard claims each scope releases. A subject the company's login app signed in carries
 * the claims that app gave (accepted only from this table, see interaction/external.ts), released by the same
 * rule: a client granted `email` and not `profile` sees the email and not the name.
 */
export const CLAIMS_BY_SCOPE: Readonly<Record<string, readonly string[]>> = {
  profile: [
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

export function userClaims(user: User, scopes: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  if (user.claims !== null) {
    for (const scope of scopes) {
      for (const name of CLAIMS_BY_SCOPE[scope] ?? []) {
        if (user.claims[name] !== undefined) claims[name] = user.claims[name];
      }
    }
    return claims;
  }
  if (scopes.includes('profile')) {
    if (user.name) claims.name = user.name;
    claims.updated_at = epochSeconds(user.updatedAt);
  }
  if (scopes.includes('email')) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified;
  }
  // §5.4: only when the profile has them (an absent claim, not an empty one).
  if (scopes.includes('phone') && user.phoneNumber) {
    claims.phone_number = user.phoneNumber;
    claims.phone_number_verified = user.phoneNumberVerified ?? false;
  }
  if (scopes.includes('address') && user.address) claims.address = user.address;
  return claims;
}

// OIDC Core §3.1.2.1: when the user must sign in again, and when they must be asked for consent.
import type { AuthorizationRequest, Client, Consent, Session } from '../storage/storage.ts';

export function loginRequired(
  request: AuthorizationRequest,
  session: Session | undefined,
  now: number,
): boolean {
  if (!session) return true;
  if (request.prompt.includes('login')) return true;
  // max_age=0 means "sign in again now" (OIDC Core §3.1.2.1; openid/connect issue 993).
  if (request.maxAge !== null && (request.maxAge === 0 || now - session.authTime > request.maxAge * 1000)) {
    return true;
  }
  return false;
}

export function consentRequired(
  request: AuthorizationRequest,
  client: Client,
  remembered: Consent | undefined,
  requestedScopes: readonly string[],
): boolean {
  if (request.prompt.includes('consent')) return true;
  // RFC 8252 §8.6, OAuth 2.1 "Impersonation of Native Apps": a public client's identity cannot be assured,
  // so it never rides on remembered consent (CVE-2023-34246).
  if (client.tokenEndpointAuthMethod === 'none') return true;
  if (!remembered) return true;
  const granted = new Set(remembered.scope.split(' '));
  return !requestedScopes.every((scope) => granted.has(scope));
}

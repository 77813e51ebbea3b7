// The only place a grant is registered. ROPC and implicit are absent by design (RFC 9700 §2.4, OAuth 2.1).
import { authorizationCode } from './authorization-code.ts';
import type { GrantHandler } from './types.ts';

export const GRANTS: ReadonlyMap<string, GrantHandler> = new Map([
  [authorizationCode.grantType, authorizationCode],
]);

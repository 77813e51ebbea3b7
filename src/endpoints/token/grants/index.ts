// The only place a grant is registered. ROPC and implicit are absent by design (RFC 9700 §2.4, OAuth 2.1).
import { authorizationCode } from './authorization-code.ts';
import { clientCredentials } from './client-credentials.ts';
import { deviceCode } from './device-code.ts';
import { refreshToken } from './refresh-token.ts';
import type { GrantHandler } from './types.ts';

export const GRANTS: ReadonlyMap<string, GrantHandler> = new Map<string, GrantHandler>(
  [authorizationCode, refreshToken, clientCredentials, deviceCode].map((grant) => [grant.grantType, grant]),
);

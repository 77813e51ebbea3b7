import type { Deps } from '../../../deps.ts';
import type { FormParams } from '../../../http/form-body.ts';
import type { Client } from '../../../storage/storage.ts';

/** RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the access token is bound to the request's DPoP key (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

/** What the token endpoint knows about the request beyond its parameters. */
export interface GrantRequestInfo {
  /** The request named no grant_type and the legacy switch implied authorization_code (Dialpad). */
  impliedGrantType: boolean;
  /** The client's address (after GATEHOUSE_TRUST_PROXY), for the security events a grant records. */
  ip: string;
  /** The thumbprint of the key the request's DPoP proof was signed with (checked); undefined without a proof. */
  dpopJkt: string | undefined;
}

export interface GrantHandler {
  grantType: string;
  /** The only request parameters this grant sees; everything else is dropped before handle(). */
  parameters: readonly string[];
  handle(deps: Deps, client: Client, params: FormParams, request: GrantRequestInfo): Promise<TokenResponse>;
}

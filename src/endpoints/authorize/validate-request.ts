// RFC 6749 §4.1.1 and §4.1.2.1, OAuth 2.1 "Authorization Request", OIDC Core §3.1.2.1, RFC 7636 §4.3.
// Errors found before client_id and redirect_uri are verified are shown on a page and never redirected
// (no open redirector, RFC 9700 §4.11.2); every later error is redirected to the client with state and iss.

import type { ResourceConfig } from '../../config.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { parseClaimsRequest } from '../../oauth/claims-request.ts';
import { isValidS256Challenge } from '../../oauth/pkce.ts';
import { findRedirectUri } from '../../oauth/redirect-uri.ts';
import { resolveResource } from '../../oauth/resource.ts';
import { parseScope, requestedScopes } from '../../oauth/scope.ts';
import type { AuthorizationRequest, ClaimsRequest, Client, Storage } from '../../storage/storage.ts';
import { hasControlCharacter } from '../../util/control-characters.ts';

/** An error that must be shown to the user, never sent to the (unverified) redirect URI. */
export class PageError extends Error {
  readonly oauthError: OAuthError;
  constructor(error: OAuthError) {
    super(error.message);
    this.oauthError = error;
  }
}

/** An error to send back to the client's verified redirect URI. */
export class RedirectError extends Error {
  readonly oauthError: OAuthError;
  readonly target: Pick<AuthorizationRequest, 'redirectUri' | 'state'>;
  readonly client: Client;
  constructor(
    error: OAuthError,
    target: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
    client: Client,
  ) {
    super(error.message);
    this.oauthError = error;
    this.target = target;
    this.client = client;
  }
}

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const MAX_STATE = 4096;
const MAX_NONCE = 1024;
const MAX_HINT = 512;
/** An RFC 7638 thumbprint with SHA-256: 32 bytes, base64url without padding. */
const DPOP_JKT = /^[A-Za-z0-9_-]{43}$/;

export interface AuthorizeContext {
  storage: Storage;
  issuer: string;
  resources: readonly ResourceConfig[];
  defaultScopes?: readonly string[];
  pkcePolicy?: 'required' | 'optional-for-confidential';
  impliedResponseType?: boolean;
  /**
   * Finds the client a client_id names (default: storage). The deployment's also fetches Client ID Metadata
   * Documents (oauth/client-id-metadata.ts), and throws OAuthError when one is refused.
   */
  findClient?: (clientId: string) => Promise<Client | undefined>;
}

/**
 * The deployment's AuthorizeContext: the same rules at /authorize and at the PAR endpoint (RFC 9126 §2.1).
 * `ip` is the requester's address: a client first seen by its metadata document counts as a registration.
 */
export function authorizeContext(deps: Deps, ip?: string): AuthorizeContext {
  return {
    findClient: (clientId) => deps.clients.find(clientId, { ip }),
    storage: deps.storage,
    issuer: deps.config.issuer,
    resources: deps.config.resources,
    defaultScopes: deps.config.scopes.filter((scope) => scope.isDefault).map((scope) => scope.name),
    pkcePolicy: deps.config.pkcePolicy,
    impliedResponseType: deps.config.legacy.impliedResponseType,
  };
}

export async function validateAuthorizationRequest(
  query: URLSearchParams,
  {
    storage,
    issuer,
    resources,
    defaultScopes = [],
    pkcePolicy = 'required',
    impliedResponseType = false,
    findClient = (clientId) => storage.clients.find(clientId),
  }: AuthorizeContext,
): Promise<{ client: Client; request: AuthorizationRequest }> {
  const single = (name: string): string | undefined => {
    const values = query.getAll(name);
    return values.length === 1 ? values[0] : undefined;
  };
  const repeated = (name: string) => query.getAll(name).length > 1;
  // Checked before anything is looked up: the client is not known yet, so the answer is the page.
  for (const [name, value] of query) {
    if (hasControlCharacter(name) || hasControlCharacter(value)) {
      throw new PageError(new OAuthError('invalid_request', 'The request contains a control character'));
    }
  }

  if (repeated('client_id')) throw new PageError(new OAuthError('invalid_request', 'client_id is repeated'));
  const clientId = single('client_id');
  if (!clientId) throw new PageError(new OAuthError('invalid_request', 'The request has no client_id'));
  let client: Client | undefined;
  try {
    client = await findClient(clientId);
  } catch (error) {
    // A metadata document that could not be fetched or was refused: shown on a page (nothing is verified yet),
    // with what was wrong, and the status the error carries (429 past the registration rate limit).
    if (!(error instanceof OAuthError) || error.code === 'temporarily_unavailable') throw error;
    throw new PageError(
      new OAuthError('invalid_request', `The application could not be identified: ${error.description}`),
    );
  }
  if (!client || client.disabledAt !== null) {
    throw new PageError(new OAuthError('invalid_request', 'The application is not registered here'));
  }
  if (client.status === 'pending') {
    throw new PageError(
      new OAuthError('unauthorized_client', 'This application is waiting for approval by an administrator'),
    );
  }

  if (repeated('redirect_uri'))
    throw new PageError(new OAuthError('invalid_request', 'redirect_uri is repeated'));
  const requestedRedirect = single('redirect_uri');
  let redirectUri: string;
  if (requestedRedirect === undefined) {
    // OAuth 2.1 "Multiple Redirect URIs": with several registered, never guess.
    if (client.redirectUris.length !== 1 || !client.redirectUris[0]) {
      throw new PageError(new OAuthError('invalid_request', 'The request has no redirect_uri'));
    }
    redirectUri = client.redirectUris[0];
  } else {
    if (!findRedirectUri(client.redirectUris, requestedRedirect, client.applicationType === 'native')) {
      throw new PageError(
        new OAuthError('invalid_request', 'The redirect_uri is not registered for this application'),
      );
    }
    redirectUri = requestedRedirect;
  }

  // From here on the redirect URI is verified. A repeated state cannot be echoed, so the error goes without it.
  const state = repeated('state') ? null : (single('state') ?? null);
  const fail = (code: ConstructorParameters<typeof OAuthError>[0], description: string): never => {
    throw new RedirectError(new OAuthError(code, description), { redirectUri, state }, client);
  };
  for (const name of new Set(query.keys())) {
    if (name !== 'resource' && repeated(name))
      fail('invalid_request', `Parameter "${name.slice(0, 40)}" is repeated`);
  }
  if (state !== null && state.length > MAX_STATE) fail('invalid_request', 'state is too long');

  const responseType = single('response_type') ?? (impliedResponseType ? 'code' : undefined);
  if (!responseType) fail('invalid_request', 'The request has no response_type');
  if (responseType !== 'code') fail('unsupported_response_type', 'Only response_type=code is supported');
  const responseMode = single('response_mode');
  if (responseMode !== undefined && responseMode !== 'query') {
    fail('invalid_request', 'Only response_mode=query is supported');
  }
  if (query.has('request')) fail('request_not_supported', 'Request objects are not supported');
  if (query.has('request_uri')) fail('request_uri_not_supported', 'request_uri is not supported');

  let scopes: string[] = [];
  try {
    scopes = requestedScopes(single('scope'), client.scope, defaultScopes);
  } catch (error) {
    if (error instanceof OAuthError) throw new RedirectError(error, { redirectUri, state }, client);
    throw error;
  }

  const challenge = single('code_challenge');
  const method = single('code_challenge_method');
  if (challenge === undefined) {
    if (method !== undefined) fail('invalid_request', 'code_challenge_method without code_challenge');
    // Public clients always; confidential ones unless the deployment (Credal) or the operator relaxed it.
    const relaxed = pkcePolicy === 'optional-for-confidential' || !client.requirePkce;
    if (client.tokenEndpointAuthMethod === 'none' || !relaxed) {
      fail('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
    }
  } else {
    // A challenge without a method means "plain" (RFC 7636 §4.3), which OAuth 2.1 forbids.
    if (method !== 'S256') fail('invalid_request', 'code_challenge_method must be S256');
    if (!isValidS256Challenge(challenge)) fail('invalid_request', 'code_challenge is malformed');
  }

  const prompt = parseScope(single('prompt'));
  if (!prompt.every((value) => PROMPTS.has(value))) fail('invalid_request', 'Unsupported prompt value');
  if (prompt.includes('none') && prompt.length > 1) fail('invalid_request', 'prompt=none cannot be combined');

  const maxAgeRaw = single('max_age');
  let maxAge: number | null = null;
  if (maxAgeRaw !== undefined) {
    if (!/^\d{1,9}$/.test(maxAgeRaw)) fail('invalid_request', 'max_age must be a non-negative integer');
    maxAge = Number(maxAgeRaw);
  }
  const nonce = single('nonce') ?? null;
  if (nonce !== null && nonce.length > MAX_NONCE) fail('invalid_request', 'nonce is too long');
  // Hints for the sign-in page (OIDC Core §3.1.2.1), kept as sent for the company's login app.
  const loginHint = single('login_hint') ?? null;
  if (loginHint !== null && loginHint.length > MAX_HINT) fail('invalid_request', 'login_hint is too long');
  const uiLocales = parseScope(single('ui_locales'));
  const acrValues = parseScope(single('acr_values'));
  if ((single('ui_locales')?.length ?? 0) > MAX_HINT || (single('acr_values')?.length ?? 0) > MAX_HINT) {
    fail('invalid_request', 'ui_locales or acr_values is too long');
  }

  // RFC 9449 §10: the code will be redeemable only with a DPoP proof by the key with this thumbprint.
  const dpopJkt = single('dpop_jkt');
  if (dpopJkt !== undefined && !DPOP_JKT.test(dpopJkt)) {
    fail('invalid_request', 'dpop_jkt must be a base64url SHA-256 JWK thumbprint');
  }
  let claims: ClaimsRequest | undefined;
  const claimsParameter = single('claims');
  if (claimsParameter !== undefined) {
    try {
      claims = parseClaimsRequest(claimsParameter);
    } catch (error) {
      if (error instanceof OAuthError) fail('invalid_request', error.description ?? 'Bad claims');
      throw error;
    }
  }

  let resource: string | null = null;
  try {
    resource = resolveResource(query.getAll('resource'), client, resources, issuer);
  } catch (error) {
    if (error instanceof OAuthError) throw new RedirectError(error, { redirectUri, state }, client);
    throw error;
  }

  return {
    client,
    request: {
      clientId: client.id,
      redirectUri,
      redirectUriProvided: requestedRedirect !== undefined,
      scope: scopes.join(' '),
      state,
      nonce,
      codeChallenge: challenge ?? null,
      resource,
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
      prompt,
      maxAge,
      loginHint,
      uiLocales,
      acrValues,
      ...(claims ? { claims } : {}),
    },
  };
}

// The in-process boundary between the protocol and the pages (Hydra's login/consent split). The authorization
// endpoint parks a validated request here; the login and consent pages report what the user did; advance()
// decides what happens next and, at the end, issues the code. Pages never mint codes.
import { OAuthError, safeDescription } from '../errors.ts';
import { requiredSubject } from '../oauth/claims-request.ts';
import { isUsable } from '../oauth/client-metadata.ts';
import { isOperatorApproved } from '../oauth/client-review.ts';
import { sessionSid } from '../oauth/id-token.ts';
import {
  mintOpaqueToken,
  mintTimeOrderedToken,
  TOKEN_PREFIX,
  timeOrderedTokenKey,
} from '../oauth/opaque-token.ts';
import { appendParams } from '../oauth/redirect-uri.ts';
import { parseScope } from '../oauth/scope.ts';
import type {
  AuthorizationRequest,
  Client,
  ExternalState,
  Interaction,
  Session,
  Storage,
  User,
} from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import { sha256 } from '../util/hash.ts';
import { randomToken, timeOrderedId } from '../util/random.ts';
import { consentRequired, loginRequired } from './policy.ts';

export interface FlowDeps {
  storage: Storage;
  clock: Clock;
  issuer: string;
  codeTtl: number;
  interactionTtl: number;
  /** Where a page sends the browser to continue the authorization request. */
  resumePath: string;
  /** The error code a denial is answered with: access_denied, or Readmill's legacy user_denied. */
  denialError: 'access_denied' | 'user_denied';
  /** Legacy (Dialpad): echo client_id, redirect_uri, response_type and scope on the success redirect. */
  echoAuthorizationParams: boolean;
  /**
   * GATEHOUSE_LOGIN_URL and GATEHOUSE_CONSENT_URL: the company's own sign-in and consent pages, which get a
   * one-time challenge and answer over the admin API (interaction/external.ts); undefined: Gatehouse's pages.
   */
  externalLoginUrl: string | undefined;
  externalConsentUrl: string | undefined;
}

export type Next =
  | { kind: 'login'; interactionId: string }
  | { kind: 'consent'; interactionId: string }
  | { kind: 'redirect'; location: string }
  /** To the company's sign-in or consent page, with the challenge. */
  | { kind: 'external'; location: string }
  /** An authorization error shown to the user on a page, never sent to the client (see authorizationError). */
  | { kind: 'error'; error: OAuthError }
  | { kind: 'expired' };

/**
 * Whether nobody answerable vouches for the client's redirect URIs. An operator (the CLI) does for the clients
 * they create, and an administrator does for the ones they approved (`reviewedAt`, set by the console's and the
 * CLI's approve). Any other client's redirect URIs are whatever a stranger sent over RFC 7591, or whatever an
 * account holder typed in the portal, live at once: self-registered.
 */
export function isSelfRegistered(client: Pick<Client, 'registeredVia' | 'reviewedAt'>): boolean {
  return !isOperatorApproved(client);
}

/**
 * THE way every authorization error that could go back to the client is answered (RFC 6749 §4.1.2.1): an error
 * redirect with state and iss, except that RFC 9700 §4.11.2 (docs/security.md A-09) makes the server authenticate
 * the user before it redirects to a redirect URI it does not trust. So an anonymous visitor (no session) is
 * never sent to a self-registered client's redirect URI, not even with an error: they get the error page. The
 * validation errors of /authorize and the flow's own (login_required, access_denied, consent_required …) all
 * come through here; errorRedirect is private to this file so that no other path can build one.
 */
export function authorizationError(
  deps: Pick<FlowDeps, 'issuer'>,
  client: Pick<Client, 'registeredVia' | 'reviewedAt'>,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
  error: OAuthError,
  session: Session | undefined,
): Next {
  if (session === undefined && isSelfRegistered(client)) return { kind: 'error', error };
  return { kind: 'redirect', location: errorRedirect(deps.issuer, request, error) };
}

/** The error redirect of RFC 6749 §4.1.2.1, with iss (RFC 9207). Only authorizationError calls it. */
function errorRedirect(
  issuer: string,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
  error: OAuthError,
): string {
  return appendParams(request.redirectUri, {
    error: error.code,
    error_description: error.description === undefined ? undefined : safeDescription(error.description),
    state: request.state,
    iss: issuer,
  });
}

/**
 * A new interaction for a validated request. It is stored only when it has to wait for a page (see advance):
 * a signed-in user whose consent is remembered goes straight back to the client, and that interaction never
 * needs a row (two writes, and two commits to wait for, fewer on the code flow's hot path).
 */
export function start(deps: FlowDeps, request: AuthorizationRequest, browserHash: string): Interaction {
  const now = deps.clock.now();
  return {
    id: randomToken(24),
    browserHash,
    clientId: request.clientId,
    request,
    loginUserId: null,
    loginAuthTime: null,
    consentedScope: null,
    denied: false,
    createdAt: now,
    expiresAt: now + deps.interactionTtl * 1000,
    challengeHash: null,
    external: null,
  };
}

/** Loads an interaction only for the browser that started it. */
export async function load(deps: FlowDeps, id: string | undefined, browserHash: string | undefined) {
  if (!id || !browserHash) return undefined;
  const interaction = await deps.storage.interactions.find(id, deps.clock.now());
  if (!interaction || interaction.browserHash !== browserHash) return undefined;
  return interaction;
}

/**
 * A flow the company's pages held until its interaction expired ends at the client: access_denied (the sign-in
 * was not completed in time; the client may start again), once, and only in the browser that started it. An
 * expired flow of Gatehouse's own pages, or one already purged, is the "expired" page as before.
 */
export async function endExpired(
  deps: FlowDeps,
  id: string | undefined,
  browserHash: string | undefined,
  session: Session | undefined,
): Promise<Next> {
  if (!id || !browserHash) return { kind: 'expired' };
  const interaction = await deps.storage.interactions.findIncludingExpired(id);
  if (
    !interaction ||
    interaction.browserHash !== browserHash ||
    interaction.external === null ||
    interaction.expiresAt > deps.clock.now()
  ) {
    return { kind: 'expired' };
  }
  const client = await deps.storage.clients.find(interaction.clientId);
  if (!isUsable(client)) return { kind: 'expired' };
  const error = new OAuthError('access_denied', 'The sign-in was not completed in time');
  return finishWith(
    deps,
    interaction,
    true,
    authorizationError(deps, client, interaction.request, error, session),
  );
}

/**
 * After the company's login app accepted with `remember`, the browser that comes back gets a Gatehouse session
 * for the subject (a fresh id: no fixation), so the next authorization can tell the login app to skip its form.
 */
export function sessionToRemember(
  interaction: Interaction,
  session: Session | undefined,
): { userId: string; authTime: number; ttlSeconds: number } | undefined {
  const login = interaction.external?.login;
  if (!login?.remember || interaction.loginUserId === null || interaction.loginAuthTime === null) return;
  if (
    session &&
    session.userId === interaction.loginUserId &&
    session.authTime >= interaction.loginAuthTime
  ) {
    return;
  }
  return {
    userId: interaction.loginUserId,
    authTime: interaction.loginAuthTime,
    ttlSeconds: login.rememberFor,
  };
}

export async function acceptLogin(
  deps: FlowDeps,
  interaction: Interaction,
  userId: string,
  authTime: number,
) {
  await deps.storage.interactions.update(interaction.id, { loginUserId: userId, loginAuthTime: authTime });
}

export async function acceptConsent(deps: FlowDeps, interaction: Interaction, user: User, client: Client) {
  const scope = interaction.request.scope;
  // Remember consent for confidential clients only; public clients are asked every time (policy.ts).
  if (client.tokenEndpointAuthMethod !== 'none') {
    await deps.storage.consents.grant(user.id, client.id, scope, deps.clock.now());
  }
  await deps.storage.interactions.update(interaction.id, { consentedScope: scope });
}

export async function reject(deps: FlowDeps, interaction: Interaction) {
  await deps.storage.interactions.update(interaction.id, { denied: true });
}

/** Who the session is and how they authenticated: what the code, and so the ID token, carries. */
function signedIn(session: Session) {
  return {
    userId: session.userId,
    authTime: session.authTime,
    amr: session.amr,
    acr: session.acr,
    sid: sessionSid(session.idHash),
  };
}

/**
 * The user the interaction acts for, if sign-in is satisfied. `externalLogin`: the company's login app is asked
 * on every authorization (it knows whether its user still exists), so a session alone never satisfies it.
 */
export function authenticatedUser(
  interaction: Interaction,
  session: Session | undefined,
  now: number,
  externalLogin = false,
) {
  if (interaction.loginUserId !== null) {
    // The company's login app accepted over the admin API; the browser that resumes is the one that started
    // the flow (load() checks the binding), so the accept is the proof, with or without a session.
    const external = interaction.external?.login;
    if (external && interaction.loginAuthTime !== null) {
      return {
        userId: interaction.loginUserId,
        authTime: interaction.loginAuthTime,
        amr: external.amr ?? undefined,
        acr: external.acr ?? undefined,
      };
    }
    // Signed in during this interaction; the session must still be that user's (no swap in another tab).
    if (session && session.userId === interaction.loginUserId) return signedIn(session);
    return undefined;
  }
  if (externalLogin) return undefined;
  if (loginRequired(interaction.request, session, now) || !session) return undefined;
  return signedIn(session);
}

async function finishWith(
  deps: FlowDeps,
  interaction: Interaction,
  stored: boolean,
  next: Next,
): Promise<Next> {
  // Atomic: one interaction gives at most one authorization response, even if resumed twice at once. One that
  // was never stored exists only in this request, so nobody else can resume it.
  if (stored && !(await deps.storage.interactions.finish(interaction.id))) return { kind: 'expired' };
  return next;
}

/** `stored`: false for a fresh interaction from start(), which is saved here only if a page must follow. */
export async function advance(
  deps: FlowDeps,
  interaction: Interaction,
  session: Session | undefined,
  stored = true,
): Promise<Next> {
  const { request } = interaction;
  const now = deps.clock.now();
  const client = await deps.storage.clients.find(interaction.clientId);
  if (!isUsable(client)) return { kind: 'expired' };
  const fail = (error: OAuthError) =>
    finishWith(deps, interaction, stored, authorizationError(deps, client, request, error, session));
  const waitFor = async (kind: 'login' | 'consent'): Promise<Next> => {
    if (!stored) await deps.storage.interactions.create(interaction);
    return { kind, interactionId: interaction.id };
  };
  // Hands the flow to the company's page with a fresh one-time challenge (only its SHA-256 is stored); a
  // challenge handed out before for this interaction stops working.
  const askCompany = async (
    stage: 'login' | 'consent',
    url: string,
    skip?: Session,
    signedIn?: { userId: string; authTime: number },
  ): Promise<Next> => {
    const challenge = mintOpaqueToken(TOKEN_PREFIX.interactionChallenge);
    const external: ExternalState = {
      stage,
      skipSubject: stage === 'login' ? (skip?.userId ?? null) : (interaction.external?.skipSubject ?? null),
      skipAuthTime:
        stage === 'login' ? (skip?.authTime ?? null) : (interaction.external?.skipAuthTime ?? null),
      login: interaction.external?.login ?? null,
      rejection: null,
    };
    // The consent app is told whom it asks for: the user Gatehouse's session or its login page signed in, when
    // the login was not the company's (only GATEHOUSE_CONSENT_URL set).
    const changes = {
      challengeHash: sha256(challenge),
      external,
      ...(signedIn && interaction.loginUserId === null
        ? { loginUserId: signedIn.userId, loginAuthTime: signedIn.authTime }
        : {}),
    };
    if (stored) await deps.storage.interactions.update(interaction.id, changes);
    else await deps.storage.interactions.create({ ...interaction, ...changes });
    const parameter = stage === 'login' ? 'login_challenge' : 'consent_challenge';
    return { kind: 'external', location: appendParams(url, { [parameter]: challenge }) };
  };

  if (interaction.denied) return fail(new OAuthError(deps.denialError, 'The user denied the request'));
  const rejection = interaction.external?.rejection;
  if (rejection) return fail(new OAuthError(rejection.error, rejection.description ?? undefined));

  const externalLogin = deps.externalLoginUrl !== undefined;
  const who = authenticatedUser(interaction, session, now, externalLogin);
  const user = who && (await deps.storage.users.findById(who.userId));
  if (!who || !user || user.disabledAt !== null) {
    if (deps.externalLoginUrl !== undefined) {
      const skip = await skippableSession(deps, request, session, now);
      // prompt=none: the login app must answer without a page, which it can only do for a known session.
      if (request.prompt.includes('none') && !skip) {
        return fail(new OAuthError('login_required', 'The user is not signed in'));
      }
      return askCompany('login', deps.externalLoginUrl, skip);
    }
    if (request.prompt.includes('none'))
      return fail(new OAuthError('login_required', 'The user is not signed in'));
    return waitFor('login');
  }

  // OIDC Core §5.5.1: a claims request naming a `sub` value wants a response for that subject or none.
  const wantedSubject = requiredSubject(request.claims);
  if (wantedSubject !== undefined && wantedSubject !== user.id) {
    return fail(
      new OAuthError('login_required', 'The signed-in user is not the subject the claims request names'),
    );
  }

  if (interaction.consentedScope === null) {
    const remembered = await deps.storage.consents.find(user.id, client.id);
    if (consentRequired(request, client, remembered, parseScope(request.scope))) {
      if (request.prompt.includes('none')) {
        return fail(new OAuthError('consent_required', 'The user has not granted access to this client'));
      }
      if (deps.externalConsentUrl !== undefined) {
        return askCompany('consent', deps.externalConsentUrl, undefined, who);
      }
      return waitFor('consent');
    }
  }

  const code = mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, now);
  const next = await finishWith(deps, interaction, stored, {
    kind: 'redirect',
    location: appendParams(request.redirectUri, {
      code,
      state: request.state,
      iss: deps.issuer,
      ...(deps.echoAuthorizationParams
        ? {
            client_id: client.id,
            redirect_uri: request.redirectUri,
            response_type: 'code',
            scope: interaction.consentedScope ?? request.scope,
          }
        : {}),
    }),
  });
  if (next.kind !== 'redirect') return next;
  const grantId = timeOrderedId();
  const scope = interaction.consentedScope ?? request.scope;
  // The grant (token family) exists from the moment the code does, so revoking it on code reuse also covers
  // tokens that a concurrent first redemption is still writing.
  await deps.storage.authorizationCodes.createWithGrant(
    {
      codeHash: timeOrderedTokenKey(code),
      grantId,
      clientId: client.id,
      userId: user.id,
      redirectUri: request.redirectUri,
      redirectUriProvided: request.redirectUriProvided,
      scope,
      nonce: request.nonce,
      codeChallenge: request.codeChallenge,
      resource: request.resource ?? null,
      authTime: who.authTime,
      ...(who.amr ? { amr: who.amr } : {}),
      ...(who.acr ? { acr: who.acr } : {}),
      ...(request.dpopJkt ? { dpopJkt: request.dpopJkt } : {}),
      ...('sid' in who && who.sid ? { sid: who.sid } : {}),
      ...(request.claims ? { claimsRequest: request.claims } : {}),
      createdAt: now,
      expiresAt: now + deps.codeTtl * 1000,
      consumedAt: null,
    },
    {
      id: grantId,
      clientId: client.id,
      userId: user.id,
      scope,
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
      openId: {
        authTime: who.authTime,
        amr: who.amr,
        acr: who.acr,
        sid: 'sid' in who ? who.sid : undefined,
        claimsRequest: request.claims,
      },
    },
  );
  return next;
}

/**
 * The session the login app may skip its form for (Hydra's `skip`): this browser's Gatehouse session, when it
 * speaks for an external subject that is still enabled and satisfies prompt and max_age. A Gatehouse user's
 * session (an administrator signed in to the console) never does: its id is not the company's subject.
 */
async function skippableSession(
  deps: FlowDeps,
  request: AuthorizationRequest,
  session: Session | undefined,
  now: number,
): Promise<Session | undefined> {
  if (!session || loginRequired(request, session, now)) return undefined;
  const user = await deps.storage.users.findById(session.userId);
  if (!user || user.claims === null || user.disabledAt !== null) return undefined;
  return session;
}

// The company's own sign-in and consent pages (Hydra's login and consent flow, docs/architecture.md "External
// sign-in and consent"). flow.ts hands the browser to the company's page with a one-time challenge; the
// company's app reads the request behind it and accepts or rejects it here, through the admin API
// (endpoints/admin-api/); then it sends the browser to the `redirect_to` this answers, /authorize/resume, where
// flow.ts continues in the browser that started the flow and nowhere else.
import { OAuthError } from '../errors.ts';
import { CLAIMS_BY_SCOPE } from '../oauth/claims.ts';
import { isUsable } from '../oauth/client-metadata.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX } from '../oauth/opaque-token.ts';
import { isSubset, parseScope } from '../oauth/scope.ts';
import { recordSecurityEvent } from '../oauth/security-events.ts';
import {
  type Client,
  EXTERNAL_REJECT_ERRORS,
  type ExternalRejectError,
  type ExternalState,
  type Interaction,
  type Storage,
} from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import { sha256 } from '../util/hash.ts';

export interface ExternalDeps {
  storage: Storage;
  clock: Clock;
  issuer: string;
  /** Where the browser continues: the issuer's /authorize/resume. */
  resumePath: string;
  /** GATEHOUSE_SESSION_TTL: the longest a remembered login lasts. */
  sessionTtl: number;
  /** The scope catalogue's descriptions, for the company's consent page. */
  scopeDescriptions: ReadonlyMap<string, string>;
}

export type Stage = 'login' | 'consent';

/** What a challenge leads to: the live request, nothing (unknown or already used), or an expired flow. */
export type Found =
  | { status: 'ok'; interaction: Interaction & { external: ExternalState }; client: Client }
  | { status: 'not_found' }
  /** The browser goes to redirectTo, where the flow ends at the client with access_denied. */
  | { status: 'expired'; redirectTo: string };

/** The answer to an accept or reject: where the company's app sends the browser next. */
export type Outcome = { status: 'ok'; redirectTo: string } | Exclude<Found, { status: 'ok' }>;

/** Who acts through the admin API: recorded with every accept and reject. */
export interface Actor {
  adminKeyId: string;
  adminKeyName?: string;
  /** The address of the company's app that called the admin API. */
  ip?: string;
}

const SUBJECT = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;
const AMR_VALUE = /^[\x21-\x7e]{1,64}$/;
const MAX_CLAIMS_JSON = 8192;
const STRING_CLAIM_MAX = 2048;
const BOOLEAN_CLAIMS = new Set(['email_verified', 'phone_number_verified']);
const STANDARD_CLAIMS = new Set(Object.values(CLAIMS_BY_SCOPE).flat());

function resumeUrl(deps: ExternalDeps, interaction: Interaction): string {
  return `${deps.issuer}${deps.resumePath}?interaction=${encodeURIComponent(interaction.id)}`;
}

/** The request behind a challenge, for the stage it was handed out for. */
export async function findChallenge(deps: ExternalDeps, challenge: unknown, stage: Stage): Promise<Found> {
  // A mistyped or truncated challenge is refused without a database lookup.
  if (
    typeof challenge !== 'string' ||
    !isWellFormedOpaqueToken(challenge, TOKEN_PREFIX.interactionChallenge)
  ) {
    return { status: 'not_found' };
  }
  const interaction = await deps.storage.interactions.findByChallenge(sha256(challenge));
  if (!interaction?.external || interaction.external.stage !== stage) return { status: 'not_found' };
  if (interaction.expiresAt <= deps.clock.now()) {
    return { status: 'expired', redirectTo: resumeUrl(deps, interaction) };
  }
  const client = await deps.storage.clients.find(interaction.clientId);
  if (!isUsable(client)) return { status: 'not_found' };
  return { status: 'ok', interaction: interaction as Interaction & { external: ExternalState }, client };
}

function clientView(client: Client) {
  return {
    client_id: client.id,
    client_name: client.name,
    redirect_uris: client.redirectUris,
    ...client.metadata,
    // Whether remembered consent can ever apply (RFC 8252 §8.6: never for public clients).
    public: client.tokenEndpointAuthMethod === 'none',
  };
}

/** GET …/login: what the company's login page needs to decide, in the admin API's JSON shape. */
export function loginRequest(found: Extract<Found, { status: 'ok' }>, challenge: string) {
  const { interaction, client } = found;
  const { request, external } = interaction;
  return {
    challenge,
    skip: external.skipSubject !== null,
    subject: external.skipSubject,
    client: clientView(client),
    requested_scope: parseScope(request.scope),
    requested_resource: request.resource,
    prompt: request.prompt,
    max_age: request.maxAge,
    login_hint: request.loginHint ?? null,
    ui_locales: request.uiLocales ?? [],
    acr_values: request.acrValues ?? [],
    expires_at: new Date(interaction.expiresAt).toISOString(),
  };
}

/** GET …/consent: the subject, the client and each scope with the catalogue's description. */
export function consentRequest(
  deps: ExternalDeps,
  found: Extract<Found, { status: 'ok' }>,
  challenge: string,
) {
  const { interaction, client } = found;
  const scopes = parseScope(interaction.request.scope);
  return {
    challenge,
    subject: interaction.loginUserId,
    client: clientView(client),
    requested_scope: scopes,
    scope_descriptions: Object.fromEntries(
      scopes.map((scope) => [scope, deps.scopeDescriptions.get(scope) ?? scope]),
    ),
    requested_resource: interaction.request.resource,
    prompt: interaction.request.prompt,
    login: {
      acr: interaction.external.login?.acr ?? null,
      amr: interaction.external.login?.amr ?? null,
      auth_time: interaction.loginAuthTime === null ? null : Math.floor(interaction.loginAuthTime / 1000),
    },
    expires_at: new Date(interaction.expiresAt).toISOString(),
  };
}

const bad = (description: string) => new OAuthError('invalid_request', description);

function optionalBoolean(body: Record<string, unknown>, name: string): boolean {
  const value = body[name];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw bad(`${name} must be true or false`);
  return value;
}

/** The claims a login app may give: OIDC Core §5.1 standard claims, typed as there, at most 8 KB. */
export function checkClaims(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('claims must be an object');
  const claims = value as Record<string, unknown>;
  for (const [name, claim] of Object.entries(claims)) {
    if (!STANDARD_CLAIMS.has(name)) {
      throw bad(
        `claims: "${name.slice(0, 40)}" is not an OpenID Connect standard claim that a scope releases (sub, iss, ` +
          'aud, acr, amr and auth_time are set by Gatehouse)',
      );
    }
    const ok = BOOLEAN_CLAIMS.has(name)
      ? typeof claim === 'boolean'
      : name === 'updated_at'
        ? Number.isSafeInteger(claim) && (claim as number) >= 0
        : name === 'address'
          ? typeof claim === 'object' && claim !== null && !Array.isArray(claim)
          : typeof claim === 'string' && claim.length <= STRING_CLAIM_MAX;
    if (!ok) throw bad(`claims: "${name}" has the wrong type (OIDC Core §5.1)`);
  }
  if (JSON.stringify(claims).length > MAX_CLAIMS_JSON) throw bad('claims are larger than 8 KB');
  return claims;
}

export interface LoginAcceptance {
  subject: string;
  remember: boolean;
  rememberFor: number;
  acr: string | null;
  amr: string[] | null;
  claims: Record<string, unknown>;
}

/** Validates the body of an accepted login. */
export function parseLoginAcceptance(deps: ExternalDeps, body: Record<string, unknown>): LoginAcceptance {
  const { subject } = body;
  if (typeof subject !== 'string' || !SUBJECT.test(subject)) {
    throw bad('subject must be 1 to 255 printable ASCII characters, without leading or trailing spaces');
  }
  const remember = optionalBoolean(body, 'remember');
  const rememberFor = body.remember_for ?? deps.sessionTtl;
  if (!Number.isSafeInteger(rememberFor) || (rememberFor as number) < 1) {
    throw bad('remember_for must be a whole number of seconds');
  }
  const acr = body.acr ?? null;
  if (acr !== null && (typeof acr !== 'string' || !AMR_VALUE.test(acr))) {
    throw bad('acr must be a short printable string');
  }
  const amr = body.amr ?? null;
  if (
    amr !== null &&
    (!Array.isArray(amr) ||
      amr.length > 10 ||
      !amr.every((value) => typeof value === 'string' && AMR_VALUE.test(value)))
  ) {
    throw bad('amr must be a list of at most 10 short printable strings');
  }
  return {
    subject,
    remember,
    // Never longer than Gatehouse's own sessions.
    rememberFor: Math.min(rememberFor as number, deps.sessionTtl),
    acr,
    amr,
    claims: checkClaims(body.claims),
  };
}

/** Validates the body of a rejection: an error code the client understands, and an optional description. */
export function parseRejection(body: Record<string, unknown>): NonNullable<ExternalState['rejection']> {
  const error = body.error ?? 'access_denied';
  if (!EXTERNAL_REJECT_ERRORS.includes(error as ExternalRejectError)) {
    throw bad(`error must be one of ${EXTERNAL_REJECT_ERRORS.join(', ')}`);
  }
  const description = body.error_description ?? null;
  if (description !== null && (typeof description !== 'string' || description.length > 300)) {
    throw bad('error_description must be a string of at most 300 characters');
  }
  return { error: error as ExternalRejectError, description };
}

/**
 * Accepts a login challenge: the subject becomes (or stays) an external users row with the claims given, and
 * the interaction records the sign-in, all in one transaction whose conditional UPDATE makes the challenge
 * single-use. A subject Gatehouse has disabled ends the flow with access_denied instead.
 */
export async function acceptLogin(
  deps: ExternalDeps,
  challenge: string,
  acceptance: LoginAcceptance,
  actor: Actor,
): Promise<Outcome> {
  const found = await findChallenge(deps, challenge, 'login');
  if (found.status !== 'ok') return found;
  const { interaction } = found;
  const now = deps.clock.now();
  const { skipSubject, skipAuthTime } = interaction.external;
  if (skipSubject !== null && acceptance.subject !== skipSubject) {
    throw bad('skip is true: accept with the subject of the existing session, or reject');
  }
  const existing = await deps.storage.users.findById(acceptance.subject);
  if (existing && existing.claims === null) {
    throw bad('subject is the id of a Gatehouse user; external subjects must not collide with one');
  }
  if (existing && existing.disabledAt !== null) {
    const rejection = { error: 'access_denied' as const, description: 'This account is disabled' };
    return settle(deps, challenge, interaction, 'login_rejected', actor, acceptance.subject, {
      external: { ...interaction.external, rejection },
    });
  }
  const name = typeof acceptance.claims.name === 'string' ? acceptance.claims.name : null;
  return settle(
    deps,
    challenge,
    interaction,
    'login_accepted',
    actor,
    acceptance.subject,
    {
      loginUserId: acceptance.subject,
      // A skipped form is the same sign-in as the session's: auth_time does not move (OIDC Core §2).
      loginAuthTime: skipSubject !== null && skipAuthTime !== null ? skipAuthTime : now,
      external: {
        ...interaction.external,
        login: {
          remember: acceptance.remember,
          rememberFor: acceptance.rememberFor,
          acr: acceptance.acr,
          amr: acceptance.amr,
        },
      },
    },
    async (tx) => {
      if (!(await tx.users.upsertExternal(acceptance.subject, acceptance.claims, name, now))) {
        throw bad('subject is the id of a Gatehouse user; external subjects must not collide with one');
      }
    },
  );
}

export interface ConsentAcceptance {
  grantScope: string[] | undefined;
  remember: boolean;
}

export function parseConsentAcceptance(body: Record<string, unknown>): ConsentAcceptance {
  const scope = body.grant_scope;
  if (scope !== undefined && (!Array.isArray(scope) || !scope.every((value) => typeof value === 'string'))) {
    throw bad('grant_scope must be a list of scope names');
  }
  return { grantScope: scope as string[] | undefined, remember: optionalBoolean(body, 'remember') };
}

/**
 * Accepts a consent challenge with the scopes granted (all those requested by default, never more). With
 * `remember`, the consent is stored as Gatehouse's consent page would store it: for confidential clients only
 * (RFC 8252 §8.6), so the next authorization asking no more skips the consent page.
 */
export async function acceptConsent(
  deps: ExternalDeps,
  challenge: string,
  acceptance: ConsentAcceptance,
  actor: Actor,
): Promise<Outcome> {
  const found = await findChallenge(deps, challenge, 'consent');
  if (found.status !== 'ok') return found;
  const { interaction, client } = found;
  const requested = parseScope(interaction.request.scope);
  const granted = acceptance.grantScope ?? requested;
  if (!isSubset(granted, requested)) throw bad('grant_scope holds a scope that was not requested');
  const scope = requested.filter((name) => granted.includes(name)).join(' ');
  const subject = interaction.loginUserId;
  return settle(
    deps,
    challenge,
    interaction,
    'consent_accepted',
    actor,
    subject,
    { consentedScope: scope },
    async (tx) => {
      if (acceptance.remember && subject !== null && client.tokenEndpointAuthMethod !== 'none') {
        await tx.consents.grant(subject, client.id, scope, deps.clock.now());
      }
    },
  );
}

/** Rejects a login or consent challenge: the client gets the error at its redirect URI. */
export async function reject(
  deps: ExternalDeps,
  challenge: string,
  stage: Stage,
  rejection: NonNullable<ExternalState['rejection']>,
  actor: Actor,
): Promise<Outcome> {
  const found = await findChallenge(deps, challenge, stage);
  if (found.status !== 'ok') return found;
  const { interaction } = found;
  return settle(
    deps,
    challenge,
    interaction,
    stage === 'login' ? 'login_rejected' : 'consent_rejected',
    actor,
    interaction.loginUserId,
    { external: { ...interaction.external, rejection } },
  );
}

type Settlement = Parameters<Storage['interactions']['settleChallenge']>[2];

/** The one write of every answer: the conditional UPDATE, what goes with it, and the security event. */
async function settle(
  deps: ExternalDeps,
  challenge: string,
  interaction: Interaction,
  event: 'login_accepted' | 'login_rejected' | 'consent_accepted' | 'consent_rejected',
  actor: Actor,
  subject: string | null,
  changes: Settlement,
  alongside?: (tx: Storage) => Promise<void>,
): Promise<Outcome> {
  const now = deps.clock.now();
  const settled = await deps.storage.transaction(async (tx) => {
    if (!(await tx.interactions.settleChallenge(sha256(challenge), now, changes))) return false;
    await alongside?.(tx);
    await recordSecurityEvent(tx, now, `interaction_${event}`, {
      clientId: interaction.clientId,
      userId: subject,
      actor: { kind: 'admin_key', id: actor.adminKeyId, name: actor.adminKeyName ?? null },
      ip: actor.ip,
    });
    return true;
  });
  // Lost a race with another answer to the same challenge, or it expired meanwhile.
  if (!settled) return { status: 'not_found' };
  return { status: 'ok', redirectTo: resumeUrl(deps, interaction) };
}

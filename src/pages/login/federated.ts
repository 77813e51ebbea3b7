// "Continue with …": sign-in through an upstream identity provider (docs/security.md U-01..U-08).
//
// POST /login/federated/:provider  (CSRF token, same-origin form: a third-party page cannot start it)
//   → state, nonce and PKCE verifier sealed into a cookie for this browser (nothing stored server-side)
//   → 303 to the upstream's authorization endpoint
// GET  /login/federated/callback    (the one redirect URI registered at every upstream)
//   → the sealed cookie is read and cleared (single use); no cookie, or another state → refused: the callback
//     was started in another browser (login CSRF, Authlib CVE-2025-68158 / CVE-2026-41425)
//   → upstream.finish(): code exchange, ID token or userinfo checks (federation/upstream.ts)
//   → accounts/linked-identities.ts decides the user (link by verified email, create, refuse)
//   → a new session exactly as the password sign-in makes one (fresh id: G-07), then the parked
//     authorization request continues (/authorize/resume) or the same-origin `next` path.
// Failures show the sign-in page again with the reason; the authorization request stays parked, so the user
// can still sign in another way. Nothing here builds an error redirect to a client.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type RefusalReason, resolveUpstreamUser } from '../../accounts/linked-identities.ts';
import { recordSignedIn } from '../../accounts/sign-in-events.ts';
import { type Deps, flowDeps } from '../../deps.ts';
import type { PendingUpstreamSignIn, Upstream } from '../../federation/upstream.ts';
import { UpstreamError } from '../../federation/upstream.ts';
import { cookieNames, cookieOptions, existingBrowserBinding, startSession } from '../../http/session.ts';
import { acceptLogin, load } from '../../interaction/flow.ts';
import { constantTimeEqual } from '../../util/hash.ts';
import { seal, unseal } from '../../util/seal.ts';
import { safeNext } from '../account.ts';
import { errorPage } from '../error.ts';
import { shownClientName } from '../parts.ts';
import { csrfToken, sendPage } from '../render.ts';
import { loginPage } from './view.ts';

/** The redirect URI to register at every upstream: <issuer>/login/federated/callback. */
export const UPSTREAM_CALLBACK_PATH = '/login/federated/callback';

/** How long a started upstream sign-in may take (the sealed cookie's life). */
const PENDING_TTL_SECONDS = 600;
const SEAL_PURPOSE = 'upstream-sign-in/v1';

interface SealedSignIn extends PendingUpstreamSignIn {
  provider: string;
  /** The parked authorization request this sign-in continues, if any. */
  interaction: string | null;
  next: string | null;
  expiresAt: number;
}

const REFUSALS: Record<RefusalReason, (name: string) => string> = {
  disabled: () => 'This account is disabled.',
  no_email: (name) => `${name} did not share an email address, so it cannot be used to sign in here.`,
  unverified_email: (name) =>
    `${name} has not verified the email address of your account, so it cannot be used to sign in here. Verify it at ${name}, or sign in another way.`,
  no_account: (name) =>
    `No account here uses the email address of your ${name} account. Ask an administrator to create one.`,
  already_linked: (name) =>
    `The account with this email address is already linked to another ${name} account. Sign in another way.`,
};

export function registerFederatedLogin(
  app: FastifyInstance,
  deps: Deps,
  upstreams: ReadonlyMap<string, Upstream>,
  buttons: { id: string; name: string }[],
) {
  if (upstreams.size === 0) return;
  const flow = flowDeps(deps);
  const names = cookieNames(deps.config.issuer);
  const redirectUri = `${deps.config.issuer}${UPSTREAM_CALLBACK_PATH}`;

  /** The sign-in page again, with the reason, still continuing the parked request if there is one. */
  async function signInAgain(
    request: FastifyRequest,
    reply: FastifyReply,
    continuing: { interaction: string | null; next: string | null },
    error: string,
    status: number,
  ) {
    const interaction = await load(
      flow,
      continuing.interaction ?? undefined,
      existingBrowserBinding(deps, request),
    );
    const client = interaction && (await deps.storage.clients.find(interaction.clientId));
    return sendPage(
      reply,
      loginPage({
        productName: deps.config.productName,
        logoUrl: deps.config.logoUrl,
        csrfToken: csrfToken(reply),
        interactionId: interaction?.id,
        next: safeNext(continuing.next),
        clientName: client ? shownClientName(client) : undefined,
        error,
        upstreams: buttons,
      }),
      status,
    );
  }

  function failed(request: FastifyRequest, upstream: Upstream, error: UpstreamError): [string, number] {
    request.log.warn(
      {
        event: 'upstream_sign_in_failed',
        provider: upstream.config.id,
        kind: error.kind,
        detail: error.detail,
      },
      'upstream sign-in failed',
    );
    const name = upstream.config.name;
    if (error.kind === 'unavailable') {
      return [
        `Signing in with ${name} is not available right now. Try again later, or sign in another way.`,
        502,
      ];
    }
    if (error.kind === 'cancelled') return [`Signing in with ${name} was cancelled.`, 401];
    return [`Signing in with ${name} did not work. Try again, or sign in another way.`, 401];
  }

  app.post<{ Params: { provider: string }; Body: { interaction?: string; next?: string } }>(
    '/login/federated/:provider',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const upstream = upstreams.get(request.params.provider);
      if (!upstream) return reply.callNotFound();
      const body = request.body ?? {};
      const interaction = await load(flow, body.interaction, existingBrowserBinding(deps, request));
      const continuing = { interaction: interaction?.id ?? null, next: safeNext(body.next) ?? null };
      // The client asked Gatehouse to authenticate the user afresh: the upstream must too, or its session would
      // answer for a sign-in the user never made.
      const forceLogin =
        interaction !== undefined &&
        (interaction.request.prompt.includes('login') || interaction.request.maxAge === 0);
      let begun: Awaited<ReturnType<Upstream['begin']>>;
      try {
        begun = await upstream.begin(redirectUri, { forceLogin });
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        const [message, status] = failed(request, upstream, error);
        return signInAgain(request, reply, continuing, message, status);
      }
      const sealed: SealedSignIn = {
        ...begun.pending,
        provider: upstream.config.id,
        ...continuing,
        expiresAt: deps.clock.now() + PENDING_TTL_SECONDS * 1000,
      };
      reply.setCookie(
        names.upstream,
        seal(sealed, deps.sealKey, SEAL_PURPOSE),
        cookieOptions(names, PENDING_TTL_SECONDS),
      );
      return reply.redirect(begun.location.href, 303);
    },
  );

  app.get(UPSTREAM_CALLBACK_PATH, async (request, reply) => {
    const now = deps.clock.now();
    const sealed = unseal<SealedSignIn>(request.cookies[names.upstream], deps.sealKey, SEAL_PURPOSE);
    // Single use: whatever happens next, this browser's pending sign-in is over.
    reply.clearCookie(names.upstream, cookieOptions(names));
    const query = new URL(request.url, deps.config.issuer).searchParams;
    const upstream = sealed && upstreams.get(sealed.provider);
    const state = query.get('state');
    // docs/security.md U-01 (G-06): the state must be the one minted for this browser, or the callback belongs to
    // someone else's sign-in (an attacker's code, planted to sign the victim in as the attacker).
    if (
      !sealed ||
      !upstream ||
      sealed.expiresAt <= now ||
      state === null ||
      !constantTimeEqual(state, sealed.state)
    ) {
      // Logged, not written to the security event log: anyone can send this request, as often as they like.
      request.log.warn(
        { event: 'upstream_state_mismatch', pending: sealed !== undefined },
        'upstream callback without a matching sign-in in this browser',
      );
      return sendPage(
        reply,
        errorPage(
          deps.config,
          'Sign-in not completed',
          'This sign-in was started in another browser, or took too long. Go back to where you started and try again.',
          'invalid_request',
        ),
        400,
      );
    }

    let signedIn: Awaited<ReturnType<Upstream['finish']>>;
    try {
      signedIn = await upstream.finish(redirectUri, query, sealed);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      const [message, status] = failed(request, upstream, error);
      return signInAgain(request, reply, sealed, message, status);
    }
    const outcome = await resolveUpstreamUser(deps.storage, upstream.config, signedIn.identity, now, {
      ip: request.ip,
    });
    if (!outcome.ok) {
      request.log.info(
        { event: 'upstream_sign_in_refused', provider: upstream.config.id, reason: outcome.reason },
        'upstream sign-in refused',
      );
      return signInAgain(request, reply, sealed, REFUSALS[outcome.reason](upstream.config.name), 403);
    }
    // Exactly as the password sign-in: a new session id (G-07), then back to the parked request.
    const session = await startSession(deps, request, reply, outcome.user.id, {
      amr: signedIn.amr,
      acr: signedIn.acr,
    });
    const interaction = await load(
      flow,
      sealed.interaction ?? undefined,
      existingBrowserBinding(deps, request),
    );
    await recordSignedIn(deps.storage, now, outcome.user, {
      ip: request.ip,
      clientId: interaction?.clientId,
      method: 'upstream',
      provider: upstream.config.id,
    });
    if (interaction) {
      await acceptLogin(flow, interaction, outcome.user.id, session.authTime);
      return reply.redirect(`${flow.resumePath}?interaction=${encodeURIComponent(interaction.id)}`, 303);
    }
    return reply.redirect(safeNext(sealed.next) ?? '/', 303);
  });
}

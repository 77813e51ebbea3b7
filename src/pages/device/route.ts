// RFC 8628 §3.3: the verification page (verification_uri). A signed-in person types the code their device shows
// (or arrives with it from verification_uri_complete, already in the field), presses Continue, sees which
// application asks for what together with the code to compare (§5.4, remote phishing: a code in a link is
// never approved without this page), and allows or denies. Sign-in first goes through the login page, which
// comes straight back here with the code still in the URL.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { currentSession } from '../../http/session.ts';
import { approveDevice, type DeviceFlowDeps, denyDevice, lookUpUserCode } from '../../interaction/device.ts';
import { isOperatorApproved } from '../../oauth/client-review.ts';
import { parseScope } from '../../oauth/scope.ts';
import type { User } from '../../storage/storage.ts';
import { signedInUser, toLogin } from '../account.ts';
import { consentPage } from '../consent/view.ts';
import { redirectWithFlash, takeFlash } from '../flash.ts';
import { csrfToken, sendPage } from '../render.ts';
import { deviceEntryPage } from './view.ts';

interface DeviceBody {
  user_code?: string;
  action?: string;
}

const INVALID_CODE =
  'That code is not valid, has expired or was already used. Check your device and try again.';

export function registerDevice(app: FastifyInstance, deps: Deps) {
  const path = deps.config.paths.device;
  const device: DeviceFlowDeps = { storage: deps.storage, clock: deps.clock, codeKey: deps.rotationKey };

  const entry = (
    request: FastifyRequest,
    reply: FastifyReply,
    user: User,
    options: { userCode?: string; error?: string; status?: number } = {},
  ) =>
    sendPage(
      reply,
      deviceEntryPage({
        productName: deps.config.productName,
        logoUrl: deps.config.logoUrl,
        csrfToken: csrfToken(reply),
        action: path,
        userEmail: user.email ?? user.name ?? user.id,
        userCode: options.userCode?.slice(0, 20),
        error: options.error,
        flash: takeFlash(deps, request, reply),
      }),
      options.status,
    );

  app.get<{ Querystring: { user_code?: string } }>(path, async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    const typed = request.query.user_code;
    return entry(request, reply, user, { userCode: typeof typed === 'string' ? typed : undefined });
  });

  app.post<{ Body: DeviceBody }>(path, { preHandler: app.csrfProtection }, async (request, reply) => {
    const session = await currentSession(deps, request);
    const account = session && (await deps.storage.users.findById(session.userId));
    const user = account && account.disabledAt === null ? account : undefined;
    if (!session || !user) return reply.redirect(`/login?next=${encodeURIComponent(path)}`, 303);
    const typed = String(request.body?.user_code ?? '').slice(0, 64);
    const action = request.body?.action;
    const found = await lookUpUserCode(device, typed, { userId: user.id, ip: request.ip });
    if (found.kind === 'throttled') {
      const seconds = Math.ceil(found.waitMs / 1000);
      reply.header('retry-after', String(seconds));
      return entry(request, reply, user, {
        userCode: typed,
        error: `Too many wrong codes. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`,
        status: 429,
      });
    }
    if (found.kind === 'invalid') {
      return entry(request, reply, user, { userCode: typed, error: INVALID_CODE, status: 400 });
    }

    if (action === 'allow' || action === 'deny') {
      const done =
        action === 'allow'
          ? await approveDevice(device, found, user, session, request.ip)
          : await denyDevice(device, found, user, request.ip);
      if (!done) return entry(request, reply, user, { error: INVALID_CODE, status: 400 });
      return redirectWithFlash(deps, reply, path, {
        message:
          action === 'allow'
            ? `${found.client.name} is connected. Return to your device: it continues by itself.`
            : `You denied ${found.client.name}. Nothing was shared; you can close this page.`,
      });
    }

    // Continue: the confirmation, with Allow and Deny (nothing is decided by a link alone).
    return sendPage(
      reply,
      consentPage({
        productName: deps.config.productName,
        csrfToken: csrfToken(reply),
        form: { action: path, fields: { user_code: found.userCode } },
        clientName: found.client.name,
        deviceUserCode: found.userCode,
        scopes: parseScope(found.authorization.scope),
        alreadyAllowed: [],
        userEmail: user.email ?? user.name ?? user.id,
        catalogue: deps.config.scopes,
        logoUrl: deps.config.logoUrl,
        verified: isOperatorApproved(found.client),
      }),
    );
  });
}

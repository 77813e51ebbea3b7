import type { KeyObject } from 'node:crypto';
import type { Config } from './config.ts';
import type { FlowDeps } from './interaction/flow.ts';
import type { BackchannelLogoutDeps } from './oauth/backchannel-logout.ts';
import type { ClientDirectory } from './oauth/client-id-metadata.ts';
import type { KeyRing } from './oauth/keys.ts';
import type { Metrics } from './observability/metrics.ts';
import type { Storage } from './storage/storage.ts';
import type { Clock } from './util/clock.ts';

/** Everything a route needs, passed in explicitly: no module-level state, no Fastify decorators. */
export interface Deps {
  config: Config;
  storage: Storage;
  keys: KeyRing;
  clock: Clock;
  /**
   * HMAC key of the server's own derivations, each under its own message prefix: a refresh token's successor
   * (idempotent replay in the grace period), the stored key of a device flow's user code.
   */
  rotationKey: KeyObject;
  /** AES-256-GCM key for short-lived sealed cookies (the playground's state). */
  sealKey: KeyObject;
  /** Prometheus metrics, or noMetrics (the default: metrics are off). */
  metrics: Metrics;
  /**
   * How the protocol endpoints find a client by its client_id, metadata documents included
   * (oauth/client-id-metadata.ts).
   */
  clients: ClientDirectory;
  /**
   * Test-only: back-channel logout tokens may go to a receiver on 127.0.0.1 over plain http (http/outbound.ts
   * `allowPrivateNetwork`). No configuration key sets it.
   */
  backchannelLogoutLoopback?: boolean;
}

export function backchannelLogoutDeps(deps: Deps): BackchannelLogoutDeps {
  return {
    storage: deps.storage,
    keys: deps.keys,
    clock: deps.clock,
    issuer: deps.config.issuer,
    idTokenAlg: deps.config.idTokenAlg,
    allowPrivateNetwork: deps.backchannelLogoutLoopback ?? false,
  };
}

export function flowDeps(deps: Deps): FlowDeps {
  return {
    storage: deps.storage,
    clock: deps.clock,
    issuer: deps.config.issuer,
    codeTtl: deps.config.codeTtl,
    interactionTtl: deps.config.interactionTtl,
    resumePath: `${deps.config.paths.authorize}/resume`,
    denialError: deps.config.legacy.userDeniedError ? 'user_denied' : 'access_denied',
    echoAuthorizationParams: deps.config.legacy.echoAuthorizationParams,
    externalLoginUrl: deps.config.loginUrl,
    externalConsentUrl: deps.config.consentUrl,
  };
}

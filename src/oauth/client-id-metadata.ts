// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP authorization
// specification's preferred registration): a client_id that is an https URL names a JSON document, at that URL,
// holding the client's metadata. Gatehouse fetches it (oauth/client-documents.ts, through the SSRF guard),
// checks it, and keeps the client as a clients row whose id is the URL, rewritten from the document whenever it
// is fetched again. Grants, tokens, revocation, consent and the admin console then work on it as on any client.
//
// Such a client is a stranger (docs/security.md H-08, H-02): it gets exactly what an anonymous dynamic registration
// gets, by the same code (oauth/registration.ts readRegistrationRequest, then buildClient): the registration
// scopes, no client_credentials, scopes that need approval wait, a pending client under `approval`, the
// per-IP registration rate limit for each new client, unverified on consent until an administrator approves it,
// and once approved a changed document waits for review like an RFC 7592 update (client-review.ts).
import type { Config } from '../config.ts';
import { OAuthError, tooManyRequests } from '../errors.ts';
import { HostRateLimiter } from '../http/outbound.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Client, Storage } from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import { type CachedDocument, ClientDocumentCache, ClientDocumentError } from './client-documents.ts';
import { buildClient, checkJwks } from './client-metadata.ts';
import { changedFields, changesNeedReview, proposeChange, reviewedFieldsOf } from './client-review.ts';
import { readRegistrationRequest } from './registration.ts';
import { formatScope, parseScope } from './scope.ts';
import { recordSecurityEvent } from './security-events.ts';

const MAX_CLIENT_ID_URL = 2000;
/** A key set asked for a kid it lacks is fetched again at most this often (per key set, per process). */
export const UNKNOWN_KID_REFETCH_MS = 60_000;

/** Whether a client_id names a metadata document (it is an https URL); Gatehouse's own ids never start so. */
export function isMetadataDocumentClientId(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/**
 * Why `clientId` cannot be a client identifier URL (draft §3: https, a path, no dot segments, no fragment, no
 * user name or password), or undefined when it can. It must also be in the canonical form the URL parser gives
 * (lower-case host, no default port, percent-encoding as normalised): two spellings of one URL would otherwise
 * be two clients, and the document's client_id is compared with it byte for byte.
 */
export function clientIdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > MAX_CLIENT_ID_URL) return 'the client_id URL is too long';
  const url = URL.parse(clientId);
  if (url?.protocol !== 'https:') return 'a client_id URL must be an https URL';
  if (clientId.includes('#')) return 'a client_id URL must not have a fragment';
  if (url.username || url.password) return 'a client_id URL must not hold a user name or password';
  if (url.pathname === '/' || url.pathname === '') return 'a client_id URL must have a path';
  if (url.href !== clientId) {
    return 'a client_id URL must be in canonical form (no dot segments, lower-case host, no default port)';
  }
  return undefined;
}

function documentError(description: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description);
}

/**
 * The client a metadata document describes, under the rules of an anonymous dynamic registration, or
 * OAuthError (invalid_client_metadata, invalid_redirect_uri) saying what is wrong with the document.
 */
export function clientFromDocument(
  url: string,
  document: Record<string, unknown>,
  config: Config,
  now: number,
): Client {
  // Draft §4.1: compared as strings, exactly; a document served for another client_id is never used.
  if (document.client_id !== url) throw documentError("the document's client_id is not its own URL");
  // Draft §4.1: there is no secret to share with a document anyone can read, so none may be in it.
  if (document.client_secret !== undefined || document.client_secret_expires_at !== undefined) {
    throw documentError('a metadata document must not hold a client_secret');
  }
  const method = document.token_endpoint_auth_method ?? 'none';
  if (method !== 'none' && method !== 'private_key_jwt') {
    throw documentError('token_endpoint_auth_method must be "none" or "private_key_jwt"');
  }
  if (!Array.isArray(document.redirect_uris) || document.redirect_uris.length === 0) {
    throw documentError('the document lists no redirect_uris');
  }
  const { input } = readRegistrationRequest({ ...document, token_endpoint_auth_method: method }, config);
  const { client } = buildClient(
    {
      ...input,
      registeredVia: 'cimd',
      withRegistrationToken: false,
      status: config.registrationPolicy === 'approval' ? 'pending' : 'active',
    },
    now,
  );
  return { ...client, id: url };
}

/** The row as stored, without what changes on every proposal (its time): for "did anything change?". */
function comparable(client: Client): string {
  const pending = client.pendingChanges && { ...client.pendingChanges, proposedAt: 0 };
  return JSON.stringify({ ...client, pendingChanges: pending });
}

export interface ClientDirectoryDeps {
  config: Config;
  storage: Storage;
  clock: Clock;
  metrics: Metrics;
  documents: ClientDocumentCache;
}

/**
 * THE way the protocol endpoints (/authorize, PAR, token, revocation, introspection) find a client by the
 * client_id a request names: from storage, or, for a client identifier URL, from its metadata document.
 * Pages that continue a flow read the row the endpoint wrote (storage.clients.find).
 */
export class ClientDirectory {
  readonly #deps: ClientDirectoryDeps;
  /** One refresh per URL at a time in this process: concurrent first requests create one row. */
  readonly #refreshing = new Map<string, Promise<Client>>();
  /**
   * The cached documents the stored rows were made from. A fresh document that was refused is not among them:
   * until it expires, its client is refused too (from the cache, with no new fetch), never served from the row
   * an older document left.
   */
  readonly #accepted = new WeakSet<object>();

  constructor(deps: ClientDirectoryDeps) {
    this.#deps = deps;
  }

  /**
   * The client `clientId` names, or undefined when there is none. For a client identifier URL (when the
   * operator has metadata documents on): the stored row while its document is fresh in the cache, else the
   * document is fetched, checked and the row created or rewritten. Throws OAuthError invalid_client saying why
   * a document was refused or could not be fetched, or 429 past the registration rate limit for a new client.
   */
  async find(clientId: string, context: { ip?: string } = {}): Promise<Client | undefined> {
    const { storage, config } = this.#deps;
    if (!isMetadataDocumentClientId(clientId)) return storage.clients.find(clientId);
    // Switched off: a row kept from when it was on names nobody any more.
    if (!config.clientDocuments.metadataDocuments) return undefined;
    const problem = clientIdUrlProblem(clientId);
    if (problem) throw new OAuthError('invalid_client', problem);
    const stored = await storage.clients.find(clientId);
    if (stored && stored.registeredVia !== 'cimd') {
      // Never rewrite a client something else made (no such id is minted today: ids are random).
      throw new OAuthError('invalid_client', 'This client_id belongs to a client registered otherwise');
    }
    const fresh = this.#deps.documents.peek(clientId);
    if (stored && fresh && this.#accepted.has(fresh)) return stored;
    let pending = this.#refreshing.get(clientId);
    if (!pending) {
      pending = this.#refresh(clientId, context.ip).finally(() => this.#refreshing.delete(clientId));
      this.#refreshing.set(clientId, pending);
    }
    return pending;
  }

  /**
   * The keys a private_key_jwt client's assertion is checked with: its registered `jwks`, or the set at its
   * `jwks_uri` (cached like a metadata document; when the assertion names a kid the cached set lacks, fetched
   * again, at most once per UNKNOWN_KID_REFETCH_MS). Throws OAuthError invalid_client when there are none.
   */
  async keysFor(client: Client, kid: string | undefined): Promise<{ keys: Record<string, unknown>[] }> {
    if (client.metadata.jwks) return client.metadata.jwks;
    const uri = client.metadata.jwks_uri;
    if (!uri) throw new OAuthError('invalid_client', 'The client has no registered keys');
    const read = async (refreshOlderThanMs?: number) => {
      try {
        return (await this.#deps.documents.get(uri, { refreshOlderThanMs })).body;
      } catch (error) {
        if (error instanceof ClientDocumentError) throw new OAuthError('invalid_client', error.message);
        throw error;
      }
    };
    const hasKid = (set: Record<string, unknown>) =>
      Array.isArray(set.keys) && set.keys.some((key) => (key as { kid?: unknown })?.kid === kid);
    let set = await read();
    if (kid !== undefined && !hasKid(set)) set = await read(UNKNOWN_KID_REFETCH_MS);
    // The rules of a registered `jwks`: public signature keys only, 1 to 10 of them.
    try {
      return checkJwks(set);
    } catch (error) {
      if (error instanceof OAuthError) throw new OAuthError('invalid_client', `${uri}: ${error.description}`);
      throw error;
    }
  }

  async #refresh(url: string, ip: string | undefined): Promise<Client> {
    const { storage, config, clock, documents, metrics } = this.#deps;
    let cached: CachedDocument;
    try {
      cached = await documents.get(url);
    } catch (error) {
      if (error instanceof ClientDocumentError) throw new OAuthError('invalid_client', error.message);
      throw error;
    }
    const now = clock.now();
    let proposed: Client;
    try {
      proposed = clientFromDocument(url, cached.body, config, now);
    } catch (error) {
      if (error instanceof OAuthError) {
        throw new OAuthError(
          'invalid_client',
          `The client's metadata document is refused: ${error.description}`,
        );
      }
      throw error;
    }
    const outcome = await this.#store(url, proposed, ip, now).catch(async (error: unknown) => {
      // Another instance created the row between our read and our insert (a unique-key violation): use it.
      if (error instanceof OAuthError) throw error;
      const raced = await storage.clients.find(url);
      if (raced?.registeredVia === 'cimd') return { client: raced, created: false };
      throw error;
    });
    this.#accepted.add(cached);
    if (outcome.created) metrics.clientRegistered();
    return outcome.client;
  }

  /** Creates or rewrites the row from the document, with its security event, in one transaction. */
  #store(
    url: string,
    proposed: Client,
    ip: string | undefined,
    now: number,
  ): Promise<{ client: Client; created: boolean }> {
    const { storage, config } = this.#deps;
    return storage.transaction(async (tx) => {
      const stored = await tx.clients.find(url);
      if (stored && stored.registeredVia !== 'cimd') {
        throw new OAuthError('invalid_client', 'This client_id belongs to a client registered otherwise');
      }
      if (!stored) {
        // A new client costs what a dynamic registration costs: one of the IP's registrations this hour.
        if (ip !== undefined) {
          const { count, resetAt } = await tx.rateLimits.hit(`register:${ip}`, now, 3_600_000);
          if (count > config.registrationRateLimit) throw tooManyRequests((resetAt - now) / 1000);
        }
        await tx.clients.create(proposed);
        await recordSecurityEvent(tx, now, 'client_registered', {
          clientId: url,
          clientName: proposed.name,
          ip: ip ?? null,
          detail: { via: 'client_id_metadata_document', status: proposed.status },
        });
        return { client: proposed, created: true };
      }
      // Scopes an administrator granted from requestedScope stay granted while the document still asks for them.
      const approved = new Set(parseScope(stored.scope));
      const waiting = parseScope(proposed.requestedScope);
      const next: Client = {
        ...proposed,
        scope: formatScope([...parseScope(proposed.scope), ...waiting.filter((s) => approved.has(s))]),
        requestedScope: formatScope(waiting.filter((s) => !approved.has(s))),
        createdAt: stored.createdAt,
        status: stored.status,
        disabledAt: stored.disabledAt,
        reviewedAt: stored.reviewedAt,
      };
      const updated = proposeChange(stored, next, {
        review: changesNeedReview(stored, config.registrationPolicy),
        now,
      });
      if (comparable(updated) === comparable(stored)) return { client: stored, created: false };
      await tx.clients.update(updated);
      await recordSecurityEvent(tx, now, 'client_updated', {
        clientId: url,
        clientName: stored.name,
        ip: ip ?? null,
        detail: {
          via: 'client_id_metadata_document',
          awaiting_review: updated.pendingChanges !== null,
          fields: changedFields(
            stored,
            updated.pendingChanges ?? { ...reviewedFieldsOf(updated), proposedAt: now },
          ),
        },
      });
      return { client: updated, created: false };
    });
  }
}

/**
 * The deployment's ClientDirectory: a document cache with the operator's bounds, host lists and per-host rate
 * limit. `testLoopback` is for tests only (documents served over https from 127.0.0.1 with the test's own
 * certificate); no configuration key reaches it.
 */
export function clientDirectoryFor(
  deps: Omit<ClientDirectoryDeps, 'documents'>,
  options: { testLoopback?: { ca: string } } = {},
): ClientDirectory {
  const settings = deps.config.clientDocuments;
  const documents = new ClientDocumentCache({
    minSeconds: settings.cacheMinSeconds,
    maxSeconds: settings.cacheMaxSeconds,
    maxEntries: settings.cacheEntries,
    maxBytes: settings.maxBytes,
    hostPolicy: { allow: settings.allowHosts, deny: settings.denyHosts },
    rateLimiter: new HostRateLimiter(settings.hostRateLimit),
    now: () => deps.clock.now(),
    allowPrivateNetwork: options.testLoopback !== undefined,
    ca: options.testLoopback?.ca,
  });
  return new ClientDirectory({ ...deps, documents });
}

// A small client for Gatehouse's interactions admin API (/api/v1/interactions/…), for Node login apps. The API
// is plain HTTP and JSON (described at <gatehouse>/api/v1/openapi.json): this file is a convenience, not a
// requirement. Copy it into your app; it needs nothing but Node's fetch.

export interface GatehouseClientInfo {
  client_id: string;
  client_name: string;
  redirect_uris: string[];
  client_uri?: string;
  logo_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  public: boolean;
}

export interface LoginRequest {
  challenge: string;
  /** This browser already has a Gatehouse session for `subject`: accept it without showing a form. */
  skip: boolean;
  subject: string | null;
  client: GatehouseClientInfo;
  requested_scope: string[];
  requested_resource: string | null;
  prompt: string[];
  max_age: number | null;
  login_hint: string | null;
  ui_locales: string[];
  acr_values: string[];
  expires_at: string;
}

export interface ConsentRequest {
  challenge: string;
  subject: string;
  client: GatehouseClientInfo;
  requested_scope: string[];
  scope_descriptions: Record<string, string>;
  requested_resource: string | null;
  prompt: string[];
  login: { acr: string | null; amr: string[] | null; auth_time: number | null };
  expires_at: string;
}

export interface LoginAcceptance {
  /** Your user's id: the `sub` every client sees. Printable ASCII, at most 255 characters. */
  subject: string;
  remember?: boolean;
  remember_for?: number;
  acr?: string;
  amr?: string[];
  /** OpenID Connect standard claims (name, email, email_verified, …), released per scope. */
  claims?: Record<string, unknown>;
}

export interface Rejection {
  error?:
    | 'access_denied'
    | 'login_required'
    | 'consent_required'
    | 'interaction_required'
    | 'account_selection_required'
    | 'temporarily_unavailable';
  error_description?: string;
}

/** Where to send the browser next: the answer of every accept and reject, and of an expired challenge. */
export interface Redirect {
  redirect_to: string;
}

/** The challenge is unknown, already answered or replaced (404). */
export class ChallengeNotFoundError extends Error {}

export class GatehouseApiError extends Error {
  readonly status: number;
  readonly error: string | undefined;
  constructor(status: number, body: { error?: string; error_description?: string }) {
    super(`Gatehouse answered ${status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
    this.status = status;
    this.error = body.error;
  }
}

export class GatehouseInteractions {
  readonly #base: string;
  readonly #adminKey: string;

  /** `issuer`: Gatehouse's URL; `adminKey`: from `gatehouse admin-keys create --scope interactions`. */
  constructor(issuer: string, adminKey: string) {
    this.#base = issuer.replace(/\/+$/, '');
    this.#adminKey = adminKey;
  }

  getLoginRequest(challenge: string): Promise<LoginRequest | Redirect> {
    return this.#call('GET', 'login', challenge);
  }
  acceptLogin(challenge: string, acceptance: LoginAcceptance): Promise<Redirect> {
    return this.#call('POST', 'login/accept', challenge, acceptance);
  }
  rejectLogin(challenge: string, rejection: Rejection = {}): Promise<Redirect> {
    return this.#call('POST', 'login/reject', challenge, rejection);
  }
  getConsentRequest(challenge: string): Promise<ConsentRequest | Redirect> {
    return this.#call('GET', 'consent', challenge);
  }
  acceptConsent(challenge: string, acceptance: { grant_scope?: string[]; remember?: boolean } = {}) {
    return this.#call<Redirect>('POST', 'consent/accept', challenge, acceptance);
  }
  rejectConsent(challenge: string, rejection: Rejection = {}): Promise<Redirect> {
    return this.#call('POST', 'consent/reject', challenge, rejection);
  }

  /** An expired challenge answers 410 with a redirect_to as well: the browser goes there, the flow ends. */
  async #call<T>(method: 'GET' | 'POST', path: string, challenge: string, body?: unknown): Promise<T> {
    const response = await fetch(
      `${this.#base}/api/v1/interactions/${path}?challenge=${encodeURIComponent(challenge)}`,
      {
        method,
        headers: {
          authorization: `Bearer ${this.#adminKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      },
    );
    const answer = (await response.json()) as T & { error?: string; error_description?: string };
    if (response.ok) return answer;
    if (response.status === 410 && 'redirect_to' in answer) return answer;
    if (response.status === 404) throw new ChallengeNotFoundError(answer.error_description ?? 'not found');
    throw new GatehouseApiError(response.status, answer);
  }
}

export function isRedirect(value: object): value is Redirect {
  return 'redirect_to' in value;
}

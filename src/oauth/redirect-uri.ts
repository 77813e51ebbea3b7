// Redirect URI matching: exact string comparison (RFC 9700 §4.1.3, OAuth 2.1), except that a loopback redirect
// URI of a native client may use any port (RFC 8252 §7.3): http://127.0.0.1, http://[::1] and, for the clients
// that use it (the MCP SDKs' examples do), http://localhost (RFC 8252 §8.3 says NOT RECOMMENDED, not forbidden;
// docs/security.md A-03 says why that is safe enough). Never for web clients.

/**
 * A loopback redirect URI in the one spelling accepted: lower-case `localhost`, `127.0.0.1` or `[::1]`, an
 * optional port, then path and query. No userinfo (`localhost:80@evil.example`), no longer host
 * (`localhost.evil.example`, `127.0.0.1.nip.io`), no trailing dot, no other case, no fragment: the string is read
 * as written, never normalised by a URL parser, so what is registered and matched is what the browser is sent to.
 */
const LOOPBACK = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?(\/[^?#]*)?(\?[^#]*)?$/;

function withoutPort(uri: string): string | undefined {
  const match = LOOPBACK.exec(uri);
  if (!match) return undefined;
  const [, host, port, path = '', query = ''] = match;
  if (port !== undefined && Number(port.slice(1)) > 65535) return undefined;
  return `http://${host}${path}${query}`;
}

/** Whether `uri` is a plain-http loopback redirect URI (RFC 8252 §7.3), which only a native app may register. */
export function isLoopbackRedirectUri(uri: string): boolean {
  return withoutPort(uri) !== undefined;
}

export function redirectUriMatches(registered: string, requested: string, nativeClient: boolean): boolean {
  if (registered === requested) return true;
  if (!nativeClient) return false;
  const left = withoutPort(registered);
  const right = withoutPort(requested);
  return left !== undefined && left === right;
}

/** The registered URI that `requested` matches, or undefined. */
export function findRedirectUri(registered: readonly string[], requested: string, nativeClient: boolean) {
  return registered.find((uri) => redirectUriMatches(uri, requested, nativeClient));
}

/**
 * Appends response parameters, keeping the registered query byte for byte (OAuth 2.1 "Client Redirection
 * Endpoint"). Redirect URIs never carry a fragment (registration refuses them), so appending is safe.
 */
export function appendParams(uri: string, params: Record<string, string | undefined | null>): string {
  const added = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) added.append(key, value);
  }
  const query = added.toString();
  if (!query) return uri;
  const separator = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${separator}${query}`;
}

// Redirect URI matching: exact string comparison (RFC 9700 §4.1.3, OAuth 2.1), except that a loopback IP
// redirect URI of a native client may use any port (RFC 8252 §7.3). `localhost` is not special-cased.

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d{1,5})?(\/[^?#]*)?(\?[^#]*)?$/;

function withoutPort(uri: string): string | undefined {
  const match = LOOPBACK.exec(uri);
  if (!match) return undefined;
  const [, host, port, path = '', query = ''] = match;
  if (port !== undefined && Number(port.slice(1)) > 65535) return undefined;
  return `http://${host}${path}${query}`;
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

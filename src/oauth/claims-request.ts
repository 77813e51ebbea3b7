// OIDC Core §5.5: the `claims` request parameter. A client names individual claims it wants in the ID token
// and from UserInfo. Gatehouse releases a claim only when a granted scope releases it (the consent page asks
// for scopes, and a claims request must not get around what the user saw); within that, a requested claim is
// delivered to the target it was requested for. `essential` is kept with the request but never forces
// anything (§5.5.1: the user may still refuse). A requested `sub` value is a condition (§5.5.1): the response
// must be for that subject, or there is none (flow.ts).
import { OAuthError } from '../errors.ts';
import type { ClaimRequest, ClaimsRequest } from '../storage/storage.ts';

/** Bounds on what a client may send: it is stored with the grant. */
const MAX_JSON = 4096;
const MAX_CLAIMS_PER_TARGET = 64;
const MAX_NAME = 128;
const MAX_VALUES = 16;
const MAX_VALUE = 256;

const bad = (detail: string) =>
  new OAuthError('invalid_request', `The claims parameter is invalid: ${detail}`);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkValue(value: unknown): value is string | number | boolean {
  if (typeof value === 'string') return value.length <= MAX_VALUE;
  return typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function parseTarget(target: string, raw: unknown): Record<string, ClaimRequest | null> {
  if (!isPlainObject(raw)) throw bad(`"${target}" must be a JSON object`);
  const names = Object.keys(raw);
  if (names.length > MAX_CLAIMS_PER_TARGET) throw bad(`"${target}" names too many claims`);
  const out: Record<string, ClaimRequest | null> = {};
  for (const name of names) {
    if (name.length === 0 || name.length > MAX_NAME) throw bad('a claim name is empty or too long');
    const entry = raw[name];
    if (entry === null) {
      out[name] = null;
      continue;
    }
    if (!isPlainObject(entry)) throw bad(`"${name.slice(0, 40)}" must be null or an object`);
    const request: ClaimRequest = {};
    // §5.5.1: other members may be defined later and are ignored; these three are checked and kept.
    if (entry.essential !== undefined) {
      if (typeof entry.essential !== 'boolean') throw bad('"essential" must be true or false');
      request.essential = entry.essential;
    }
    if (entry.value !== undefined) {
      if (!checkValue(entry.value)) throw bad('"value" must be a string, number or boolean');
      request.value = entry.value;
    }
    if (entry.values !== undefined) {
      const values = entry.values;
      if (!Array.isArray(values) || values.length > MAX_VALUES || !values.every(checkValue)) {
        throw bad('"values" must be a short array of strings, numbers or booleans');
      }
      request.values = values;
    }
    out[name] = request;
  }
  return out;
}

/** Parses and checks the parameter's JSON; OAuthError invalid_request for anything malformed. */
export function parseClaimsRequest(raw: string): ClaimsRequest {
  if (raw.length > MAX_JSON) throw bad('it is too long');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw bad('it is not JSON');
  }
  if (!isPlainObject(parsed)) throw bad('it must be a JSON object');
  const request: ClaimsRequest = {};
  // §5.5: members other than userinfo and id_token are ignored.
  if (parsed.userinfo !== undefined) request.userinfo = parseTarget('userinfo', parsed.userinfo);
  if (parsed.id_token !== undefined) request.id_token = parseTarget('id_token', parsed.id_token);
  return request;
}

/** The subject the request insists on (`"sub": {"value": …}` for either target), if any. */
export function requiredSubject(request: ClaimsRequest | undefined): string | undefined {
  for (const target of [request?.id_token, request?.userinfo]) {
    const value = target?.sub?.value;
    if (typeof value === 'string') return value;
  }
  return undefined;
}

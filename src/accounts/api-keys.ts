// Long-lived API keys a user (Dialpad: an admin using the API for their own company) creates for their own
// account. They are bearer tokens (`ghk_…`) that introspection and the resource-server library accept; only
// their SHA-256 is stored, and the key is shown once.
import { mintOpaqueToken, TOKEN_PREFIX } from '../oauth/opaque-token.ts';
import { isValidScopeToken, parseScope } from '../oauth/scope.ts';
import type { ApiKey, Storage } from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import { randomId } from '../util/random.ts';
import { UserInputError } from './users.ts';

export interface NewApiKeyInput {
  userId: string;
  name: string;
  scope: string;
  expiresInDays?: number;
  /** Resource identifiers from the catalogue (GATEHOUSE_RESOURCES) the key may be used at. */
  resources?: readonly string[];
}

/**
 * `catalogue`: the scope names the deployment defines (GATEHOUSE_SCOPES and the built-in OIDC scopes). A key
 * carries no scope outside it: nobody consents to an API key's scopes, so a mistyped or invented one must not
 * become a permission some resource server later honours.
 */
export async function createApiKey(
  storage: Storage,
  input: NewApiKeyInput,
  now: number,
  catalogue: readonly string[],
  resourceCatalogue: readonly string[] = [],
): Promise<{ key: string; record: ApiKey }> {
  const name = input.name.trim();
  if (!name || name.length > 200) throw new UserInputError('Give the key a name of at most 200 characters.');
  const scopes = parseScope(input.scope);
  if (!scopes.every(isValidScopeToken)) throw new UserInputError('The scope is malformed.');
  const unknown = scopes.filter((scope) => !catalogue.includes(scope));
  if (unknown.length > 0) {
    throw new UserInputError(
      `Unknown scope${unknown.length === 1 ? '' : 's'} ${unknown.map((scope) => `"${scope}"`).join(', ')}: ` +
        `an API key's scopes come from the scope catalogue (${catalogue.join(' ')}); add new ones to GATEHOUSE_SCOPES.`,
    );
  }
  // As with scopes: a key reaches only APIs the operator listed, so a typo cannot make it valid somewhere else.
  const resources = [...new Set(input.resources ?? [])];
  const unlisted = resources.filter((resource) => !resourceCatalogue.includes(resource));
  if (unlisted.length > 0) {
    throw new UserInputError(
      `Unknown resource ${unlisted.map((resource) => `"${resource}"`).join(', ')}: an API key's resources come from GATEHOUSE_RESOURCES${resourceCatalogue.length ? ` (${resourceCatalogue.join(' ')})` : ', which lists none'}.`,
    );
  }
  const key = mintOpaqueToken(TOKEN_PREFIX.apiKey);
  const record: ApiKey = {
    id: randomId(),
    keyHash: sha256(key),
    userId: input.userId,
    name,
    scope: scopes.join(' '),
    createdAt: now,
    expiresAt: input.expiresInDays ? now + input.expiresInDays * 86_400_000 : null,
    revokedAt: null,
    resources,
  };
  await storage.apiKeys.create(record);
  return { key, record };
}

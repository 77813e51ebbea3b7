// gatehouse.config.json: the whole configuration in one file, checked against gatehouse.config.schema.json
// (which editors use to complete and check it). The file is turned into the environment variables it stands
// for, so that one parser (config.ts) validates both, and a real environment variable overrides the file.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Config, ConfigError, loadConfig, PATH_VARIABLES } from './config.ts';

type Validator = ((value: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] | null;
};
let validator: Validator | undefined;

/** The schema's validator, built on first use: a deployment without a config file never loads ajv. */
function validate(value: unknown): Validator {
  if (!validator) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    const schema = JSON.parse(
      readFileSync(new URL('../gatehouse.config.schema.json', import.meta.url), 'utf8'),
    );
    // Formats (uri) are for editors; config.ts checks URLs itself, with messages that name the variable.
    validator = new Ajv({ allErrors: true, strict: false, validateFormats: false, logger: false }).compile(
      schema,
    ) as Validator;
  }
  validator(value);
  return validator;
}

type Env = Record<string, string | undefined>;
type FileConfig = Record<string, unknown>;

const SIMPLE: Record<string, string> = {
  issuer: 'GATEHOUSE_ISSUER',
  host: 'HOST',
  port: 'PORT',
  databaseUrl: 'DATABASE_URL',
  dataDir: 'GATEHOUSE_DATA_DIR',
  productName: 'GATEHOUSE_PRODUCT_NAME',
  logoUrl: 'GATEHOUSE_LOGO_URL',
  loginUrl: 'GATEHOUSE_LOGIN_URL',
  consentUrl: 'GATEHOUSE_CONSENT_URL',
  realm: 'GATEHOUSE_REALM',
  accessTokenAlg: 'GATEHOUSE_ACCESS_TOKEN_ALG',
  idTokenAlg: 'GATEHOUSE_ID_TOKEN_ALG',
  accessTokenFormat: 'GATEHOUSE_ACCESS_TOKEN_FORMAT',
  requireOfflineAccess: 'GATEHOUSE_REQUIRE_OFFLINE_ACCESS',
  requirePushedAuthorizationRequests: 'GATEHOUSE_REQUIRE_PAR',
  dpop: 'GATEHOUSE_DPOP',
  dpopNonce: 'GATEHOUSE_DPOP_NONCE',
  pkce: 'GATEHOUSE_PKCE',
  // A list of proxy addresses becomes "a,b", the form the variable takes.
  trustProxy: 'GATEHOUSE_TRUST_PROXY',
  passwordCost: 'GATEHOUSE_PASSWORD_COST',
  // A port alone becomes "9464", the form the variable takes.
  metricsAddress: 'GATEHOUSE_METRICS_ADDRESS',
  allowInsecureIssuer: 'GATEHOUSE_ALLOW_INSECURE_ISSUER',
  logLevel: 'LOG_LEVEL',
  eventRetentionDays: 'GATEHOUSE_EVENT_RETENTION_DAYS',
};
/** clientDocuments.*: Client ID Metadata Documents and the other documents a client names. */
const CLIENT_DOCUMENTS: Record<string, string> = {
  metadataDocuments: 'GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS',
  cacheMinSeconds: 'GATEHOUSE_CLIENT_DOCUMENT_CACHE_MIN',
  cacheMaxSeconds: 'GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX',
  cacheEntries: 'GATEHOUSE_CLIENT_DOCUMENT_CACHE_ENTRIES',
  maxBytes: 'GATEHOUSE_CLIENT_DOCUMENT_MAX_BYTES',
  hostRateLimitPerMinute: 'GATEHOUSE_OUTBOUND_HOST_RATE_LIMIT',
};
const SHUTDOWN: Record<string, string> = {
  drain: 'GATEHOUSE_SHUTDOWN_DRAIN',
  timeout: 'GATEHOUSE_SHUTDOWN_TIMEOUT',
};
/** File keys whose value is a list or JSON, each standing for one variable (converted in environmentFromFile). */
const STRUCTURED: Record<string, string> = {
  'registration.policy': 'GATEHOUSE_REGISTRATION',
  'registration.scopes': 'GATEHOUSE_REGISTRATION_SCOPES',
  'registration.rateLimitPerHour': 'GATEHOUSE_REGISTRATION_RATE_LIMIT',
  clientAuthMethods: 'GATEHOUSE_CLIENT_AUTH_METHODS',
  'clientDocuments.allowHosts': 'GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS',
  'clientDocuments.denyHosts': 'GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS',
  resources: 'GATEHOUSE_RESOURCES',
  scopes: 'GATEHOUSE_SCOPES',
  upstreams: 'GATEHOUSE_UPSTREAMS',
};

/**
 * Variables that have no key in the file, on purpose: secrets stay out of a file that is checked in and
 * copied around (docs/configuration.md, "Only in the environment").
 */
export const ENVIRONMENT_ONLY: Record<string, string> = {
  GATEHOUSE_SECRET:
    'The server secret (at least 32 characters): encrypts the signing keys at rest and keys sealed cookies. Unset: generated once into <dataDir>/secret. Keep it out of the configuration file, and back it up apart from the database (docs/operations.md).',
  GATEHOUSE_CONFIG:
    'The configuration file to read (default ./gatehouse.config.json when it exists); a named file that cannot be read stops start-up.',
  'GATEHOUSE_UPSTREAM_<ID>_SECRET':
    'An upstream identity provider’s client secret (or the variable its clientSecretEnv names, or the file its clientSecretFile names).',
};

/** Every file key (dotted path) and the environment variable it stands for. */
export function fileKeyVariables(): Record<string, string> {
  const keys: Record<string, string> = { ...SIMPLE };
  for (const [key, variable] of Object.entries(LIFETIMES)) keys[`lifetimes.${key}`] = variable;
  for (const [key, variable] of Object.entries(SHUTDOWN)) keys[`shutdown.${key}`] = variable;
  for (const [key, variable] of Object.entries(CLIENT_DOCUMENTS)) keys[`clientDocuments.${key}`] = variable;
  for (const [key, variable] of Object.entries(LEGACY)) keys[`legacy.${key}`] = variable;
  for (const [key, variable] of Object.entries(PATH_VARIABLES)) keys[`paths.${key}`] = variable;
  return { ...keys, ...STRUCTURED };
}
const LIFETIMES: Record<string, string> = {
  accessToken: 'GATEHOUSE_ACCESS_TOKEN_TTL',
  code: 'GATEHOUSE_CODE_TTL',
  idToken: 'GATEHOUSE_ID_TOKEN_TTL',
  refreshToken: 'GATEHOUSE_REFRESH_TOKEN_TTL',
  refreshTokenIdle: 'GATEHOUSE_REFRESH_TOKEN_IDLE_TTL',
  refreshGrace: 'GATEHOUSE_REFRESH_GRACE',
  session: 'GATEHOUSE_SESSION_TTL',
  interaction: 'GATEHOUSE_INTERACTION_TTL',
  secretRotationOverlap: 'GATEHOUSE_SECRET_ROTATION_OVERLAP',
};
const LEGACY: Record<string, string> = {
  userDeniedError: 'GATEHOUSE_LEGACY_USER_DENIED',
  tokenParamsInQuery: 'GATEHOUSE_LEGACY_TOKEN_PARAMS_IN_QUERY',
  queryAccessToken: 'GATEHOUSE_LEGACY_QUERY_ACCESS_TOKEN',
  oauthAuthScheme: 'GATEHOUSE_LEGACY_OAUTH_SCHEME',
  anySecretMethod: 'GATEHOUSE_LEGACY_ANY_SECRET_METHOD',
  impliedResponseType: 'GATEHOUSE_LEGACY_IMPLIED_RESPONSE_TYPE',
  impliedGrantType: 'GATEHOUSE_LEGACY_IMPLIED_GRANT_TYPE',
  echoAuthorizationParams: 'GATEHOUSE_LEGACY_ECHO_AUTHORIZATION_PARAMS',
};

/** The environment variables a (validated) configuration file stands for. */
export function environmentFromFile(file: FileConfig): Env {
  const env: Env = {};
  const put = (variable: string, value: unknown) => {
    if (value !== undefined) env[variable] = typeof value === 'string' ? value : String(value);
  };
  for (const [key, variable] of Object.entries(SIMPLE)) put(variable, file[key]);
  const section = (name: string) => (file[name] ?? {}) as Record<string, unknown>;
  for (const [key, variable] of Object.entries(LIFETIMES)) put(variable, section('lifetimes')[key]);
  for (const [key, variable] of Object.entries(SHUTDOWN)) put(variable, section('shutdown')[key]);
  const documents = section('clientDocuments');
  for (const [key, variable] of Object.entries(CLIENT_DOCUMENTS)) put(variable, documents[key]);
  if (Array.isArray(documents.allowHosts))
    put('GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS', documents.allowHosts.join(' '));
  if (Array.isArray(documents.denyHosts))
    put('GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS', documents.denyHosts.join(' '));
  for (const [key, variable] of Object.entries(LEGACY)) put(variable, section('legacy')[key]);
  for (const [key, variable] of Object.entries(PATH_VARIABLES)) put(variable, section('paths')[key]);
  const registration = section('registration');
  put('GATEHOUSE_REGISTRATION', registration.policy);
  if (Array.isArray(registration.scopes)) put('GATEHOUSE_REGISTRATION_SCOPES', registration.scopes.join(' '));
  put('GATEHOUSE_REGISTRATION_RATE_LIMIT', registration.rateLimitPerHour);
  if (Array.isArray(file.clientAuthMethods))
    put('GATEHOUSE_CLIENT_AUTH_METHODS', file.clientAuthMethods.join(' '));
  if (file.resources !== undefined) put('GATEHOUSE_RESOURCES', JSON.stringify(file.resources));
  if (file.scopes !== undefined) put('GATEHOUSE_SCOPES', JSON.stringify(file.scopes));
  if (file.upstreams !== undefined) put('GATEHOUSE_UPSTREAMS', JSON.stringify(file.upstreams));
  return env;
}

/**
 * The environment to configure from: GATEHOUSE_CONFIG's file (or ./gatehouse.config.json when present), with
 * the real environment on top. A file that does not match the schema stops start-up, naming the bad key.
 */
export function environmentWithConfigFile(env: Env = process.env, cwd = process.cwd()): Env {
  const named = env.GATEHOUSE_CONFIG;
  const file = named ? path.resolve(cwd, named) : path.join(cwd, 'gatehouse.config.json');
  if (!named && !existsSync(file)) return env;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError('GATEHOUSE_CONFIG', `cannot read ${file}: ${(error as Error).message}`);
  }
  const checked = validate(parsed);
  if (checked.errors?.length) {
    const problems = (checked.errors ?? [])
      .map(
        (error) =>
          `${error.instancePath || '/'} ${error.message}${error.params && 'additionalProperty' in error.params ? ` "${error.params.additionalProperty}"` : ''}`,
      )
      .join('; ');
    throw new ConfigError(
      'GATEHOUSE_CONFIG',
      `${file} does not match gatehouse.config.schema.json: ${problems}`,
    );
  }
  const fromFile = environmentFromFile(parsed as FileConfig);
  const merged: Env = { ...fromFile };
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value !== '') merged[key] = value;
  return merged;
}

/** The configuration every command runs with: file, then environment. */
export function configFrom(env: Env = process.env): Config {
  return loadConfig(environmentWithConfigFile(env));
}

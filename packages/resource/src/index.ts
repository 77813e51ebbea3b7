// @gatehouse/resource: what an API protected by Gatehouse imports to check access tokens (bearer and DPoP). The framework-neutral
// core; the adapters are subpaths: /node (node:http, Express, Connect), /express (the same), /fastify, /web.
export {
  accessTokenHash,
  DPOP_ALGORITHMS,
  type DpopProof,
  type DpopProofInput,
  type DpopReplayCache,
  htuOf,
  memoryReplayCache,
  verifyDpopProof,
} from './dpop.ts';
export {
  type AuthScheme,
  type BearerAnswer,
  BearerError,
  type BearerErrorCode,
  bearerAnswer,
  type ChallengeOptions,
  RETRY_AFTER_SECONDS,
} from './errors.ts';
export {
  METADATA_HEADERS,
  type ProtectedResourceMetadataInput,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
} from './metadata.ts';
export {
  ACCESS_TOKEN_PREFIX,
  API_KEY_PREFIX,
  crc32,
  isWellFormedOpaqueToken,
  opaqueTokenChecksum,
} from './opaque.ts';
export { tokenOf } from './token-store.ts';
export {
  createVerifier,
  type DpopOptions,
  extractToken,
  type IntrospectionResponse,
  type RemoteIntrospection,
  type RequestLike,
  requireScopes,
  type VerifiedToken,
  type Verifier,
  type VerifierOptions,
} from './verify.ts';

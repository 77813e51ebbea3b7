// gatehouse/resource: what an API protected by Gatehouse imports to check tokens.
export { fastifyAuthenticate, requireToken, tokenOf } from './adapters.ts';
export { BearerError, type BearerErrorCode, type ChallengeOptions } from './errors.ts';
export { protectedResourceMetadata, protectedResourceMetadataUrl } from './metadata.ts';
export {
  createVerifier,
  extractToken,
  type IntrospectionResponse,
  type RequestLike,
  requireScopes,
  type VerifiedToken,
  type Verifier,
  type VerifierOptions,
} from './verify.ts';

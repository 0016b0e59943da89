// User assertions: the ticket seller's site vouches for a fan with a short-lived JWT whose `sub` is
// the fan's user id, signed with a shared HS256 secret or a key of the seller's identity provider
// (a JWKS URL, fetched, cached and re-fetched when a new key id appears). Only then may the fan take
// a place in line: a user id alone is not a secret.
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { DependencyUnavailableError, DomainError } from '../errors.js';

export interface UserAuthSettings {
  secret: string | undefined;
  jwksUrl: string | undefined;
  audience: string | undefined;
}

export interface UserAssertions {
  /** Resolves when `assertion` vouches for `userId`; 401 INVALID_USER_ASSERTION or 403 USER_MISMATCH otherwise. */
  check(assertion: string | undefined, userId: string): Promise<void>;
}

/** Asymmetric algorithms an identity provider's JWKS may sign with; HS256 only with the shared secret. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** A seller's clock may run a little apart from ours. */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Longer than any sensible assertion; a bigger header is not worth parsing. */
const MAX_ASSERTION_LENGTH = 8_192;

export interface JwksTimings {
  /** How long fetched keys are used before the document is fetched again. */
  cacheMaxAgeMs: number;
  /** The least time between two fetches prompted by an unknown key id. */
  cooldownMs: number;
  /** A JWKS fetch slower than this fails the request with 503. */
  timeoutMs: number;
}

const DEFAULT_JWKS_TIMINGS: JwksTimings = { cacheMaxAgeMs: 10 * 60_000, cooldownMs: 30_000, timeoutMs: 1_500 };

/** Errors of key selection that are the assertion's fault (its key id or algorithm); anything else the provider's. */
const ASSERTION_FAULTS = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSEAlgNotAllowed, errors.JOSENotSupported];

/**
 * The provider's keys, where a failure to fetch them (refused, slow, not 200, not a JWKS) is a 503
 * like any dependency's, and an assertion naming a key the provider does not have is the assertion's.
 */
function providerKeys(remote: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (ASSERTION_FAULTS.some((fault) => err instanceof fault)) throw err;
      throw new DependencyUnavailableError("the ticket seller's identity keys could not be fetched");
    }
  };
}

function invalid(message: string): DomainError {
  return new DomainError('INVALID_USER_ASSERTION', message);
}

/** Undefined when neither a secret nor a JWKS URL is set: any known user id may join (the embedded demo). */
export function createUserAssertions(settings: UserAuthSettings, timings: Partial<JwksTimings> = {}): UserAssertions | undefined {
  const { secret, jwksUrl, audience } = settings;
  if (!secret && !jwksUrl) return undefined;
  const t = { ...DEFAULT_JWKS_TIMINGS, ...timings };
  const key: Uint8Array | JWTVerifyGetKey = secret
    ? new TextEncoder().encode(secret)
    : providerKeys(createRemoteJWKSet(new URL(jwksUrl!), { cacheMaxAge: t.cacheMaxAgeMs, cooldownDuration: t.cooldownMs, timeoutDuration: t.timeoutMs }));
  const options = {
    algorithms: secret ? ['HS256'] : JWKS_ALGORITHMS,
    requiredClaims: ['sub', 'exp'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(audience ? { audience } : {}),
  };

  return {
    async check(assertion, userId) {
      if (!assertion) throw invalid('token issue needs Authorization: Bearer <user assertion> from the ticket seller');
      if (assertion.length > MAX_ASSERTION_LENGTH) throw invalid('the user assertion is too long');
      let sub: string | undefined;
      try {
        ({ sub } = (await jwtVerify(assertion, key as Uint8Array, options)).payload);
      } catch (err) {
        if (err instanceof DependencyUnavailableError) throw err;
        if (err instanceof errors.JWTExpired) throw invalid('the user assertion has expired');
        throw invalid('the user assertion is malformed, badly signed or not for this service');
      }
      if (sub !== userId) throw new DomainError('USER_MISMATCH', 'the user assertion is for another user');
    },
  };
}

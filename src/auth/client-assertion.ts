import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
import type { ClientStore, RegisteredClient } from './clients';

/** The algorithms SMART Backend Services requires servers to support; nothing else is accepted. */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'];
/** SMART: the assertion's `exp` is at most five minutes ahead. Clocks may differ by a little. */
const MAX_LIFETIME_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 30;

/** A refused client assertion: always RFC 6749 `invalid_client`, with a reason for the client's developers. */
export class InvalidClient extends Error {
  constructor(readonly reason: string, readonly clientId?: string) {
    super(reason);
    this.name = 'InvalidClient';
  }
}

const remoteSets = new Map<string, JWTVerifyGetKey>();

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523, SMART Backend Services): signed by a key
 * of the registered client, `iss` = `sub` = client id, `aud` = the token URL, `exp` in the future
 * but at most five minutes ahead, and a `jti` never seen before for this client.
 */
export async function verifyClientAssertion(
  assertion: string,
  tokenUrl: string,
  clients: ClientStore,
): Promise<RegisteredClient> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw new InvalidClient('client_assertion is not a JWT');
  }
  if (typeof header.alg !== 'string' || !ASSERTION_ALGORITHMS.includes(header.alg)) {
    throw new InvalidClient(`client_assertion must be signed with ${ASSERTION_ALGORITHMS.join(' or ')}`);
  }
  const clientId = unverified.iss;
  if (typeof clientId !== 'string' || unverified.sub !== clientId) {
    throw new InvalidClient('client_assertion needs iss and sub, both the client id');
  }
  const client = await clients.get(clientId);
  if (!client || !client.enabled) {
    // The same answer for unknown and disabled clients: nothing to learn from probing.
    throw new InvalidClient('Unknown or disabled client', clientId);
  }
  if (header.jku !== undefined && header.jku !== client.jwksUrl) {
    throw new InvalidClient('The jku header does not match the JWKS URL registered for this client', clientId);
  }

  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(assertion, keysOf(client), {
      algorithms: ASSERTION_ALGORITHMS,
      issuer: client.id,
      subject: client.id,
      audience: tokenUrl,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW_SECONDS,
    }));
  } catch (err) {
    throw new InvalidClient(describe(err, tokenUrl), clientId);
  }
  const now = Date.now() / 1000;
  if (payload.exp! > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new InvalidClient('client_assertion exp must be at most 5 minutes in the future', clientId);
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) {
    throw new InvalidClient('client_assertion needs a jti of 1-255 characters', clientId);
  }
  if (!(await clients.useJti(client.id, jti, new Date((payload.exp! + CLOCK_SKEW_SECONDS) * 1000)))) {
    throw new InvalidClient('client_assertion was already used (jti replayed)', clientId);
  }
  return client;
}

function keysOf(client: RegisteredClient): JWTVerifyGetKey {
  if (client.jwks) {
    return createLocalJWKSet(client.jwks);
  }
  const url = client.jwksUrl!;
  let set = remoteSets.get(url);
  if (!set) {
    // jose caches the fetched keys (10 min) and refetches when an unknown kid shows up (at most every 30 s).
    set = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000 });
    remoteSets.set(url, set);
  }
  return set;
}

function describe(err: unknown, tokenUrl: string): string {
  if (err instanceof errors.JWTExpired) {
    return 'client_assertion has expired';
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === 'aud'
      ? `client_assertion aud must be the token URL ${tokenUrl}`
      : `client_assertion claim '${err.claim}' is invalid: ${err.reason}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return 'client_assertion signature does not verify with the registered keys';
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return 'No single registered key matches the assertion (check kid and alg)';
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JOSEError) {
    return `client_assertion could not be verified (${err.code})`;
  }
  return 'client_assertion could not be verified';
}

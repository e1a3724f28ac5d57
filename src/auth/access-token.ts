import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** What an access token carries. */
export interface AccessClaims {
  /** The client id. */
  sub: string;
  /** The client's name, for audit records. */
  name?: string;
  /** Granted scopes, space-separated. */
  scope: string;
  exp: number;
}

const ISSUER = 'sympathetic-block-fhir';
const AUDIENCE = 'sympathetic-block-fhir/fhir';

/**
 * Access tokens: JWTs signed with HMAC-SHA256 under a key only the server(s) hold. Only this server
 * verifies them, so a symmetric key is enough, and verification stays synchronous and cheap on
 * every request. The header is fixed: a token whose header is not byte-for-byte ours (another `alg`,
 * `none`, another key id) is rejected before any parsing, so there is no algorithm confusion; the
 * signature is compared in constant time.
 */
export class AccessTokens {
  private readonly header: string;

  constructor(
    private readonly key: Buffer,
    readonly lifetimeSeconds: number,
  ) {
    // The key id names the key without revealing it: tokens of a rotated key fail on the header.
    const kid = createHash('sha256').update(key).digest('base64url').slice(0, 16);
    this.header = b64(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid }));
  }

  issue(clientId: string, clientName: string | undefined, scopes: readonly string[]): string {
    const now = Math.floor(Date.now() / 1000);
    const payload = b64(
      JSON.stringify({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: clientId,
        name: clientName,
        scope: scopes.join(' '),
        iat: now,
        exp: now + this.lifetimeSeconds,
        jti: randomUUID(),
      }),
    );
    return `${this.header}.${payload}.${this.sign(`${this.header}.${payload}`).toString('base64url')}`;
  }

  /** The claims, or why the token is refused (for `WWW-Authenticate: … error_description`). */
  verify(token: string): AccessClaims | string {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== this.header) {
      return 'The access token is malformed or was not issued by this server';
    }
    const expected = this.sign(`${parts[0]}.${parts[1]}`);
    const given = Buffer.from(parts[2], 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return 'The access token signature is invalid';
    }
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return 'The access token is malformed';
    }
    if (claims.iss !== ISSUER || claims.aud !== AUDIENCE || typeof claims.sub !== 'string' || typeof claims.scope !== 'string') {
      return 'The access token is not an access token of this server';
    }
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) {
      return 'The access token expired';
    }
    return {
      sub: claims.sub,
      name: typeof claims.name === 'string' ? claims.name : undefined,
      scope: claims.scope,
      exp: claims.exp,
    };
  }

  private sign(input: string): Buffer {
    return createHmac('sha256', this.key).update(input).digest();
  }
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

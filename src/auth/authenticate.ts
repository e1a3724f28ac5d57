import type { NextFunction, Request, Response } from 'express';
import type { AuditTrail } from '../audit';
import { fail } from '../common/errors';
import type { RequestAuth } from '../fhir/types';
import type { AccessTokens } from './access-token';
import { ANONYMOUS_AUTH, PUBLIC_AUTH } from './authorize';
import type { RateLimiter } from './rate-limit';
import { splitScopes } from './scopes';

export const REALM = 'sympathetic-block-fhir';
const BEARER = /^Bearer +([A-Za-z0-9\-_.]{1,4096})$/i;
/** Readable without a token: the CapabilityStatement (it names the token URL). */
const PUBLIC_PATHS = new Set(['metadata']);

/**
 * Authentication for /fhir (authorization is the FHIR core's, per interaction): a valid bearer
 * token from /auth/token, else 401 with `WWW-Authenticate: Bearer` (RFC 6750) and an AuditEvent.
 * Rejected attempts count against the caller's address in the rate limiter before being audited,
 * so a flood of bad tokens is throttled instead of filling the audit table.
 */
export function authenticate(tokens: AccessTokens | undefined, trail: AuditTrail, limiter: RateLimiter) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!tokens) {
      res.locals.auth = ANONYMOUS_AUTH;
      return next();
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && PUBLIC_PATHS.has(req.path.replace(/^\/+|\/+$/g, ''))) {
      res.locals.auth = PUBLIC_AUTH;
      return next();
    }
    const header = req.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    const claims = match ? tokens.verify(match[1]) : 'The Authorization header is not a Bearer access token';
    if (typeof claims !== 'string') {
      const auth: RequestAuth = { clientId: claims.sub, clientName: claims.name, scopes: splitScopes(claims.scope) };
      res.locals.auth = auth;
      return next();
    }
    const wait = limiter.take(`ip:${req.ip}`);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      throw fail(429, 'throttled', 'Too many requests without a valid access token');
    }
    const reason = header === undefined ? 'An access token is required: get one from the token endpoint' : claims;
    await trail.record({
      auth: PUBLIC_AUTH,
      remoteAddress: req.ip,
      kind: 'login',
      action: 'E',
      outcome: '4',
      outcomeDesc: `HTTP 401 on ${req.method} /fhir${req.path.slice(0, 200)}: ${reason}`,
    });
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    res.setHeader(
      'WWW-Authenticate',
      header === undefined
        ? `Bearer realm="${REALM}"`
        : `Bearer realm="${REALM}", error="invalid_token", error_description="${reason.replace(/"/g, "'")}"`,
    );
    throw fail(401, 'login', reason);
  };
}

/** Per-client limit once authenticated; callers without a client (metadata, FHIR_AUTH=none) by address. */
export function rateLimit(limiter: RateLimiter) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const auth = res.locals.auth as RequestAuth | undefined;
    const key = !auth || auth === PUBLIC_AUTH || auth === ANONYMOUS_AUTH ? `ip:${req.ip}` : `client:${auth.clientId}`;
    const wait = limiter.take(key);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      throw fail(429, 'throttled', `Rate limit exceeded: try again in ${wait} s`);
    }
    next();
  };
}

import type { Express, Request, RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config';
import type { Core } from '../core';
import { AccessTokens } from './access-token';
import { authenticate, rateLimit } from './authenticate';
import { ClientStore } from './clients';
import { cors } from './cors';
import { limitQuery, rejectPrototypeKeys } from './hardening';
import { RateLimiter } from './rate-limit';
import { loadSigningKey } from './signing-key';
import { smartConfiguration, tokenEndpoint } from './token-endpoint';

/** What the HTTP layer (src/http/app.ts) mounts. */
export interface HttpSecurity {
  /** App-wide: security headers, CORS, and (when authentication is on) the SMART discovery and token routes. */
  install(app: Express, fhirBaseUrl: (req: Request) => string): void;
  /** /fhir, before the body is read: authentication, rate limit, query limits. */
  beforeBody: RequestHandler[];
  /** /fhir, after JSON parsing: prototype-pollution keys. */
  afterBody: RequestHandler[];
}

/** Token requests per minute per address at most: a client needs one token per token lifetime. */
const TOKEN_REQUESTS_PER_MINUTE = 600;

export async function createHttpSecurity(config: Config, core: Core): Promise<HttpSecurity> {
  const on = config.auth !== 'none';
  const tokens = on
    ? new AccessTokens(await loadSigningKey(core.db.knex, config.tokenSecret), config.tokenLifetimeSeconds)
    : undefined;
  const clients = new ClientStore(core.db.knex);
  const limiter = new RateLimiter(config.rateLimitPerMinute);
  const tokenLimiter = new RateLimiter(
    config.rateLimitPerMinute > 0 ? Math.min(config.rateLimitPerMinute, TOKEN_REQUESTS_PER_MINUTE) : 0,
  );
  return {
    install(app, fhirBaseUrl) {
      app.use(
        helmet({
          // An API: nothing here is a page to frame or run scripts in.
          contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
          crossOriginResourcePolicy: { policy: config.corsOrigins.length > 0 ? 'cross-origin' : 'same-origin' },
        }),
      );
      if (config.corsOrigins.length > 0) {
        app.use(cors(config.corsOrigins));
      }
      if (tokens) {
        app.get(['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration'], smartConfiguration(fhirBaseUrl));
        app.post('/auth/token', tokenEndpoint({ clients, tokens, trail: core.trail, limiter: tokenLimiter, fhirBaseUrl }));
      }
    },
    beforeBody: [authenticate(tokens, core.trail, limiter), rateLimit(limiter), limitQuery],
    afterBody: [rejectPrototypeKeys],
  };
}

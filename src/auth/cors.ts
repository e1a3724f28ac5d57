import type { NextFunction, Request, Response } from 'express';

const METHODS = 'GET, POST, PUT, PATCH, DELETE';
const HEADERS = 'Authorization, Content-Type, Accept, If-Match, If-None-Match, Prefer, X-Request-Id';
const EXPOSED = 'Location, ETag, Last-Modified, Content-Location, X-Request-Id, Retry-After, WWW-Authenticate';

/**
 * CORS for the configured origins only (`FHIR_CORS_ORIGINS`; `*` for any). No credentials mode:
 * clients send bearer tokens, never cookies. Preflights are answered here, before authentication.
 */
export function cors(origins: readonly string[]) {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    res.vary('Origin');
    if (typeof origin !== 'string' || !(any || allowed.has(origin))) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', METHODS);
      res.setHeader('Access-Control-Allow-Headers', HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

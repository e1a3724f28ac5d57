import express, { type Request, type Response } from 'express';
import type { AuditTrail } from '../audit';
import type { AccessTokens } from './access-token';
import { ASSERTION_ALGORITHMS, InvalidClient, verifyClientAssertion } from './client-assertion';
import type { ClientStore } from './clients';
import type { RateLimiter } from './rate-limit';
import { grantScopes, splitScopes } from './scopes';
import { tokenUrlFor } from './urls';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const parseForm = express.urlencoded({ extended: false, limit: '16kb' });

export interface TokenEndpointDeps {
  clients: ClientStore;
  tokens: AccessTokens;
  trail: AuditTrail;
  limiter: RateLimiter;
  /** The FHIR base URL as this request sees it (configured or derived from Host). */
  fhirBaseUrl: (req: Request) => string;
}

/** `GET /.well-known/smart-configuration` (also below /fhir, where SMART clients look for it). */
export function smartConfiguration(fhirBaseUrl: (req: Request) => string) {
  return (req: Request, res: Response): void => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json({
      token_endpoint: tokenUrlFor(fhirBaseUrl(req)),
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
      grant_types_supported: ['client_credentials'],
      scopes_supported: ['system/*.read', 'system/*.write', 'system/*.rs', 'system/*.cud', 'system/*.*', 'system/AuditEvent.rs'],
      capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    });
  };
}

/**
 * `POST /auth/token`: SMART Backend Services client credentials with a `private_key_jwt` assertion.
 * Errors are RFC 6749 §5.2 JSON (`invalid_request`, `invalid_client`, `invalid_scope`,
 * `unsupported_grant_type`). Every attempt is audited.
 */
export function tokenEndpoint(deps: TokenEndpointDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const wait = deps.limiter.take(`token:${req.ip}`);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      oauthError(res, 429, 'slow_down', 'Too many token requests');
      return;
    }
    const form = await readForm(req, res);
    if (!form) {
      oauthError(res, 400, 'invalid_request', 'Send the parameters as application/x-www-form-urlencoded (at most 16 KiB)');
      return;
    }
    const grantType = form.grant_type;
    const assertion = form.client_assertion;
    const scope = form.scope;
    if (grantType !== 'client_credentials') {
      oauthError(res, 400, 'unsupported_grant_type', 'grant_type must be client_credentials');
      return;
    }
    if (form.client_assertion_type !== JWT_BEARER || typeof assertion !== 'string' || assertion === '') {
      oauthError(res, 400, 'invalid_request', `client_assertion_type must be ${JWT_BEARER}, with a client_assertion`);
      return;
    }
    if (typeof scope !== 'string' || scope.trim() === '') {
      oauthError(res, 400, 'invalid_request', 'scope is required, e.g. system/*.rs');
      return;
    }
    const audit = (clientId: string, clientName: string | undefined, ok: boolean, desc: string) =>
      deps.trail.record({
        auth: { clientId: clientId.slice(0, 128), clientName, scopes: [] },
        remoteAddress: req.ip,
        kind: 'login',
        action: 'E',
        outcome: ok ? '0' : '4',
        outcomeDesc: desc,
      });
    try {
      const client = await verifyClientAssertion(assertion, tokenUrlFor(deps.fhirBaseUrl(req)), deps.clients);
      const granted = grantScopes(splitScopes(scope), client.scopes);
      if (granted.length === 0) {
        await audit(client.id, client.name, false, `invalid_scope: asked for ${scope.slice(0, 300)}`);
        oauthError(res, 400, 'invalid_scope', `None of the requested scopes is registered for this client`);
        return;
      }
      const accessToken = deps.tokens.issue(client.id, client.name, granted);
      await audit(client.id, client.name, true, `access token issued for ${granted.join(' ')}`);
      res.json({
        access_token: accessToken,
        token_type: 'bearer',
        expires_in: deps.tokens.lifetimeSeconds,
        scope: granted.join(' '),
      });
    } catch (err) {
      if (!(err instanceof InvalidClient)) {
        throw err;
      }
      await audit(err.clientId ?? 'unknown', undefined, false, `invalid_client: ${err.reason}`);
      oauthError(res, 401, 'invalid_client', err.reason);
    }
  };
}

/** The form fields, or undefined for another media type or a body express could not read. */
function readForm(req: Request, res: Response): Promise<Record<string, unknown> | undefined> {
  if (!req.is('application/x-www-form-urlencoded')) {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    parseForm(req, res, (err?: unknown) => {
      resolve(err || typeof req.body !== 'object' || req.body === null ? undefined : (req.body as Record<string, unknown>));
    });
  });
}

function oauthError(res: Response, status: number, error: string, description: string): void {
  res.status(status).json({ error, error_description: description });
}

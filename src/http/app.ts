import express, { type NextFunction, type Request, type Response } from 'express';
import type { HttpSecurity } from '../auth';
import { PUBLIC_AUTH } from '../auth/authorize';
import { FhirError, fail, toFhirError } from '../common/errors';
import type { FhirContext, FhirRouter, HttpMethod } from '../fhir';
import type { RequestAuth } from '../fhir/types';
import { negotiateResponseFormat, parseFhirJsonBody } from './content';
import { requestLog, type LogSink } from './request-log';
import { healthRoutes, type Readiness } from './health';
import { admissionControl, databaseUnavailable, RETRY_AFTER_SECONDS, type AdmissionOptions } from './overload';
import { sendFhirResponse, sendOutcome } from './respond';
import { physicianPage } from './web';

export interface AppOptions {
  router: FhirRouter;
  context: FhirContext;
  bodyLimitBytes: number;
  /** Fixed public base URL of the FHIR endpoint; derived from each request when absent. */
  baseUrl?: string;
  log?: LogSink;
  /** `/readyz` checks (src/http/health.ts); without it `/readyz` only says the process is up. */
  readiness?: Readiness;
  /** Bounded concurrency and queue, 503 beyond (src/http/overload.ts); absent = unbounded. */
  admission?: AdmissionOptions;
  /** Headers, CORS, SMART routes, authentication, rate limit, input limits (src/auth). */
  security: HttpSecurity;
}

const METHODS = new Set<string>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const SAFE_HOST = /^[A-Za-z0-9.\-:[\]]{1,255}$/;

/**
 * The Express app: HTTP concerns only (ids and logs, content negotiation, body limits, headers,
 * errors → OperationOutcome). FHIR behaviour lives behind `router.handle`.
 */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // ETags are versions (W/"n"), set by the FHIR layer; Express's content hashes would contradict them.
  app.set('etag', false);
  app.use(requestLog(options.log));
  // Probes first: never behind authentication, rate limits or a full admission queue.
  app.use(healthRoutes(options.readiness));
  if (options.admission) {
    app.use(admissionControl(options.admission));
  }
  options.security.install(app, (req) => options.baseUrl ?? deriveBaseUrl(req));

  const fhir = express.Router();
  fhir.use(negotiateResponseFormat);
  // Authenticate before reading a body: no work for callers without a valid token.
  fhir.use(options.security.beforeBody);
  fhir.use(express.raw({ type: () => true, limit: options.bodyLimitBytes }));
  fhir.use(parseFhirJsonBody);
  fhir.use(options.security.afterBody);
  fhir.use(async (req: Request, res: Response) => {
    if (!METHODS.has(req.method)) {
      throw fail(405, 'not-supported', `HTTP method ${req.method} is not supported`);
    }
    const baseUrl = options.baseUrl ?? deriveBaseUrl(req);
    const response = await options.router.handle(
      {
        method: req.method as HttpMethod,
        path: req.path.replace(/^\/+|\/+$/g, ''),
        params: {},
        query: req.query as Record<string, string | string[] | undefined>,
        body: req.body,
        headers: req.headers as Record<string, string | undefined>,
        baseUrl,
        // Set by security.beforeBody; without it nothing but the public metadata is allowed.
        auth: (res.locals.auth as RequestAuth | undefined) ?? PUBLIC_AUTH,
        remoteAddress: req.ip,
      },
      options.context,
    );
    sendFhirResponse(req, res, baseUrl, response);
  });
  app.use('/fhir', fhir);
  // The physician page (src/http/web.ts): static files that call /fhir like any other client.
  app.use(physicianPage());

  app.use((req: Request) => {
    throw fail(404, 'not-found', `Nothing at ${req.path.slice(0, 200)}; the FHIR API is at /fhir`);
  });
  app.use(errorHandler(options.log));
  return app;
}

function deriveBaseUrl(req: Request): string {
  const host = req.get('host');
  return `${req.protocol}://${host && SAFE_HOST.test(host) ? host : 'localhost'}/fhir`;
}

/** The one place errors become responses: FHIR errors as they are, body-parser errors by status, anything else 500 without internals. */
function errorHandler(log: LogSink | undefined) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let error: FhirError;
    const status = (err as { status?: unknown } | null)?.status;
    const unavailable = databaseUnavailable(err);
    if (err instanceof FhirError) {
      error = err;
    } else if (typeof status === 'number' && status >= 400 && status < 500) {
      error = bodyParserError(status, err as { type?: string; message?: string });
    } else if (unavailable) {
      // The database is down or overloaded: the client may retry, and it is no bug to log as one.
      error = unavailable;
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    } else {
      error = toFhirError(err);
      log?.(
        JSON.stringify({
          time: new Date().toISOString(),
          level: 'error',
          msg: 'unhandled error',
          requestId: res.locals.requestId,
          error: err instanceof Error ? err.stack : String(err),
        }),
      );
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendOutcome(req, res, error);
  };
}

function bodyParserError(status: number, err: { type?: string; message?: string }): FhirError {
  switch (err.type) {
    case 'entity.too.large':
      return fail(413, 'too-costly', `The request body is larger than the limit of this server`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return fail(415, 'not-supported', err.message ?? 'Unsupported content encoding');
    default:
      return fail(status, 'structure', `The request body could not be read (${err.type ?? 'bad request'})`);
  }
}

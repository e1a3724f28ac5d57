import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9\-_.:]{1,64}$/;

export type LogSink = (line: string) => void;

/**
 * Gives each request an id (the client's `X-Request-Id` when well-formed, else a new UUID), returns
 * it in `X-Request-Id`, and logs one JSON line when the response finishes. The query string is not
 * logged: search parameters can carry patient identifiers.
 */
export function requestLog(sink: LogSink | undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    if (sink) {
      res.on('finish', () => {
        sink(
          JSON.stringify({
            time: new Date().toISOString(),
            level: res.statusCode >= 500 ? 'error' : 'info',
            msg: 'request',
            requestId,
            method: req.method,
            path: req.path,
            status: res.statusCode,
            durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          }),
        );
      });
    }
    next();
  };
}

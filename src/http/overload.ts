import type { NextFunction, Request, Response } from 'express';
import { fail, type FhirError } from '../common/errors';

export interface AdmissionOptions {
  /** Requests worked on at once; 0 switches admission control off. */
  maxConcurrent: number;
  /** Requests allowed to wait for a slot; beyond that, 503 at once. */
  maxQueue: number;
  /** Longest wait in the queue before giving up with 503 (a client has usually given up by then). */
  queueTimeoutMs: number;
}

export interface AdmissionStats {
  active: number;
  queued: number;
  rejected: number;
}

export type AdmissionControl = ((req: Request, res: Response, next: NextFunction) => void) & { stats(): AdmissionStats };

/** Seconds a client is asked to wait after a 503: short, since overload and restarts pass quickly. */
export const RETRY_AFTER_SECONDS = 1;

interface Waiter {
  admit(): void;
  timer: NodeJS.Timeout;
}

/**
 * Admission control: at most `maxConcurrent` requests in the FHIR core and the database pool, at
 * most `maxQueue` waiting in order, everything else `503` with `Retry-After` and an
 * OperationOutcome. Without it, a burst beyond the database's pace piles up request bodies, knex
 * pool waiters and sockets without bound, and ends in pool timeouts (500s) for everyone. Mounted
 * before body parsing, so a waiting request holds a socket but not its body.
 */
export function admissionControl(options: AdmissionOptions): AdmissionControl {
  let active = 0;
  let rejected = 0;
  const queue: Waiter[] = [];

  const release = (): void => {
    active--;
    while (active < options.maxConcurrent && queue.length > 0) {
      const waiter = queue.shift()!;
      clearTimeout(waiter.timer);
      waiter.admit();
    }
  };

  const reject = (res: Response, next: NextFunction, why: string): void => {
    rejected++;
    res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    next(fail(503, 'transient', `The server is busy (${why}); retry after ${RETRY_AFTER_SECONDS} s`));
  };

  const middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (options.maxConcurrent <= 0) {
      return next();
    }
    const admit = (): void => {
      if (res.writableEnded || res.destroyed) {
        return; // the client left while queued: no slot taken, no work done
      }
      active++;
      // 'close' follows 'finish' and also fires when the client disconnects mid-way: released exactly once.
      res.once('close', release);
      next();
    };
    if (active < options.maxConcurrent) {
      return admit();
    }
    if (queue.length >= options.maxQueue) {
      return reject(res, next, 'too many requests in progress');
    }
    const waiter: Waiter = {
      admit,
      timer: setTimeout(() => {
        remove(queue, waiter);
        reject(res, next, 'waited too long for a free slot');
      }, options.queueTimeoutMs),
    };
    queue.push(waiter);
    // A client that hangs up while queued frees its queue place at once.
    res.once('close', () => {
      if (remove(queue, waiter)) {
        clearTimeout(waiter.timer);
      }
    });
  };
  return Object.assign(middleware, { stats: () => ({ active, queued: queue.length, rejected }) });
}

function remove(queue: Waiter[], waiter: Waiter): boolean {
  const at = queue.indexOf(waiter);
  if (at >= 0) {
    queue.splice(at, 1);
  }
  return at >= 0;
}

/** Error codes that mean "the database cannot be reached right now", not "this request is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  // PostgreSQL: admin/crash shutdown, cannot connect now, connection exceptions, too many connections.
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
  // SQLite: locked beyond busy_timeout, file unopenable, I/O error, disk full.
  'SQLITE_BUSY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL',
]);
const UNAVAILABLE_MESSAGE =
  /connection terminated|terminating connection|connection error|timeout exceeded when trying to connect|database system is (?:starting up|shutting down|in recovery)|Timeout acquiring a connection/i;

/**
 * Maps database outages to `503` + `Retry-After` (the error handler sets the header): the request
 * may well succeed once the database is back, and a 500 would read as a server bug.
 */
export function databaseUnavailable(err: unknown): FhirError | undefined {
  return isUnavailable(err, 0)
    ? fail(503, 'transient', `The database is not reachable at the moment; retry after ${RETRY_AFTER_SECONDS} s`)
    : undefined;
}

/** SQLite's extended codes (better-sqlite3: SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT) by their primary code. */
function baseCode(code: string): string {
  return /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code;
}

function isUnavailable(err: unknown, depth: number): boolean {
  if (err === null || typeof err !== 'object' || depth > 3) {
    return false;
  }
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if ((typeof e.code === 'string' && UNAVAILABLE_CODES.has(baseCode(e.code))) || e.name === 'KnexTimeoutError') {
    return true;
  }
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) {
    return true;
  }
  // Node's happy-eyeballs connect throws an AggregateError of per-address failures.
  const nested = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  return nested.some((inner) => isUnavailable(inner, depth + 1));
}

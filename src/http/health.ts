import express, { type Request, type Response } from 'express';
import type { Knex } from 'knex';
import { migrationsCurrent } from '../store/migrations';

/** What `/readyz` checks; the server sets `draining` when it starts shutting down. */
export interface Readiness {
  draining: boolean;
  check(): Promise<ReadyReport>;
}

export interface ReadyReport {
  ready: boolean;
  checks: { database: 'ok' | 'unreachable'; migrations: 'current' | 'pending' | 'unknown'; draining?: true };
}

/** A probe that hangs is as bad as one that fails: load balancers time out at a few seconds. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * Readiness against the live database: one trivial query per probe (cheap on both dialects), and the
 * migration table only until it has been seen current once, since this process never un-applies them.
 */
export function createReadiness(knex: Knex): Readiness {
  let migrated = false;
  const readiness: Readiness = {
    draining: false,
    async check() {
      let database: ReadyReport['checks']['database'] = 'ok';
      let migrations: ReadyReport['checks']['migrations'] = migrated ? 'current' : 'unknown';
      try {
        await withTimeout(Promise.resolve(knex.raw('select 1')));
        if (!migrated) {
          migrated = await withTimeout(migrationsCurrent(knex));
          migrations = migrated ? 'current' : 'pending';
        }
      } catch {
        database = 'unreachable';
      }
      const checks: ReadyReport['checks'] = { database, migrations, ...(readiness.draining ? { draining: true as const } : {}) };
      return { ready: database === 'ok' && migrations === 'current' && !readiness.draining, checks };
    },
  };
  return readiness;
}

/**
 * `GET /healthz` (the process answers) and `GET /readyz` (it can serve: database reachable,
 * migrations current, not shutting down). Mounted before authentication and admission control,
 * so orchestrators can probe a saturated or locked-down server; the answers carry no data.
 */
export function healthRoutes(readiness: Readiness | undefined): express.Router {
  const router = express.Router();
  router.get('/healthz', (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    if (!readiness) {
      res.json({ status: 'ready' });
      return;
    }
    const report = await readiness.check();
    if (!report.ready) {
      res.setHeader('Retry-After', '5');
    }
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'unavailable', checks: report.checks });
  });
  return router;
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness probe timed out')), PROBE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpSecurity } from './auth';
import type { Config } from './config';
import { openCore, type Core, type CoreOptions } from './core';
import { ExportRunner } from './export/runner';
import { createApp } from './http/app';
import { createReadiness } from './http/health';

export interface RunningServer {
  url: string;
  port: number;
  core: Core;
  close(): Promise<void>;
}

export interface StartOptions extends CoreOptions {
  /** Where JSON log lines go; default stdout unless LOG_LEVEL=silent. */
  log?: (line: string) => void;
}

/** The whole server, for `main` and tests: core + Express app, listening on `config.port`. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const core = await openCore(config, options);
  const readiness = createReadiness(core.db.knex);
  const log =
    config.logLevel === 'silent' ? undefined : (options.log ?? ((line: string) => process.stdout.write(`${line}\n`)));
  const app = createApp({
    router: core.router,
    context: core.context,
    bodyLimitBytes: config.bodyLimitBytes,
    baseUrl: config.baseUrl,
    log,
    security: await createHttpSecurity(config, core),
    readiness,
    admission: {
      maxConcurrent: config.maxConcurrentRequests,
      maxQueue: config.maxQueuedRequests,
      queueTimeoutMs: config.queueTimeoutMs,
    },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  // Bulk Data export jobs run in the background of this process, one at a time (src/export/runner.ts).
  core.exports.runner = new ExportRunner(core.exports.jobs, core.context.repo, config.exports, (msg, extra) =>
    log?.(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg, ...extra })),
  );
  core.exports.runner.start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    core,
    close: async () => {
      // Stop accepting, let requests in flight finish, then close the database.
      readiness.draining = true;
      // A request still running after the grace period (a stuck client upload, an endless download)
      // is cut off: a stop must end, and every write is one transaction, so nothing is half-written.
      const deadline = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      clearTimeout(deadline);
      await core.close();
    },
  };
}

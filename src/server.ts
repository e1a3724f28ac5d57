import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config';
import { openCore, type Core, type CoreOptions } from './core';
import { createApp } from './http/app';

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
  const log =
    config.logLevel === 'silent' ? undefined : (options.log ?? ((line: string) => process.stdout.write(`${line}\n`)));
  const app = createApp({
    router: core.router,
    context: core.context,
    bodyLimitBytes: config.bodyLimitBytes,
    baseUrl: config.baseUrl,
    log,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    core,
    close: async () => {
      // Stop accepting, let requests in flight finish, then close the database.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await core.close();
    },
  };
}

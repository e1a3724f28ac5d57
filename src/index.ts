import { releaseStartupGarbage } from './common/memory';
import { loadConfig } from './config';
import { startServer } from './server';

/** `npm start`: configuration from the environment, graceful stop on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = (msg: string, extra: Record<string, unknown> = {}): void => {
    if (config.logLevel !== 'silent') {
      process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg, ...extra })}\n`);
    }
  };
  if (config.auth === 'none') {
    process.stderr.write(
      '\n*** WARNING: FHIR_AUTH=none: authentication is OFF. Anyone who can reach this port can read, ***\n' +
        '*** change and delete every record. For local experiments only: never on a network.        ***\n\n',
    );
  }
  const server = await startServer(config);
  releaseStartupGarbage();
  log('listening', { url: `${server.url}/fhir`, database: config.databaseUrl.replace(/\/\/[^@/]*@/, '//***@') });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    log('stopping', { signal });
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

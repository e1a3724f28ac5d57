/**
 * `npm run import -- FILE|DIR …`: loads NDJSON files and Bundles (collection: entry by entry;
 * transaction/batch: as one Bundle request) into the database named by DATABASE_URL, through the
 * FHIR core and its validation pipeline. Bad resources are reported one per line on stderr and do not
 * stop the good ones; resources with ids are PUT, so importing the same files twice changes nothing.
 * Records are restored as they are: the order-lifecycle rules for live events run only with
 * `--apply-rules`. `npm run seed` is `import seed`.
 */
import { progressBar } from './lib/progress';
import { loadConfig } from '../src/config';
import { openCore } from '../src/core';
import { importFiles } from '../src/export/importer';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const applyRules = args.includes('--apply-rules');
  const inputs = args.filter((a) => a !== '--apply-rules');
  if (inputs.length === 0 || inputs.some((a) => a.startsWith('--'))) {
    throw new Error('usage: npm run import -- [--apply-rules] FILE|DIR …  (NDJSON files, or JSON Bundles/resources)');
  }
  const config = loadConfig();
  const core = await openCore(config);
  const bar = progressBar('import [{bar}] {percentage}% | {value}/{total} bytes');
  const errors: string[] = [];
  try {
    const report = await importFiles(core, inputs, {
      baseUrl: config.baseUrl ?? `http://localhost:${config.port}/fhir`,
      applyRules,
      onError: (message) => {
        // Below the bar while it runs; all of them again after it.
        errors.push(message);
        if (!bar.drawn) {
          process.stderr.write(`${message}\n`);
        }
      },
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    if (bar.drawn) {
      for (const message of errors) {
        process.stderr.write(`${message}\n`);
      }
    }
    process.stdout.write(
      `import: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ` +
        `${report.skipped} skipped (server-written types), ${report.failed} failed\n`,
    );
    process.exitCode = report.failed > 0 ? 1 : 0;
  } finally {
    bar.stop();
    await core.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`import failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * `npm run export -- --out DIR [--format ndjson|bundle] [--type T,…] [--since INSTANT] [--patient ID,…]
 * [--max-per-file N]`: writes resources from the database named by DATABASE_URL straight to files
 * (no server needed), with a progress bar on stderr (when it is a terminal) and a summary on stdout.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config';
import { PATIENT_EXPORT_TYPES, EXPORTABLE_TYPES } from '../src/export/params';
import { exportToDirectory } from '../src/export/to-directory';
import { progressBar } from './lib/progress';
import { parseInstant } from '../src/fhir/params';
import { openDatabase } from '../src/store/database';
import { KnexRepository } from '../src/store/knex-repository';
import { migrateToLatest } from '../src/store/migrations';

const USAGE =
  'usage: npm run export -- --out DIR [--format ndjson|bundle] [--type T,…] [--since INSTANT] [--patient ID,…] [--max-per-file N]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      format: { type: 'string', default: 'ndjson' },
      type: { type: 'string', multiple: true },
      since: { type: 'string' },
      patient: { type: 'string', multiple: true },
      'max-per-file': { type: 'string' },
    },
  });
  const list = (v: string[] | undefined): string[] | undefined => v?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (!values.out || (values.format !== 'ndjson' && values.format !== 'bundle')) {
    throw new Error(USAGE);
  }
  const patients = list(values.patient);
  const allowed = patients ? PATIENT_EXPORT_TYPES : EXPORTABLE_TYPES;
  const types = list(values.type);
  for (const t of types ?? []) {
    if (!allowed.includes(t)) {
      throw new Error(`--type ${t}: not exportable${patients ? ' with --patient' : ''} (choose from ${allowed.join(', ')})`);
    }
  }
  const config = loadConfig();
  const maxPerFile = Number(values['max-per-file'] ?? (values.format === 'bundle' ? 1000 : config.exports.maxLinesPerFile));
  if (!Number.isInteger(maxPerFile) || maxPerFile < 1) {
    throw new Error('--max-per-file must be a positive integer');
  }
  const db = openDatabase(config.databaseUrl);
  const bar = progressBar('export [{bar}] {percentage}% | {value}/{total} resources | {eta_formatted} left');
  try {
    await migrateToLatest(db.knex);
    const repo = new KnexRepository(db.knex, db.dialect);
    const summary = await exportToDirectory(repo, {
      out: values.out,
      format: values.format,
      types: types ? allowed.filter((t) => types.includes(t)) : [...allowed],
      since: values.since ? parseInstant(values.since, '--since') : undefined,
      patients: patients ? { ids: patients } : undefined,
      maxPerFile,
      pageSize: config.exports.pageSize,
      baseUrl: config.baseUrl,
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    const total = Object.values(summary.counts).reduce((a, b) => a + b, 0);
    for (const [type, n] of Object.entries(summary.counts)) {
      process.stdout.write(`${type.padEnd(18)} ${String(n).padStart(10)}\n`);
    }
    process.stdout.write(
      `export: ${total} resources in ${summary.files.length} files, ${summary.bytes} bytes, ` +
        `${summary.seconds.toFixed(1)} s (${Math.round(total / Math.max(summary.seconds, 0.001))} resources/s) → ${values.out}\n`,
    );
  } finally {
    bar.stop();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`export failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * `node dist/scripts/bench-export.js [N] [--index] [--keep DIR]`: export throughput and memory on SQLite.
 *
 * 1. Generates about N resources (patients with their block orders, procedures and outcomes) into a
 *    fresh SQLite database, through the repository in big transactions (a fast path: no validation,
 *    and search index rows only with --index; neither is what is measured).
 * 2. In a child process (so that its peak RSS is the export's alone), exports everything twice:
 *    with the command-line engine (NDJSON files, no job bookkeeping) and as a Bulk Data job through
 *    the job runner (a checkpoint row update per page), and prints resources/s and peak RSS.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { loadExportConfig } from '../src/export/config';
import { parseExportParams } from '../src/export/params';
import { ExportRunner } from '../src/export/runner';
import { ExportService } from '../src/export/service';
import { exportToDirectory } from '../src/export/to-directory';
import { loadBaseDefinitions } from '../src/definitions';
import { openDatabase } from '../src/store/database';
import { ExportJobStore } from '../src/store/export-sql';
import { searchIndexHook } from '../src/store/indexing/index-hook';
import { KnexRepository } from '../src/store/knex-repository';
import { migrateToLatest } from '../src/store/migrations';

const PER_PATIENT = 11; // 1 patient, 2 orders, 2 procedures, 6 observations
const BATCH = 5000;

async function generate(dbFile: string, target: number, withIndex: boolean): Promise<number> {
  loadBaseDefinitions();
  const db = openDatabase(`sqlite:${dbFile}`);
  await migrateToLatest(db.knex);
  // Bulk loading: the WAL needs no fsync per commit here (the file is thrown away).
  await db.knex.raw('PRAGMA synchronous = OFF');
  // Search index rows only with --index: a system export reads the resource table alone, and
  // extracting index values (FHIRPath per parameter) is most of the generation time.
  const repo = new KnexRepository(db.knex, db.dialect, withIndex ? [searchIndexHook] : []);
  let written = 0;
  const doctors = Array.from({ length: 50 }, (_, i) => `bench-doc-${i}`);
  await repo.transaction(async (tx) => {
    for (const id of doctors) {
      await tx.create({ resourceType: 'Practitioner', name: [{ family: `Doc${id}` }] }, { id });
      written++;
    }
  });
  const patients = Math.ceil((target - written) / PER_PATIENT);
  let queue: { resource: Resource; id: string }[] = [];
  const flush = async (): Promise<void> => {
    const batch = queue;
    queue = [];
    await repo.transaction(async (tx) => {
      for (const { resource, id } of batch) {
        await tx.create(resource, { id });
      }
    });
    written += batch.length;
    if (process.stderr.isTTY) {
      process.stderr.write(`\rgenerated ${written}`);
    }
  };
  for (let p = 0; p < patients; p++) {
    queue.push(...patientRecord(p, doctors[p % doctors.length]));
    if (queue.length >= BATCH) {
      await flush();
    }
  }
  await flush();
  await db.close();
  return written;
}

function patientRecord(p: number, doctor: string): { resource: Resource; id: string }[] {
  const pid = `bench-p${p}`;
  const out: { resource: Resource; id: string }[] = [
    {
      id: pid,
      resource: {
        resourceType: 'Patient',
        identifier: [{ system: 'http://clinic.example/mrn', value: `MRN-${p}` }],
        name: [{ family: `Bench${p}`, given: ['Alex'] }],
        gender: p % 2 ? 'female' : 'male',
        birthDate: '1970-04-12',
      },
    },
  ];
  for (let b = 0; b < 2; b++) {
    const order = `${pid}-sr${b}`;
    const proc = `${pid}-pr${b}`;
    out.push({
      id: order,
      resource: {
        resourceType: 'ServiceRequest',
        status: 'completed',
        intent: 'order',
        code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '64520' }] },
        subject: { reference: `Patient/${pid}` },
        requester: { reference: `Practitioner/${doctor}` },
        authoredOn: '2026-01-10T09:00:00Z',
      },
    });
    out.push({
      id: proc,
      resource: {
        resourceType: 'Procedure',
        basedOn: [{ reference: `ServiceRequest/${order}` }],
        status: 'completed',
        code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '64520' }] },
        subject: { reference: `Patient/${pid}` },
        performedDateTime: '2026-01-15T09:30:00Z',
        performer: [{ actor: { reference: `Practitioner/${doctor}` } }],
      },
    });
    for (let o = 0; o < 3; o++) {
      out.push({
        id: `${proc}-ob${o}`,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '72514-3' }] },
          subject: { reference: `Patient/${pid}` },
          partOf: [{ reference: `Procedure/${proc}` }],
          effectiveDateTime: '2026-01-15T10:00:00Z',
          valueInteger: (p + o) % 11,
        },
      });
    }
  }
  return out;
}

/** The child: one export, reporting its own time and peak RSS. */
async function measure(dbFile: string, out: string, mode: 'cli' | 'job'): Promise<void> {
  const db = openDatabase(`sqlite:${dbFile}`);
  const repo = new KnexRepository(db.knex, db.dialect);
  const config = { ...loadExportConfig(process.env), dir: out };
  const started = process.hrtime.bigint();
  let count = 0;
  let bytes = 0;
  if (mode === 'cli') {
    const summary = await exportToDirectory(repo, { out, format: 'ndjson', maxPerFile: config.maxLinesPerFile, pageSize: config.pageSize });
    count = Object.values(summary.counts).reduce((a, b) => a + b, 0);
    bytes = summary.bytes;
  } else {
    const jobs = new ExportJobStore(db.knex, db.dialect);
    const service = new ExportService(jobs, config, false);
    const id = await service.kickoff('system', parseExportParams('system', {}, { lenient: false, baseUrl: 'http://bench/fhir' }), 'bench', 'bench');
    const runner = new ExportRunner(jobs, repo, { ...config, timeMarginSeconds: 0 });
    await runner.runOnce();
    const job = await jobs.get(id);
    const outputs = (JSON.parse(job!.progress!) as { outputs: { count: number; bytes: number }[] }).outputs;
    count = outputs.reduce((n, o) => n + o.count, 0);
    bytes = outputs.reduce((n, o) => n + o.bytes, 0);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await db.close();
  // maxRSS is in kilobytes.
  const peakMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ mode, count, bytes, seconds, perSecond: Math.round(count / seconds), peakRssMb: Math.round(peakMb) }) + '\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--measure') {
    await measure(args[1], args[2], args[3] as 'cli' | 'job');
    return;
  }
  const target = Number(args[0] ?? 200_000);
  const keep = args.indexOf('--keep') >= 0 ? args[args.indexOf('--keep') + 1] : undefined;
  const dir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-bench-'));
  fs.mkdirSync(dir, { recursive: true });
  const dbFile = path.join(dir, 'bench.sqlite');
  try {
    const t0 = Date.now();
    const written = await generate(dbFile, target, args.includes('--index'));
    const genSeconds = (Date.now() - t0) / 1000;
    process.stdout.write(
      `generated ${written} resources in ${genSeconds.toFixed(1)} s; database ${(fs.statSync(dbFile).size / 1e6).toFixed(0)} MB\n`,
    );
    for (const mode of ['cli', 'job']) {
      const out = path.join(dir, `out-${mode}`);
      const line = execFileSync(process.execPath, [__filename, '--measure', dbFile, out, mode], { encoding: 'utf8' });
      const r = JSON.parse(line) as { count: number; bytes: number; seconds: number; perSecond: number; peakRssMb: number };
      process.stdout.write(
        `${mode === 'cli' ? 'npm run export ' : '$export job    '}: ${r.count} resources, ${(r.bytes / 1e6).toFixed(0)} MB NDJSON in ` +
          `${r.seconds.toFixed(1)} s = ${r.perSecond} resources/s, peak RSS ${r.peakRssMb} MB\n`,
      );
      fs.rmSync(out, { recursive: true, force: true });
    }
  } finally {
    if (!keep) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

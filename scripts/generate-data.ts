/**
 * `npm run generate -- --resources 1000000 [--validate-every 100]`: fills the configured database
 * (DATABASE_URL) with synthetic block data for benchmarks: patients, each with block orders, a
 * completed procedure per order and its outcome observations (pain scores, skin temperatures),
 * built by the same builders the tests use, so they conform to the block profiles.
 *
 * Every resource is stored as the API stores it (resource row, history row, search index rows), in
 * multi-row inserts of 1,000 per transaction (`repository.createMany`), but without the per-request extras (AuditEvent, Provenance,
 * subscription matching, domain rules) and, for speed, validated only every Nth resource (default:
 * every 50th; `--validate-every 1` validates all). A sample that fails validation stops the run.
 */
import type { Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../src/config';
import { loadBaseDefinitions } from '../src/definitions';
import { openDatabase } from '../src/store/database';
import { searchIndexHook } from '../src/store/indexing/index-hook';
import { KnexRepository } from '../src/store/knex-repository';
import { migrateToLatest, refreshPlannerStatistics } from '../src/store/migrations';
import { validateForWrite } from '../src/validation/pipeline';
import { blockOrder, blockProcedure, painScore, patient, practitioner, skinTemperature } from '../test/support/fixtures';

const ORDERS_PER_PATIENT = 4;
/** Patient + per order: order, procedure, 2 pain scores, 2 temperatures = 1 + 6 × 4 resources. */
const RESOURCES_PER_PATIENT = 1 + ORDERS_PER_PATIENT * 6;
const BATCH = 1000;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const target = arg('resources', 10_000);
  const validateEvery = arg('validate-every', 50);
  const config = loadConfig();
  loadBaseDefinitions();
  const db = openDatabase(config.databaseUrl);
  await migrateToLatest(db.knex);
  const repo = new KnexRepository(db.knex, db.dialect, [searchIndexHook]);
  const started = Date.now();
  let written = 0;
  let validated = 0;
  const doctor = await repo.create(practitioner(), { id: 'gen-practitioner' }).catch(() => undefined);
  const doctorId = doctor?.id ?? 'gen-practitioner';
  let pending: { resource: Resource; id: string }[] = [];

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    await repo.createMany(batch);
    written += batch.length;
    if (written % 20_000 < BATCH) {
      const rate = Math.round(written / ((Date.now() - started) / 1000));
      process.stderr.write(`\r${written.toLocaleString()} resources, ${rate}/s   `);
    }
  };
  const add = async (resource: Resource, id: string): Promise<void> => {
    if ((written + pending.length) % validateEvery === 0) {
      validateForWrite(resource, resource.resourceType); // throws on a non-conforming sample
      validated++;
    }
    pending.push({ resource, id });
    if (pending.length >= BATCH) {
      await flush();
    }
  };

  const runId = Date.now().toString(36);
  for (let p = 0; written + pending.length + RESOURCES_PER_PATIENT <= target; p++) {
    const patientId = `gen-${runId}-p${p}`;
    await add({ ...patient(`Gen${p}`), identifier: [{ system: 'urn:gen:mrn', value: `${runId}-${p}` }] }, patientId);
    for (let o = 0; o < ORDERS_PER_PATIENT; o++) {
      const day = new Date(Date.UTC(2025, 0, 1) + ((p * 7 + o * 30) % 700) * 86_400_000);
      const orderId = `${patientId}-o${o}`;
      const procedureId = `${orderId}-proc`;
      // Stored as the lifecycle leaves it: the order completed by its procedure.
      await add({ ...blockOrder(patientId, doctorId, `${runId}-${p}-${o}`), status: 'completed', authoredOn: day.toISOString() }, orderId);
      await add({ ...blockProcedure(patientId, orderId, doctorId), performedDateTime: day.toISOString() }, procedureId);
      const at = (minutes: number): string => new Date(day.getTime() + minutes * 60_000).toISOString();
      await add(painScore(patientId, procedureId, 7 + (p % 4), at(0), 'pre-block'), `${procedureId}-pain-0`);
      await add(painScore(patientId, procedureId, p % 8, at(30), 'post-30min'), `${procedureId}-pain-30`);
      await add(skinTemperature(patientId, procedureId, 28 + (p % 3), at(0), 'pre-block'), `${procedureId}-temp-0`);
      await add(skinTemperature(patientId, procedureId, 30 + (p % 5), at(30), 'post-30min'), `${procedureId}-temp-30`);
    }
  }
  if (pending.length > 0) {
    await flush();
  }
  await refreshPlannerStatistics(db.knex);
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write('\n');
  process.stdout.write(
    `generated ${written.toLocaleString()} resources in ${seconds.toFixed(1)} s (${Math.round(written / seconds)}/s), ${validated} validated samples\n`,
  );
  await db.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`generate failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

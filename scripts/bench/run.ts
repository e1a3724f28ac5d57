/**
 * `npm run bench [-- --quick] [-- --only create,read]`: starts the server on a fresh database
 * (SQLite in a temp dir, or DATABASE_URL), loads data over HTTP, drives each scenario with autocannon
 * at 10 connections after a warm-up, and prints one table: scenario, req/s, p50, p99, errors, RSS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { blockOrder, blockProcedure, painScore, patient, practitioner, skinTemperature } from '../../test/support/fixtures';
import { startServerProcess, type BenchServer } from './server-process';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const DURATION = quick ? 4 : 20;
const WARMUP = quick ? 1 : 5;
const CONNECTIONS = 10;
const JSON_HEADERS = { 'content-type': 'application/fhir+json' };

interface Row {
  scenario: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  rssMb: number;
  note?: string;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-bench-'));
  const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${path.join(dir, 'bench.sqlite')}`;
  const server = await startServerProcess(databaseUrl);
  const rows: Row[] = [];
  try {
    const data = await loadData(server.url);
    const fhir = `${server.url}/fhir`;
    const run = async (name: string, opts: autocannon.Options, note?: string): Promise<void> => {
      if (only && !only.some((o) => name.startsWith(o))) {
        return;
      }
      await autocannon({ ...opts, duration: WARMUP });
      const result = await autocannon({ ...opts, duration: DURATION });
      rows.push({
        scenario: name,
        reqPerSec: Math.round(result.requests.average),
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx,
        rssMb: Math.round(server.rssMb()),
        note,
      });
      process.stderr.write(`${name}: ${Math.round(result.requests.average)} req/s\n`);
    };
    // Writes go to another patient, so that the searched patient keeps exactly its 100 orders.
    const order = JSON.stringify(blockOrder(data.writerPatientId, data.practitionerId, 'PO-BENCH'));
    await run('1 create block order', { url: `${fhir}/ServiceRequest`, method: 'POST', headers: JSON_HEADERS, body: order, connections: CONNECTIONS });
    await run('2 read order by id', { url: `${fhir}/ServiceRequest/${data.orderId}`, connections: CONNECTIONS });
    await run('3 patient orders search', {
      url: `${fhir}/ServiceRequest?subject=Patient/${data.patientId}&_count=20`,
      connections: CONNECTIONS,
    });
    await run('4 search + _revinclude', {
      url: `${fhir}/ServiceRequest?subject=Patient/${data.patientId}&_count=20&_revinclude=Procedure:based-on&_revinclude:iterate=Observation:part-of`,
      connections: CONNECTIONS,
    });
    await run(
      '5 100-entry transaction',
      { url: fhir, method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(ehrPush()), connections: 1 },
      '1 connection: latency of one EHR push',
    );
    const mixed: autocannon.Request[] = [
      ...Array.from({ length: 4 }, () => ({ method: 'GET' as const, path: `/fhir/ServiceRequest/${data.orderId}` })),
      ...Array.from({ length: 3 }, () => ({ method: 'GET' as const, path: `/fhir/ServiceRequest?subject=Patient/${data.patientId}&_count=20` })),
      ...Array.from({ length: 3 }, () => ({ method: 'POST' as const, path: '/fhir/ServiceRequest', headers: JSON_HEADERS, body: order })),
    ];
    await run('7 mixed 70% read / 30% write', { url: server.url, requests: mixed, connections: CONNECTIONS });
    if (!only || only.some((o) => '6 export'.startsWith(o))) {
      rows.push(await exportScenario(server));
    }
  } finally {
    await server.stop();
    if (!process.env.DATABASE_URL) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  printTable(rows, databaseUrl);
}

/** A patient with 100 orders, each with a completed procedure and two outcome observations. */
async function loadData(url: string): Promise<{ patientId: string; writerPatientId: string; practitionerId: string; orderId: string }> {
  const post = async (type: string, body: unknown): Promise<string> => {
    const res = await fetch(`${url}/fhir/${type}`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
    if (res.status !== 201) {
      throw new Error(`loading ${type}: HTTP ${res.status} ${await res.text()}`);
    }
    return ((await res.json()) as { id: string }).id;
  };
  const patientId = await post('Patient', patient('Bench'));
  const writerPatientId = await post('Patient', patient('Writer'));
  const practitionerId = await post('Practitioner', practitioner());
  let orderId = '';
  for (let i = 0; i < 100; i++) {
    orderId = await post('ServiceRequest', blockOrder(patientId, practitionerId, `PO-LOAD-${i}`));
    if (i % 2 === 0) {
      const procedureId = await post('Procedure', blockProcedure(patientId, orderId, practitionerId));
      await post('Observation', painScore(patientId, procedureId, 8, '2026-01-15T09:00:00Z', 'pre-block'));
      await post('Observation', skinTemperature(patientId, procedureId, 31.5, '2026-01-15T09:30:00Z'));
    }
  }
  return { patientId, writerPatientId, practitionerId, orderId };
}

/** 20 patients with 4 orders each, referenced by urn:uuid: 100 entries. */
function ehrPush(): Bundle {
  const entry: BundleEntry[] = [];
  const doc = 'urn:uuid:00000000-0000-4000-8000-00000000d0c0';
  entry.push({ fullUrl: doc, resource: practitioner(), request: { method: 'POST', url: 'Practitioner' } });
  for (let p = 0; p < 20; p++) {
    const pid = `urn:uuid:00000000-0000-4000-8000-${String(p).padStart(12, '0')}`;
    entry.push({ fullUrl: pid, resource: patient(`Push${p}`), request: { method: 'POST', url: 'Patient' } });
    for (let o = 0; o < (p === 0 ? 3 : 4); o++) {
      const order = blockOrder('x', 'y', `PO-PUSH-${p}-${o}`);
      order.subject = { reference: pid };
      order.requester = { reference: doc };
      entry.push({ resource: order, request: { method: 'POST', url: 'ServiceRequest' } });
    }
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** Bulk export of everything: kick-off, poll, download; resources per second and the server's RSS. */
async function exportScenario(server: BenchServer): Promise<Row> {
  const fhir = `${server.url}/fhir`;
  const started = Date.now();
  const kick = await fetch(`${fhir}/$export`, { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } });
  if (kick.status !== 202) {
    return { scenario: '6 bulk export', reqPerSec: 0, p50: 0, p99: 0, errors: 1, rssMb: Math.round(server.rssMb()), note: `kick-off HTTP ${kick.status}` };
  }
  const status = kick.headers.get('content-location')!;
  let peak = server.rssMb();
  let manifest: { output: { url: string }[] } | undefined;
  while (!manifest) {
    const res = await fetch(status);
    peak = Math.max(peak, server.rssMb());
    if (res.status === 200) {
      manifest = (await res.json()) as { output: { url: string }[] };
    } else if (res.status !== 202) {
      throw new Error(`export status HTTP ${res.status}`);
    } else {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let lines = 0;
  for (const file of manifest.output) {
    const text = await (await fetch(file.url)).text();
    lines += text.split('\n').filter(Boolean).length;
  }
  const seconds = (Date.now() - started) / 1000;
  return {
    scenario: '6 bulk export',
    reqPerSec: Math.round(lines / seconds),
    p50: 0,
    p99: 0,
    errors: 0,
    rssMb: Math.round(peak),
    note: `${lines} resources in ${seconds.toFixed(2)} s (resources/s, peak RSS)`,
  };
}

function printTable(rows: Row[], databaseUrl: string): void {
  const db = databaseUrl.startsWith('sqlite') ? 'SQLite' : 'PostgreSQL';
  const lines = [
    `Benchmark (${db}, ${os.cpus().length} cores, ${quick ? 'quick' : 'full'}: ${DURATION}s per scenario after ${WARMUP}s warm-up, ${new Date().toISOString().slice(0, 10)})`,
    '| scenario | req/s | p50 ms | p99 ms | errors | server RSS MB | note |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.reqPerSec} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.rssMb} | ${r.note ?? ''} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

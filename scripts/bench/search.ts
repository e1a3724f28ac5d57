/**
 * `npm run bench:search` (after `npm run generate -- --resources N` into DATABASE_URL): serves that
 * database and drives the common queries with autocannon at 10 connections, then times each query
 * alone and prints the SQL plan of its statements (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
 * PostgreSQL) to show the indexes used.
 */
import autocannon from 'autocannon';
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/store/database';
import { parseSearch } from '../../src/search/parse';
import type { SearchPlan } from '../../src/search/types';
import { loadBaseDefinitions } from '../../src/definitions';
import { startServerProcess } from './server-process';

const DURATION = Number(process.env.BENCH_SECONDS ?? 15);

async function main(): Promise<void> {
  const config = loadConfig();
  loadBaseDefinitions();
  const db = openDatabase(config.databaseUrl);
  const [{ n }] = await db.knex('resource').count<{ n: number }[]>({ n: '*' });
  // A patient from the middle of the data, and a recent window for polling.
  const [mid] = await db.knex('resource').select('id').where({ resource_type: 'Patient' }).orderBy('id').offset(Math.floor(Number(n) / 50)).limit(1);
  const [{ t }] = await db.knex('resource').max<{ t: string }[]>({ t: 'last_updated' });
  const since = new Date(Date.parse(t) - 60_000).toISOString();
  const queries: [string, string, Record<string, string | string[]>][] = [
    ['patient orders + procedures', 'ServiceRequest', { subject: `Patient/${mid.id}`, _revinclude: 'Procedure:based-on', _count: '20' }],
    ['observations by code and date', 'Observation', { code: 'http://loinc.org|72514-3', date: ['ge2025-06-01', 'lt2025-06-08'], _count: '20' }],
    ['_lastUpdated polling window', 'Observation', { _lastUpdated: `gt${since}`, _count: '100' }],
    ['patient observations', 'Observation', { patient: `Patient/${mid.id}`, _count: '50' }],
  ];
  await db.close();

  const server = await startServerProcess(config.databaseUrl);
  const lines = [
    `Search at ${Number(n).toLocaleString()} stored resources (${config.databaseUrl.split(':')[0]}, 10 connections, ${DURATION}s each, ${new Date().toISOString().slice(0, 10)})`,
    '| query | req/s | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|',
  ];
  try {
    for (const [name, type, query] of queries) {
      const url = `${server.url}/fhir/${type}?${new URLSearchParams(Object.entries(query).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]))).toString()}`;
      await autocannon({ url, connections: 10, duration: 2 });
      const r = await autocannon({ url, connections: 10, duration: DURATION });
      lines.push(`| ${name} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${r.errors + r.non2xx} |`);
      process.stderr.write(`${name}: ${Math.round(r.requests.average)} req/s\n`);
    }
  } finally {
    await server.stop();
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
  await printPlans(config.databaseUrl, queries);
}

/**
 * Each query alone (the store's searchPage, no HTTP: median of 20 sequential runs), then the plan of
 * every statement it runs: the selectivity probe, the date bounds of a date-ordered search, the page.
 */
async function printPlans(url: string, queries: [string, string, Record<string, string | string[]>][]): Promise<void> {
  const db = openDatabase(url);
  const { searchPage } = await import('../../src/store/search-sql');
  for (const [name, type, query] of queries) {
    const parsed = parseSearch(type, query, { strict: true, baseUrl: '' });
    // A fresh conditions array each run: the probe's verdict is kept per array (per request).
    const plan = (): SearchPlan => ({ ...parsed, conditions: [...parsed.conditions], include: [], revinclude: [] });
    const statements: { sql: string; bindings: unknown[] }[] = [];
    const listen = (q: { sql: string; bindings: unknown[] }): number => statements.push(q);
    db.knex.on('query', listen);
    await searchPage(db.knex, plan());
    db.knex.off('query', listen);
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await searchPage(db.knex, plan());
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(`${name}: alone ${times[10].toFixed(1)} ms (median of 20)\n`);
    // PostgreSQL: a statement may run with a plan type switched off (SET LOCAL in its transaction).
    let setting: string | undefined;
    for (const { sql, bindings } of statements) {
      if (/^set local .* = off$/i.test(sql)) {
        setting = sql;
        continue;
      }
      if (!/^\s*(select|with)\b/i.test(sql)) {
        continue; // BEGIN, COMMIT, SET … = on
      }
      const explain = db.dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN ' : 'EXPLAIN ';
      // knex reports PostgreSQL statements with $n placeholders; knex.raw takes ?.
      const statement = explain + sql.replace(/\$\d+/g, '?');
      const before = setting;
      setting = undefined;
      const rows = (before
        ? await db.knex.transaction(async (trx) => {
            await trx.raw(before);
            return trx.raw(statement, bindings as never[]);
          })
        : await db.knex.raw(statement, bindings as never[])) as unknown;
      if (before) {
        process.stdout.write(`  (${before})\n`);
      }
      const text = db.dialect === 'sqlite'
        ? (rows as { detail: string }[]).map((r) => `    ${r.detail}`).join('\n')
        : (rows as { rows: { 'QUERY PLAN': string }[] }).rows.map((r) => `    ${r['QUERY PLAN']}`).join('\n');
      process.stdout.write(`  ${sql.length > 100 ? `${sql.slice(0, 100)}…` : sql}\n${text}\n`);
    }
  }
  await db.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:search failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

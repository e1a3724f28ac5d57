import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { blockOrder, patient, practitioner } from '../test/support/fixtures';
import { createSqliteDatabase, rssMiB, sleep, startChild, type ChildDatabase } from '../test/robustness/child';

/**
 * `npm run soak`: full load against a real server process, to show that memory stays flat and
 * overload is answered with 503 + Retry-After instead of growing queues. Mixed traffic: creates,
 * transaction Bundles, reads and searches, from more connections than the server admits at once.
 *
 *   SOAK_SECONDS (600)      how long to load
 *   SOAK_CONNECTIONS (128)  concurrent client connections
 *   SOAK_SAMPLE_SECONDS (10) RSS sampling interval
 *   DATABASE_URL            default: a fresh SQLite file
 *   FHIR_MAX_CONCURRENT_REQUESTS, FHIR_MAX_QUEUE, ...  passed to the server as usual
 *
 * Exit 1 when RSS in the last third of the run exceeds the second third by more than
 * SOAK_MAX_GROWTH_MIB (64): the first third is warm-up (JIT, caches, pools).
 */
const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const connections = Number(process.env.SOAK_CONNECTIONS ?? 128);
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const maxGrowthMiB = Number(process.env.SOAK_MAX_GROWTH_MIB ?? 64);
const JSON_HEADERS = { 'content-type': 'application/fhir+json' };

async function post(url: string, body: unknown): Promise<{ id: string }> {
  const res = await fetch(url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
  if (res.status !== 201) {
    throw new Error(`seeding ${url}: ${res.status} ${await res.text()}`);
  }
  return (await res.json()) as { id: string };
}

async function main(): Promise<void> {
  let db: ChildDatabase | undefined;
  if (!process.env.DATABASE_URL) {
    db = await createSqliteDatabase();
  }
  const databaseUrl = process.env.DATABASE_URL ?? db!.url;
  const server = await startChild(databaseUrl);
  const pid = server.process.pid!;
  const fhir = `${server.url}/fhir`;
  const pat = await post(`${fhir}/Patient`, patient('Soak'));
  const doc = await post(`${fhir}/Practitioner`, practitioner());
  await post(`${fhir}/ServiceRequest`, blockOrder(pat.id, doc.id, 'SOAK-1'));
  log(`server pid ${pid} on ${databaseUrl}; ${connections} connections for ${seconds} s`);

  const statuses = new Map<number, number>();
  let retryAfterMissing = 0;
  const unique = (): string => randomUUID();
  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (err: unknown) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const instance = autocannon({
    url: server.url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/fhir/Patient',
        headers: JSON_HEADERS,
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ ...patient(`Soak`), identifier: [{ system: 'urn:soak', value: unique() }] }) }),
      },
      { method: 'GET', path: `/fhir/Patient/${pat.id}` },
      { method: 'GET', path: `/fhir/ServiceRequest?patient=${pat.id}&_revinclude=Procedure:based-on&_count=10` },
      {
        method: 'POST',
        path: '/fhir',
        headers: JSON_HEADERS,
        setupRequest: (req) => ({ ...req, body: JSON.stringify(soakBundle(doc.id)) }),
      },
      { method: 'GET', path: '/fhir/Patient?identifier=urn:soak|&_count=20&_sort=-_lastUpdated' },
    ],
  }, (err, result) => (err ? fail(err) : finish(result)));
  instance.on('response', (_client: unknown, statusCode: number) => {
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
  });
  // autocannon's response event carries no headers: spot-check 503s for Retry-After meanwhile.
  let stop = false;
  const spotCheck = (async () => {
    while (!stop) {
      const res = await fetch(`${fhir}/Patient/${pat.id}`).catch(() => undefined);
      if (res?.status === 503 && !res.headers.get('retry-after')) {
        retryAfterMissing++;
      }
      await res?.text();
      await sleep(200);
    }
  })();

  const samples: { t: number; rss: number; requests: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    const rss = rssMiB(pid);
    const requests = [...statuses.values()].reduce((a, b) => a + b, 0);
    if (rss !== undefined) {
      samples.push({ t: Math.round((Date.now() - started) / 1000), rss, requests });
      log(`t=${samples.at(-1)!.t}s rss=${rss.toFixed(1)} MiB requests=${requests} ${JSON.stringify(Object.fromEntries(statuses))}`);
    }
  }, sampleSeconds * 1000);
  const result = await done;
  clearInterval(sampler);
  stop = true;
  await spotCheck;

  const ready = await fetch(`${server.url}/readyz`);
  server.process.kill('SIGTERM');
  const exit = await server.exited;
  await db?.dispose();

  const third = Math.floor(samples.length / 3);
  const avg = (xs: { rss: number }[]): number => xs.reduce((a, s) => a + s.rss, 0) / Math.max(1, xs.length);
  const middle = avg(samples.slice(third, 2 * third));
  const last = avg(samples.slice(2 * third));
  const summary = {
    seconds,
    connections,
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.average),
    latencyP99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses: Object.fromEntries(statuses),
    rssMiB: { first: samples[0]?.rss, middleThirdAvg: round(middle), lastThirdAvg: round(last), max: round(Math.max(...samples.map((s) => s.rss))) },
    retryAfterMissing,
    readyAfter: ready.status,
    exit,
  };
  log(JSON.stringify(summary, null, 2));
  const fiveHundreds = [...statuses.entries()].filter(([s]) => s >= 500 && s !== 503).reduce((a, [, n]) => a + n, 0);
  const failed = last - middle > maxGrowthMiB || fiveHundreds > 0 || retryAfterMissing > 0 || ready.status !== 200 || exit.code !== 0;
  log(failed ? 'SOAK FAILED' : 'soak passed: memory flat, no 5xx but 503, clean stop');
  process.exit(failed ? 1 : 0);
}

function soakBundle(practitionerId: string): unknown {
  const patientUrl = `urn:uuid:${randomUUID()}`;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: patientUrl,
        resource: { ...patient('SoakBundle'), identifier: [{ system: 'urn:soak-bundle', value: randomUUID() }] },
        request: { method: 'POST', url: 'Patient' },
      },
      {
        resource: { ...blockOrder('x', practitionerId, `SOAK-${randomUUID()}`), subject: { reference: patientUrl } },
        request: { method: 'POST', url: 'ServiceRequest' },
      },
    ],
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

import { expect } from 'chai';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpSecurity } from '../../src/auth';
import type { FhirContext, FhirRouter } from '../../src/fhir';
import { createApp } from '../../src/http/app';
import { databaseUnavailable } from '../../src/http/overload';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

const pass: HttpSecurity['beforeBody'][number] = (_req, _res, next) => next();
const NO_SECURITY: HttpSecurity = { install: () => undefined, beforeBody: [pass], afterBody: [pass] };

/** The real app (mount order, error handler) around a router whose requests wait for a gate. */
async function gatedApp(maxConcurrent: number, maxQueue: number, queueTimeoutMs = 10_000) {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let handled = 0;
  const router = {
    handle: async () => {
      handled++;
      await gate;
      return { status: 200, body: { resourceType: 'Basic' } };
    },
  } as unknown as FhirRouter;
  const app = createApp({
    router,
    context: {} as FhirContext,
    bodyLimitBytes: 1024,
    security: NO_SECURITY,
    admission: { maxConcurrent, maxQueue, queueTimeoutMs },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    open: () => open(),
    handled: () => handled,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape
type Json = Record<string, any>;
const get = async (url: string, signal?: AbortSignal): Promise<{ status: number; retryAfter: string | null; body: Json }> => {
  const res = await fetch(url, { signal });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Json };
};

describe('Admission control (src/http/overload.ts)', () => {
  it('works on N at once, queues M, and answers 503 + Retry-After + OperationOutcome beyond', async () => {
    const app = await gatedApp(2, 2);
    try {
      const requests = Array.from({ length: 6 }, () => get(`${app.url}/fhir/Patient`));
      // The two beyond concurrency + queue are refused at once, while the others still wait.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(app.handled(), 'only maxConcurrent reach the FHIR core').to.equal(2);
      // Probes are never queued: they answer while every slot is taken.
      expect((await get(`${app.url}/healthz`)).status).to.equal(200);
      app.open();
      const results = await Promise.all(requests);
      const refused = results.filter((r) => r.status === 503);
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 200, 503, 503]);
      for (const r of refused) {
        expect(r.retryAfter).to.equal('1');
        expect(r.body.resourceType).to.equal('OperationOutcome');
        expect(r.body.issue[0].code).to.equal('transient');
      }
      expect(app.handled()).to.equal(4);
      // Slots are all released: a new burst of two is served at once.
      const again = await Promise.all([get(`${app.url}/fhir/Patient`), get(`${app.url}/fhir/Patient`)]);
      expect(again.map((r) => r.status)).to.deep.equal([200, 200]);
    } finally {
      app.open();
      await app.close();
    }
  });

  it('gives up on a queued request after the queue timeout with 503', async () => {
    const app = await gatedApp(1, 5, 150);
    try {
      const first = get(`${app.url}/fhir/Patient`);
      const queued = await get(`${app.url}/fhir/Patient`);
      expect(queued.status).to.equal(503);
      expect(queued.retryAfter).to.equal('1');
      app.open();
      expect((await first).status).to.equal(200);
    } finally {
      app.open();
      await app.close();
    }
  });

  it('frees the place of a client that hangs up while queued', async () => {
    const app = await gatedApp(1, 1);
    try {
      const first = get(`${app.url}/fhir/Patient`);
      const abort = new AbortController();
      const leaving = get(`${app.url}/fhir/Patient`, abort.signal).catch(() => 'aborted');
      await new Promise((resolve) => setTimeout(resolve, 100));
      abort.abort();
      expect(await leaving).to.equal('aborted');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The queue place is free again, so this one waits instead of being refused.
      const next = get(`${app.url}/fhir/Patient`);
      app.open();
      expect((await first).status).to.equal(200);
      expect((await next).status).to.equal(200);
      expect(app.handled(), 'the abandoned request was never worked on').to.equal(2);
    } finally {
      app.open();
      await app.close();
    }
  });

  it('maps database outages to 503 and leaves other errors alone', () => {
    const refused = Object.assign(new AggregateError([Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })]), {});
    expect(databaseUnavailable(refused)?.status).to.equal(503);
    expect(databaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))?.status).to.equal(503);
    expect(databaseUnavailable(new Error('Connection terminated unexpectedly'))?.status).to.equal(503);
    expect(databaseUnavailable(Object.assign(new Error('Knex: Timeout acquiring a connection.'), { name: 'KnexTimeoutError' }))?.status).to.equal(503);
    expect(databaseUnavailable(new TypeError('x is undefined'))).to.equal(undefined);
    expect(databaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).to.equal(undefined);
  });
});

/** Big enough that 24 bundles at once outlast 2 workers + 3 queue places on a fast machine. */
const BURST_ENTRIES = 80;

for (const kind of testDatabaseKinds()) {
  describe(`Overload against the real server (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { FHIR_MAX_CONCURRENT_REQUESTS: '2', FHIR_MAX_QUEUE: '3' });
    });
    after(async () => server?.stop());

    it('refuses the excess of a burst with 503 and keeps every accepted write', async () => {
      const bundle = (n: number) => ({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: Array.from({ length: BURST_ENTRIES }, (_, i) => ({
          resource: { ...patient(`Burst${n}x${i}`), identifier: [{ system: 'urn:burst', value: `B${n}-${i}` }] },
          request: { method: 'POST', url: 'Patient' },
        })),
      });
      const results = await Promise.all(Array.from({ length: 24 }, (_, n) => server.fhir('', { method: 'POST', body: bundle(n) })));
      const statuses = results.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 503), statuses.join(',')).to.equal(true);
      expect(statuses.filter((s) => s === 503).length, 'some refused').to.be.greaterThan(0);
      expect(statuses.filter((s) => s === 200).length, 'some served').to.be.at.least(5);
      for (const r of results.filter((x) => x.status === 503)) {
        expect(r.headers.get('retry-after')).to.equal('1');
        expect(r.body.resourceType).to.equal('OperationOutcome');
      }
      // Exactly the acknowledged bundles are stored.
      const count = await server.fhir(`/Patient?identifier=${encodeURIComponent('urn:burst|')}&_summary=count`);
      expect(count.body.total).to.equal(statuses.filter((s) => s === 200).length * BURST_ENTRIES);
      expect((await server.fhir('/metadata')).status).to.equal(200);
    });
  });
}

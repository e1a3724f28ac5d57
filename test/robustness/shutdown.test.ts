import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import { patient } from '../support/fixtures';
import { childDatabaseKinds, sleep, startChild, type ChildDatabase, type ChildServer } from './child';

const ENTRIES = 1500;
const MRN = 'http://sympathetic-block-fhir.org/fhir/sid/shutdown-mrn';

/** A request on a new connection (no keep-alive pool), so "refused" really means "not accepting". */
function freshGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
  });
}

function bigTransaction(tag: string): unknown {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: ENTRIES }, (_, i) => ({
      resource: { ...patient(`Shutdown${i}`), identifier: [{ system: MRN, value: `${tag}-${i}` }] },
      request: { method: 'POST', url: 'Patient' },
    })),
  };
}

/**
 * Graceful shutdown of the real process: SIGTERM while a large transaction is in flight → no new
 * connections, the transaction still completes and is acknowledged, workers and database are
 * closed (on SQLite the WAL file is checkpointed away, which happens only on a clean close), exit 0.
 */
for (const kind of childDatabaseKinds()) {
  describe(`Graceful shutdown on SIGTERM (${kind.name})`, function () {
    this.timeout(120_000);
    let db: ChildDatabase;
    let server: ChildServer | undefined;

    before(async () => {
      db = await kind.create();
    });
    after(async () => {
      server?.process.kill('SIGKILL');
      await server?.exited;
      await db?.dispose();
    });

    it('finishes the request in flight, refuses new ones, closes the database and exits 0', async () => {
      server = await startChild(db.url);
      const started = Date.now();
      const inFlight = fetch(`${server.url}/fhir`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(bigTransaction('T1')),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { entry?: unknown[] }, at: Date.now() }));
      let finished = false;
      void inFlight.finally(() => (finished = true));
      await sleep(300);
      server.process.kill('SIGTERM');
      // New connections are refused while the transaction is still being worked on. (One that
      // reached the kernel's backlog before the signal was handled may still be served: retry.)
      let refusedAt: { status: unknown; at: number } = { status: undefined, at: Infinity };
      while (!finished && refusedAt.status !== 'ECONNREFUSED') {
        await sleep(50);
        refusedAt = await freshGet(`${server.url}/healthz`).then(
          (status) => ({ status, at: Date.now() }),
          (err: NodeJS.ErrnoException) => ({ status: err.code, at: Date.now() }),
        );
      }
      const done = await inFlight;
      const exit = await server.exited;
      server = undefined;
      expect(done.status, JSON.stringify(done.body).slice(0, 500)).to.equal(200);
      expect(done.body.entry).to.have.length(ENTRIES);
      expect(refusedAt.status).to.equal('ECONNREFUSED');
      expect(refusedAt.at, 'probe answered before the transaction finished').to.be.lessThan(done.at);
      expect(done.at - started, 'transaction took long enough to be in flight at SIGTERM').to.be.greaterThan(400);
      expect(exit).to.deep.equal({ code: 0, signal: null });
      if (db.name === 'sqlite') {
        expect(fs.existsSync(`${db.url.slice('sqlite:'.length)}-wal`), 'WAL left behind: database not closed').to.equal(false);
      }

      // Everything the transaction acknowledged is there after a restart.
      server = await startChild(db.url);
      const res = await fetch(`${server.url}/fhir/Patient?identifier=${encodeURIComponent(`${MRN}|`)}&_summary=count`);
      expect(((await res.json()) as { total: number }).total).to.equal(ENTRIES);
      server.process.kill('SIGTERM');
      expect((await server.exited).code).to.equal(0);
      server = undefined;
    });
  });
}

import { expect } from 'chai';
import { testDatabaseKinds, type TestDatabase } from '../support/databases';
import { startChild } from '../robustness/child';
import { fhirFetch, type FhirInit } from '../support/server';
import { Receiver } from './receiver';
import { createPatient, FAST_DELIVERY, oneTo, restHook, startOn, subscribe, taggedPatient, type Node } from './support';

for (const kind of testDatabaseKinds()) {
  describe(`Subscriptions: the outbox across restarts and processes (${kind.name})`, () => {
    let database: TestDatabase;
    const nodes: Node[] = [];
    let r: Receiver;

    const start = async (env: Record<string, string> = {}): Promise<Node> => {
      const node = await startOn(database, env);
      nodes.push(node);
      return node;
    };
    const stop = async (node: Node): Promise<void> => {
      nodes.splice(nodes.indexOf(node), 1);
      await node.close();
    };

    beforeEach(async () => {
      database = await kind.create();
      r = new Receiver();
      await r.up();
    });
    afterEach(async () => {
      for (const node of [...nodes]) {
        await stop(node);
      }
      await r.down();
      await database.dispose();
    });

    it('a server stopped mid-delivery loses nothing: the next one on the same database delivers all, in order', async () => {
      const tag = 'urn:test:restart';
      // The first request is never answered: the server stops while it is in flight.
      r.behaviour = (n) => (n === 0 ? 'hang' : 200);
      const first = await start();
      await subscribe(first.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
      for (const n of oneTo(5)) {
        await createPatient(first.fhir, taggedPatient(tag, n));
      }
      await r.until((x) => x.received.length === 1, 'the first request');
      await stop(first);
      expect(r.acknowledged).to.have.length(0);

      await start();
      await r.until((x) => x.acknowledged.length >= 5, 'all five after the restart');
      expect(r.acknowledged.map((q) => q.event)).to.deep.equal(oneTo(5));
      // At least once: the request in flight at the stop is the only one seen twice.
      expect(r.received.map((q) => q.event)).to.deep.equal([1, 1, 2, 3, 4, 5]);
    });

    it('a receiver that never answers is timed out and the notification sent again', async () => {
      r.behaviour = (n) => (n === 0 ? 'hang' : 200);
      const node = await start({ FHIR_SUBSCRIPTION_TIMEOUT_MS: '300' });
      await subscribe(node.fhir, restHook('Patient?identifier=urn:test:timeout|', r.url));
      await createPatient(node.fhir, taggedPatient('urn:test:timeout', 1));
      await createPatient(node.fhir, taggedPatient('urn:test:timeout', 2));
      await r.until((x) => x.acknowledged.length >= 2, 'both after the timeout');
      expect(r.received.map((q) => q.event)).to.deep.equal([1, 1, 2]);
      expect(r.received[1].at - r.received[0].at).to.be.at.least(290);
    });

    it('two servers on one database deliver each notification exactly once, in order', async function () {
      this.timeout(60_000);
      const tag = 'urn:test:two-servers';
      const a = await start();
      // SQLite: the second server is another process, as deployments run it. (SQLite statements are
      // synchronous, so two writer connections in one thread would wait on each other's lock.)
      const child = kind.name === 'sqlite' ? await startChild(database.url, FAST_DELIVERY) : undefined;
      const b = child ? { fhir: (path: string, init?: FhirInit) => fhirFetch(`${child.url}/fhir${path}`, init) } : await start();
      try {
        await subscribe(a.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
        // Writes through both servers at once: either may deliver, but only one at a time per subscription.
        await Promise.all(oneTo(30).map((n) => createPatient((n % 2 ? a : b).fhir, taggedPatient(tag, n))));
        await r.until((x) => x.received.length >= 30, 'thirty notifications');
        await new Promise((resolve) => setTimeout(resolve, 200)); // would-be duplicates have time to show up
        expect(r.received.map((q) => q.event)).to.deep.equal(oneTo(30));
      } finally {
        child?.process.kill('SIGTERM');
        await child?.exited;
      }
    });
  });
}

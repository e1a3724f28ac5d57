import { expect } from 'chai';
import { parseSearch } from '../../src/search/parse';
import { KnexRepository } from '../../src/store/knex-repository';
import type { Repository } from '../../src/store/types';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';
import { oneTo, restHook, subscribe, taggedPatient } from '../subscriptions/support';

/** PostgreSQL group commit: plain creates that arrive together share a transaction (src/store/shared-transactions.ts). */
for (const kind of testDatabaseKinds().filter((k) => k.name === 'postgres')) {
  describe('PostgreSQL: creates that arrive together share one transaction', function () {
    this.timeout(60_000);
    let server: TestServer;
    let patientId: string;
    let practitionerId: string;
    /** How many transactions wrote these rows (PostgreSQL's xmin: the writing transaction's id). */
    const writers = async (type: string, ids: string[]): Promise<number> => {
      const rows = (await server.core.db.knex('resource').where({ resource_type: type }).whereIn('id', ids).select(server.core.db.knex.raw('xmin::text as x'))) as { x: string }[];
      expect(rows).to.have.length(ids.length);
      return new Set(rows.map((r) => r.x)).size;
    };

    before(async () => {
      server = await startTestServer(kind);
      patientId = (await server.fhir('/Patient', { method: 'POST', body: patient('Shared') })).body.id;
      practitionerId = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    });
    after(async () => server?.stop());

    it('concurrent plain creates are stored, each answered after its commit, in fewer transactions than creates', async () => {
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(patientId, practitionerId, `SHARED-${i}`) })),
      );
      expect(results.map((r) => r.status)).to.deep.equal(Array(24).fill(201));
      const ids = results.map((r) => r.body.id as string);
      expect(await writers('ServiceRequest', ids)).to.be.below(24);
      for (const [i, id] of ids.entries()) {
        const read = await server.fhir(`/ServiceRequest/${id}`);
        expect(read.body.identifier[0].value).to.equal(`SHARED-${i}`);
        const search = await server.fhir(`/ServiceRequest?identifier=${encodeURIComponent(`http://ehr.example.org/placer-order|SHARED-${i}`)}`);
        expect(search.body.total, `index rows of SHARED-${i}`).to.equal(1);
      }
    });

    it('a failing create among them gets its own error; the others are stored, the failed one is not', async () => {
      const bad = (i: number) => blockOrder('no-such-patient', practitionerId, `BAD-${i}`);
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          server.fhir('/ServiceRequest', { method: 'POST', body: i % 4 === 1 ? bad(i) : blockOrder(patientId, practitionerId, `MIXED-${i}`) }),
        ),
      );
      for (const [i, res] of results.entries()) {
        if (i % 4 === 1) {
          expect(res.status, res.text).to.equal(422);
          expect(res.body.issue[0].diagnostics).to.contain('Patient/no-such-patient');
          const search = await server.fhir(`/ServiceRequest?identifier=${encodeURIComponent(`http://ehr.example.org/placer-order|BAD-${i}`)}`);
          expect(search.body.total).to.equal(0);
        } else {
          expect(res.status, res.text).to.equal(201);
          expect((await server.fhir(`/ServiceRequest/${res.body.id}`)).status).to.equal(200);
        }
      }
    });

    it('creates that match one Subscription, sharing a transaction, queue their notifications in order: 1..n, none re-run', async () => {
      const tag = 'urn:test:shared-outbox';
      const sub = await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, 'http://127.0.0.1:9/hook'));
      const results = await Promise.all(oneTo(8).map((n) => server.fhir('/Patient', { method: 'POST', body: taggedPatient(tag, n) })));
      expect(results.map((r) => r.status)).to.deep.equal(Array(8).fill(201));
      expect(await writers('Patient', results.map((r) => r.body.id as string)), 'creates shared transactions').to.be.below(8);
      const outbox = (await server.core.db.knex('subscription_outbox').where({ subscription_id: sub.id }).orderBy('seq')) as { seq: number; resource_id: string }[];
      expect(outbox.map((row) => Number(row.seq))).to.deep.equal(oneTo(8));
      expect(outbox.map((row) => row.resource_id).sort()).to.deep.equal(results.map((r) => r.body.id as string).sort());
    });

    /**
     * Eight shareable creates sent together; the fifth also does `extra` after its create. Every
     * row and history row must be stored, and the fifth's in a transaction of its own.
     */
    const fifthRunsAlone = async (name: string, extra: (repo: Repository) => Promise<unknown>): Promise<void> => {
      const repo = new KnexRepository(server.core.db.knex, 'postgres');
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          repo.transaction(
            async (tx) => {
              const version = await tx.create(patient(`${name}${i}`));
              if (i === 4) {
                await extra(tx);
              }
              return version;
            },
            { shareable: true },
          ),
        ),
      );
      const ids = results.map((v) => v.id);
      const knex = server.core.db.knex;
      const rows = (await knex('resource').where({ resource_type: 'Patient' }).whereIn('id', ids).select('id', knex.raw('xmin::text as x'))) as { id: string; x: string }[];
      expect(rows).to.have.length(8);
      const history = await knex('resource_history').where({ resource_type: 'Patient' }).whereIn('id', ids).count({ n: '*' });
      expect(Number(history[0].n)).to.equal(8);
      const fifth = rows.find((r) => r.id === ids[4])!.x;
      expect(rows.filter((r) => r.x === fifth), 'the fifth unit in a transaction of its own').to.have.length(1);
    };

    it('a shareable unit that takes a lock runs again alone, and every unit of its batch is stored', async () => {
      await fifthRunsAlone('Locker', (tx) => tx.lock('shared-transactions-test'));
    });

    it('a shareable unit that sets a savepoint (a search walking a date index) runs again alone; no other unit loses a row', async () => {
      // Its savepoint, rolled back in a shared transaction, would undo the others' statements.
      const plan = parseSearch('Observation', { date: 'ge2020-01-01' }, { strict: true, baseUrl: '' });
      await fifthRunsAlone('Saver', (tx) => tx.search(plan));
    });
  });
}

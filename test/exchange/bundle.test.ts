import { expect } from 'chai';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { withOverrides } from '../../src/store/repository-proxy';
import { startTestServer, type TestServer } from '../support/server';

const MRN = 'http://sympathetic-block-fhir.org/fhir/sid/test-mrn';
const NPI = 'http://hl7.org/fhir/sid/us-npi';
const PLACER = 'http://ehr.example.org/placer-order';

/** The typical EHR push: patient, physician and order in one transaction, each conditional on its identifier. */
function ehrPush(mrn: string, placer: string, extra: BundleEntry[] = []): Bundle {
  const p = { ...patient(mrn), identifier: [{ system: MRN, value: mrn }] };
  const doc = practitioner();
  const order = blockOrder('x', 'y', placer);
  order.subject = { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' };
  order.requester = { reference: 'urn:uuid:22222222-2222-4222-8222-222222222222' };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:33333333-3333-4333-8333-333333333333',
        resource: order,
        request: { method: 'POST', url: 'ServiceRequest', ifNoneExist: `identifier=${PLACER}|${placer}` },
      },
      {
        fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
        resource: p,
        request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` },
      },
      {
        fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
        resource: doc,
        request: { method: 'POST', url: 'Practitioner', ifNoneExist: `identifier=${NPI}|${doc.identifier![0].value}` },
      },
      ...extra,
    ],
  };
}

for (const kind of testDatabaseKinds()) {
  describe(`Transaction and batch Bundles (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => server?.stop());

    const versions = async (): Promise<number> => (await server.fhir('/_history?_count=0')).body.total;

    it('takes an EHR push in one call: conditional creates, urn:uuid references rewritten', async () => {
      const res = await server.fhir('', { method: 'POST', body: ehrPush('MRN-T1', 'PO-T1') });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.type).to.equal('transaction-response');
      expect(res.body.entry.map((e: BundleEntry) => e.response!.status)).to.deep.equal(['201 Created', '201 Created', '201 Created']);
      const [orderLoc, patientLoc, docLoc] = res.body.entry.map((e: BundleEntry) => e.response!.location!);
      expect(orderLoc).to.match(/^ServiceRequest\/[0-9a-f-]{36}\/_history\/1$/);
      const order = await server.fhir(`/${orderLoc.split('/_history')[0]}`);
      expect(order.body.subject.reference).to.equal(patientLoc.split('/_history')[0]);
      expect(order.body.requester.reference).to.equal(docLoc.split('/_history')[0]);
    });

    it('is idempotent: the same push again creates nothing and answers 200 per entry', async () => {
      await server.fhir('', { method: 'POST', body: ehrPush('MRN-T2', 'PO-T2') });
      const before = await versions();
      const again = await server.fhir('', { method: 'POST', body: ehrPush('MRN-T2', 'PO-T2') });
      expect(again.status).to.equal(200);
      expect(again.body.entry.map((e: BundleEntry) => e.response!.status)).to.deep.equal(['200 OK', '200 OK', '200 OK']);
      expect(await versions()).to.equal(before);
      const orders = await server.fhir(`/ServiceRequest?identifier=${PLACER}|PO-T2&_total=accurate`);
      expect(orders.body.total).to.equal(1);
    });

    it('a retried transaction (a lost race re-runs the unit) starts from the Bundle as sent', async () => {
      await server.fhir('', { method: 'POST', body: ehrPush('MRN-T9', 'PO-T9') });
      // Every transaction is run twice, the first attempt rolled back: as the runner re-runs a unit
      // that lost a race (a unique-key collision, a deadlock, SQLite busy).
      const ctx = server.core.context;
      const original = ctx.repo;
      class Retry extends Error {}
      ctx.repo = withOverrides(original, {
        transaction: async (work) => {
          await original.transaction(async (repo) => {
            await work(repo);
            throw new Retry();
          }).catch((err: unknown) => {
            if (!(err instanceof Retry)) {
              throw err;
            }
          });
          return original.transaction(work);
        },
      });
      try {
        // An existing patient (matched) and a new one (created) with its order, on the retried run.
        const res = await server.fhir('', { method: 'POST', body: ehrPush('MRN-T9', 'PO-T9b') });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.entry.map((e: BundleEntry) => e.response!.status)).to.deep.equal(['201 Created', '200 OK', '200 OK']);
        const fresh = await server.fhir('', { method: 'POST', body: ehrPush('MRN-T9new', 'PO-T9c') });
        expect(fresh.status, fresh.text).to.equal(200);
        expect(fresh.body.entry.map((e: BundleEntry) => e.response!.status)).to.deep.equal(['201 Created', '201 Created', '200 OK']);
      } finally {
        ctx.repo = original;
      }
      for (const [mrn, placer] of [['MRN-T9', 'PO-T9b'], ['MRN-T9new', 'PO-T9c']]) {
        const patients = await server.fhir(`/Patient?identifier=${MRN}|${mrn}&_total=accurate`);
        expect(patients.body.total, `one patient ${mrn}`).to.equal(1);
        const order = await server.fhir(`/ServiceRequest?identifier=${PLACER}|${placer}`);
        expect(order.body.entry[0].resource.subject.reference).to.equal(`Patient/${patients.body.entry[0].resource.id}`);
      }
    });

    it('is atomic: one bad entry rolls everything back and is named with its element', async () => {
      const before = await versions();
      const bad = ehrPush('MRN-T3', 'PO-T3');
      (bad.entry![0].resource as unknown as Record<string, unknown>).status = 42;
      const res = await server.fhir('', { method: 'POST', body: bad });
      expect(res.status).to.be.within(400, 422);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(res.body.issue[0].diagnostics).to.contain('Bundle.entry[0]');
      expect(res.body.issue[0].expression[0]).to.match(/^Bundle\.entry\[0\]\.resource\.status/);
      expect(await versions()).to.equal(before);
      expect((await server.fhir(`/Patient?identifier=${MRN}|MRN-T3`)).body.entry ?? []).to.have.length(0);
    });

    it('a row the database refuses is reported against the entry that wrote it, and nothing is stored', async () => {
      // A trigger refuses the search row of one family name: the refusal comes from the database,
      // after the entry's rows were held and written together with later entries' (insert-buffer.ts).
      const knex = server.core.db.knex;
      if (kind.name === 'postgres') {
        await knex.raw(
          "create function refuse_marker() returns trigger language plpgsql as $$ begin raise exception 'refused by the test trigger'; end $$",
        );
        await knex.raw("create trigger refuse_marker before insert on search_string for each row when (new.value = 'refusedfamily') execute function refuse_marker()");
      } else {
        await knex.raw(
          "create trigger refuse_marker before insert on search_string when new.value = 'refusedfamily' begin select raise(abort, 'refused by the test trigger'); end",
        );
      }
      try {
        const before = await versions();
        const entry: BundleEntry[] = ['Firstfamily', 'Refusedfamily', 'Thirdfamily', 'Fourthfamily'].map((family) => ({
          resource: patient(family),
          request: { method: 'POST', url: 'Patient' },
        }));
        const res = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry } });
        expect(res.status, res.text).to.be.within(400, 599);
        expect(res.body.resourceType).to.equal('OperationOutcome');
        expect(res.body.issue[0].diagnostics).to.contain('Bundle.entry[1]');
        expect(await versions()).to.equal(before);
      } finally {
        await knex.raw('drop trigger refuse_marker' + (kind.name === 'postgres' ? ' on search_string' : ''));
        if (kind.name === 'postgres') {
          await knex.raw('drop function refuse_marker');
        }
      }
    });

    it('rejects a reference to a fullUrl that is not in the transaction', async () => {
      const bundle = ehrPush('MRN-T4', 'PO-T4');
      (bundle.entry![0].resource as { subject: { reference: string } }).subject.reference = 'urn:uuid:99999999-9999-4999-8999-999999999999';
      const res = await server.fhir('', { method: 'POST', body: bundle });
      expect(res.status).to.equal(400);
      expect(res.body.issue[0].diagnostics).to.contain('urn:uuid:99999999');
    });

    it('runs DELETE, POST, PUT, GET in that order and answers GET from the transaction itself', async () => {
      const res = await server.fhir('', {
        method: 'POST',
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { request: { method: 'GET', url: `Patient?identifier=${MRN}|MRN-T5` } },
            {
              fullUrl: 'urn:uuid:55555555-5555-4555-8555-555555555555',
              resource: { ...patient('T5'), identifier: [{ system: MRN, value: 'MRN-T5' }] },
              request: { method: 'POST', url: 'Patient' },
            },
            { resource: { ...patient('Put'), id: 'put-t5' }, request: { method: 'PUT', url: 'Patient/put-t5' } },
          ],
        },
      });
      expect(res.status, res.text).to.equal(200);
      const statuses = res.body.entry.map((e: BundleEntry) => e.response!.status);
      expect(statuses).to.deep.equal(['200 OK', '201 Created', '201 Created']);
      // The search ran after the POST, inside the same transaction.
      expect(res.body.entry[0].resource.entry).to.have.length(1);
    });

    it('fails as a whole when a GET entry fails, undoing its DELETE', async () => {
      const old = (await server.fhir('/Patient', { method: 'POST', body: patient('Old') })).body.id;
      const res = await server.fhir('', {
        method: 'POST',
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { request: { method: 'GET', url: `Patient/${old}` } },
            { request: { method: 'DELETE', url: `Patient/${old}` } },
          ],
        },
      });
      // The read ran after the delete (410), so the transaction failed and the delete was rolled back.
      expect(res.status).to.equal(410);
      expect(res.body.issue[0].diagnostics).to.contain('Bundle.entry[0]');
      expect((await server.fhir(`/Patient/${old}`)).status).to.equal(200);
    });

    it('answers each batch entry on its own', async () => {
      const res = await server.fhir('', {
        method: 'POST',
        body: {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { resource: patient('Batch1'), request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Patient', gender: 'nope-not-json-typed', colour: 1 }, request: { method: 'POST', url: 'Patient' } },
            { request: { method: 'GET', url: 'Patient/does-not-exist' } },
          ],
        },
      });
      expect(res.status).to.equal(200);
      expect(res.body.type).to.equal('batch-response');
      const [ok, bad, missing] = res.body.entry;
      expect(ok.response.status).to.equal('201 Created');
      expect(bad.response.status).to.equal('400');
      expect(bad.response.outcome.resourceType).to.equal('OperationOutcome');
      expect(missing.response.status).to.equal('404');
    });

    it('rejects malformed Bundles with 400', async () => {
      for (const body of [
        { resourceType: 'Bundle', type: 'collection', entry: [] },
        { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient() }] },
        { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'http://elsewhere/Patient' }, resource: patient() }] },
        { resourceType: 'Patient' },
      ]) {
        const res = await server.fhir('', { method: 'POST', body });
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.resourceType).to.equal('OperationOutcome');
      }
    });

    it('two concurrent identical pushes create each resource exactly once', async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => server.fhir('', { method: 'POST', body: ehrPush('MRN-RACE', 'PO-RACE') })),
      );
      expect(results.map((r) => r.status)).to.deep.equal(Array(6).fill(200));
      for (const query of [`Patient?identifier=${MRN}|MRN-RACE`, `ServiceRequest?identifier=${PLACER}|PO-RACE`]) {
        expect((await server.fhir(`/${query}&_total=accurate`)).body.total, query).to.equal(1);
      }
    });
  });
}

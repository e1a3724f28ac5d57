import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

const MRN = 'http://sympathetic-block-fhir.org/fhir/sid/test-mrn';
const PLACER = 'http://ehr.example.org/placer-order';

for (const kind of testDatabaseKinds()) {
  describe(`Conditional interactions and PATCH (${kind.name})`, () => {
    let server: TestServer;
    let pat: string;
    let doc: string;
    before(async () => {
      server = await startTestServer(kind);
      pat = (await server.fhir('/Patient', { method: 'POST', body: patient('Cond') })).body.id;
      doc = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    });
    after(async () => server?.stop());

    it('If-None-Exist returns the existing match with 200, and 412 for several matches', async () => {
      const headers = { 'if-none-exist': `identifier=${PLACER}|PO-C1` };
      const first = await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-C1'), headers });
      expect(first.status).to.equal(201);
      const again = await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-C1'), headers });
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);
      await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-C1') });
      const ambiguous = await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-C1'), headers });
      expect(ambiguous.status).to.equal(412);
      const unknown = await server.fhir('/ServiceRequest', {
        method: 'POST',
        body: blockOrder(pat, doc, 'PO-C1b'),
        headers: { 'if-none-exist': 'colour=blue' },
      });
      expect(unknown.status).to.equal(400);
    });

    it('concurrent identical conditional creates make exactly one resource', async () => {
      const headers = { 'if-none-exist': `identifier=${PLACER}|PO-RACE-1` };
      const results = await Promise.all(
        Array.from({ length: 10 }, () => server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-RACE-1'), headers })),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      expect(new Set(results.map((r) => r.body.id)).size).to.equal(1);
      expect((await server.fhir(`/ServiceRequest?identifier=${PLACER}|PO-RACE-1&_total=accurate`)).body.total).to.equal(1);
    });

    it('conditional update creates on no match and updates the single match', async () => {
      const url = `/Patient?identifier=${MRN}|MRN-CU`;
      const body = { ...patient('CU'), identifier: [{ system: MRN, value: 'MRN-CU' }] };
      const created = await server.fhir(url, { method: 'PUT', body });
      expect(created.status).to.equal(201);
      const updated = await server.fhir(url, { method: 'PUT', body: { ...body, gender: 'male' } });
      expect(updated.status).to.equal(200);
      expect(updated.body.id).to.equal(created.body.id);
      expect(updated.body.meta.versionId).to.equal('2');
    });

    it('conditional delete removes the single match; none is 404', async () => {
      const body = { ...patient('CD'), identifier: [{ system: MRN, value: 'MRN-CD' }] };
      const created = await server.fhir('/Patient', { method: 'POST', body });
      const del = await server.fhir(`/Patient?identifier=${MRN}|MRN-CD`, { method: 'DELETE' });
      expect(del.status).to.equal(200);
      expect((await server.fhir(`/Patient/${created.body.id}`)).status).to.equal(410);
      expect((await server.fhir(`/Patient?identifier=${MRN}|MRN-CD`, { method: 'DELETE' })).status).to.equal(404);
    });

    it('conditional read answers 304 for a current ETag or an unchanged If-Modified-Since', async () => {
      const created = await server.fhir('/Patient', { method: 'POST', body: patient('CR') });
      const id = created.body.id;
      const notModified = await server.fhir(`/Patient/${id}`, { headers: { 'if-none-match': 'W/"1"' } });
      expect(notModified.status).to.equal(304);
      expect(notModified.text).to.equal('');
      expect((await server.fhir(`/Patient/${id}`, { headers: { 'if-none-match': 'W/"0"' } })).status).to.equal(200);
      const later = new Date(Date.now() + 5000).toUTCString();
      expect((await server.fhir(`/Patient/${id}`, { headers: { 'if-modified-since': later } })).status).to.equal(304);
    });

    describe('PATCH', () => {
      const jsonPatch = (ops: unknown) => ({
        method: 'PATCH',
        rawBody: JSON.stringify(ops),
        headers: { 'content-type': 'application/json-patch+json' },
      });

      it('applies a JSON Patch, validates the result and makes a new version', async () => {
        const created = await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-P1') });
        const res = await server.fhir(`/ServiceRequest/${created.body.id}`, jsonPatch([{ op: 'add', path: '/priority', value: 'urgent' }]));
        expect(res.status, res.text).to.equal(200);
        expect(res.body.priority).to.equal('urgent');
        expect(res.body.meta.versionId).to.equal('2');
      });

      it('refuses a patch that breaks the resource, fails a test op, or targets a stale version', async () => {
        const created = await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, 'PO-P2') });
        const id = created.body.id;
        const invalid = await server.fhir(`/ServiceRequest/${id}`, jsonPatch([{ op: 'remove', path: '/subject' }]));
        expect(invalid.status).to.be.oneOf([400, 422]);
        expect(invalid.body.issue[0].expression[0]).to.match(/^ServiceRequest/);
        const failedTest = await server.fhir(`/ServiceRequest/${id}`, jsonPatch([{ op: 'test', path: '/status', value: 'draft' }]));
        expect(failedTest.status).to.equal(422);
        const stale = await server.fhir(`/ServiceRequest/${id}`, {
          ...jsonPatch([{ op: 'add', path: '/priority', value: 'stat' }]),
          headers: { 'content-type': 'application/json-patch+json', 'if-match': 'W/"9"' },
        });
        expect(stale.status).to.equal(412);
        const proto = await server.fhir(`/ServiceRequest/${id}`, jsonPatch([{ op: 'add', path: '/__proto__/polluted', value: 1 }]));
        expect(proto.status).to.equal(400);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
        expect((await server.fhir(`/ServiceRequest/${id}`)).body.meta.versionId).to.equal('1');
      });
    });
  });
}

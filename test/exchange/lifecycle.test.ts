import { expect } from 'chai';
import type { Procedure } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, blockProcedure, painScore, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

for (const kind of testDatabaseKinds()) {
  describe(`Block order lifecycle (${kind.name})`, () => {
    let server: TestServer;
    let pat: string;
    let doc: string;
    let n = 0;
    before(async () => {
      server = await startTestServer(kind);
      pat = (await server.fhir('/Patient', { method: 'POST', body: patient('Life') })).body.id;
      doc = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    });
    after(async () => server?.stop());

    const newOrder = async (status = 'active') => {
      const res = await server.fhir('/ServiceRequest', { method: 'POST', body: { ...blockOrder(pat, doc, `PO-L${++n}`), status } });
      expect(res.status, res.text).to.equal(201);
      return res.body;
    };
    const setStatus = (order: { id: string }, status: string) =>
      server.fhir(`/ServiceRequest/${order.id}`, { method: 'PUT', body: { ...order, status } });

    it('completing the procedure completes its order in the same transaction', async () => {
      const order = await newOrder();
      const proc = await server.fhir('/Procedure', { method: 'POST', body: blockProcedure(pat, order.id, doc) });
      expect(proc.status, proc.text).to.equal(201);
      const after = await server.fhir(`/ServiceRequest/${order.id}`);
      expect(after.body.status).to.equal('completed');
      expect(after.body.meta.versionId).to.equal('2');
    });

    it('refuses a procedure against an on-hold order, saying why', async () => {
      const order = await newOrder('on-hold');
      const proc = await server.fhir('/Procedure', { method: 'POST', body: blockProcedure(pat, order.id, doc) });
      expect(proc.status).to.equal(409);
      expect(proc.body.issue[0].diagnostics).to.contain('on hold');
      expect(proc.body.issue[0].expression).to.deep.equal(['Procedure.basedOn[0]']);
      expect((await server.fhir(`/ServiceRequest/${order.id}`)).body.status).to.equal('on-hold');
    });

    it('refuses illegal transitions with 409 and allows legal ones', async () => {
      const order = await newOrder();
      const completed = await setStatus(order, 'completed');
      expect(completed.status).to.equal(200);
      const back = await setStatus(completed.body, 'active');
      expect(back.status).to.equal(409);
      expect(back.body.issue[0].code).to.equal('business-rule');
      expect(back.body.issue[0].expression).to.deep.equal(['ServiceRequest.status']);
      expect((await setStatus(completed.body, 'entered-in-error')).status).to.equal(200);
    });

    it('refuses a post-block measurement on a block still in preparation (sbf-timing-1, on write)', async () => {
      const order = await newOrder();
      const { performedDateTime: _p, ...preparing } = { ...blockProcedure(pat, order.id, doc), status: 'preparation' } as Procedure;
      const proc = await server.fhir('/Procedure', { method: 'POST', body: preparing });
      expect(proc.status, proc.text).to.equal(201);
      const score = await server.fhir('/Observation', {
        method: 'POST',
        body: painScore(pat, proc.body.id, 3, '2026-01-15T10:00:00Z', 'post-30min'),
      });
      expect(score.status).to.equal(422);
      expect(JSON.stringify(score.body)).to.contain('sbf-timing-1');
      const baseline = await server.fhir('/Observation', {
        method: 'POST',
        body: painScore(pat, proc.body.id, 8, '2026-01-15T09:00:00Z', 'pre-block'),
      });
      expect(baseline.status, baseline.text).to.equal(201);
    });

    it('racing status changes are checked against the version they replace', async () => {
      // active → completed and active → on-hold are both legal, but not one after the other:
      // whichever commits second must see the first and be refused (no lost transition check).
      for (let round = 0; round < 8; round++) {
        const order = await newOrder();
        const results = await Promise.all([setStatus(order, 'completed'), setStatus(order, 'on-hold')]);
        expect(results.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([200, 409]);
        const winner = results.find((r) => r.status === 200)!;
        const stored = await server.fhir(`/ServiceRequest/${order.id}`);
        expect(stored.body.status).to.equal(winner.body.status);
        expect(stored.body.meta.versionId).to.equal('2');
      }
    });

    it('a revoked order stops its procedure in progress', async () => {
      const order = await newOrder();
      const { performedDateTime: _p, ...inProgress } = { ...blockProcedure(pat, order.id, doc), status: 'in-progress' } as Procedure;
      const proc = await server.fhir('/Procedure', { method: 'POST', body: inProgress });
      expect(proc.status, proc.text).to.equal(201);
      const revoked = await setStatus(order, 'revoked');
      expect(revoked.status, revoked.text).to.equal(200);
      const after = await server.fhir(`/Procedure/${proc.body.id}`);
      expect(after.body.status).to.equal('stopped');
    });
  });
}

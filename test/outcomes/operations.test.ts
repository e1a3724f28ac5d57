import { expect } from 'chai';
import type { Procedure } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { startTestServer, type TestServer } from '../support/server';
import { BlockScenario, param, params, type Param } from './helpers';

const value = (p: Param | undefined, name: string) => {
  const hit = param(p?.part, name);
  return hit && Object.entries(hit).find(([k]) => k.startsWith('value'))?.[1];
};

for (const kind of testDatabaseKinds()) {
  describe(`$outcome and $block-summary (${kind.name})`, () => {
    let server: TestServer;
    let s: BlockScenario;
    before(async () => {
      server = await startTestServer(kind);
      s = await new BlockScenario(server).setUp('Summary');
    });
    after(async () => server?.stop());

    it('$outcome: scores and temperatures over time, relief, temperature change, response, evidence and thresholds', async () => {
      const p = await s.block();
      const base = await s.pain(p.id, 8, 'pre-block');
      await s.pain(p.id, 5, 'post-30min');
      const best = await s.pain(p.id, 2, 'post-2h');
      const t0 = await s.temperature(p.id, 30.5, 'pre-block');
      const t1 = await s.temperature(p.id, 33.0, 'post-30min');
      const out = await s.outcome(p.id);
      expect(out.resourceType).to.equal('Parameters');
      expect(param(out.parameter, 'procedure')?.valueReference).to.deep.equal({ reference: `Procedure/${p.id}` });
      expect(param(out.parameter, 'side')?.valueCode).to.equal('left');
      const series = params(out.parameter, 'measurement');
      expect(series.map((m) => value(m, 'timing'))).to.deep.equal(['pre-block', 'pre-block', 'post-30min', 'post-30min', 'post-2h']);
      expect(series.map((m) => value(m, 'effective'))).to.deep.equal([...series.map((m) => value(m, 'effective') as string)].sort());
      const relief = param(out.parameter, 'relief');
      expect(value(relief, 'percent')).to.deep.include({ value: 75 });
      expect(value(relief, 'baseline')).to.deep.equal({ reference: `Observation/${base.id}` });
      expect(value(relief, 'best')).to.deep.equal({ reference: `Observation/${best.id}` });
      const temp = param(out.parameter, 'temperature');
      expect(value(temp, 'rise')).to.deep.include({ value: 2.5, code: 'Cel' });
      expect(value(temp, 'blockadeConfirmed')).to.equal(true);
      expect(value(temp, 'before')).to.deep.equal({ reference: `Observation/${t0.id}` });
      expect(value(temp, 'after')).to.deep.equal({ reference: `Observation/${t1.id}` });
      expect(param(out.parameter, 'response')?.valueCoding).to.deep.include({ code: 'positive' });
      const derived = params(out.parameter, 'derived').map((d) => (value(d, 'observation') as { reference: string }).reference);
      expect(derived).to.have.members([`Observation/${p.id}-percent-relief`, `Observation/${p.id}-diagnostic-response`]);
      expect(value(param(out.parameter, 'thresholds'), 'positiveReliefPercent')).to.equal(50);
    });

    it('$outcome explains what cannot be computed, and answers 404 / 410 like a read', async () => {
      const p = await s.block();
      await s.pain(p.id, 0, 'pre-block');
      await s.pain(p.id, 0, 'post-30min');
      const out = await s.outcome(p.id);
      expect(param(out.parameter, 'relief')).to.equal(undefined);
      expect(params(out.parameter, 'note').map((n) => n.valueString).join(' ')).to.contain('baseline pain score is 0');
      expect((await server.fhir('/Procedure/nope/$outcome')).status).to.equal(404);
    });

    it('is advertised in the CapabilityStatement as operations on Procedure and Patient', async () => {
      const cs = (await server.fhir('/metadata')).body;
      const ops = (type: string) =>
        cs.rest[0].resource.find((r: { type: string }) => r.type === type).operation?.map((o: { name: string }) => o.name) ?? [];
      expect(ops('Procedure')).to.include('outcome');
      expect(ops('Patient')).to.include('block-summary');
    });

    it('$block-summary: every block of the patient in order, with target, side, drugs and response', async () => {
      const other = await new BlockScenario(server).setUp('Elsewhere');
      await other.block();
      const summaryOf = new BlockScenario(server);
      await summaryOf.setUp('Series');
      const later = await summaryOf.block((p) => ({ ...p, performedDateTime: '2026-02-01T09:00:00Z' }));
      const first = await summaryOf.block();
      const wrong = await summaryOf.block((p) => ({ ...p, performedDateTime: '2026-01-20T09:00:00Z' }));
      await server.fhir(`/Procedure/${wrong.id}`, { method: 'PUT', body: { ...wrong, status: 'entered-in-error' } as Procedure });
      await summaryOf.pain(first.id, 8, 'pre-block');
      await summaryOf.pain(first.id, 3, 'post-30min');
      await summaryOf.pain(later.id, 8, 'pre-block');
      await summaryOf.pain(later.id, 7, 'post-30min');

      const res = await server.fhir(`/Patient/${summaryOf.pat}/$block-summary`);
      expect(res.status, res.text).to.equal(200);
      const blocks = params(res.body.parameter, 'block');
      expect(param(res.body.parameter, 'count')?.valueInteger).to.equal(2);
      expect(blocks.map((b) => value(b, 'procedure'))).to.deep.equal([{ reference: `Procedure/${first.id}` }, { reference: `Procedure/${later.id}` }]);
      const [one, two] = blocks;
      expect(value(one, 'performed')).to.equal('2026-01-15T09:30:00Z');
      expect(value(one, 'side')).to.equal('left');
      expect(value(one, 'target')).to.deep.include({ coding: [{ system: 'http://sympathetic-block-fhir.org/fhir/CodeSystem/block-target', code: 'L2' }] });
      const drug = param(one.part, 'drug');
      expect(value(drug, 'drug')).to.deep.include({ coding: [{ system: 'http://fdasis.nlm.nih.gov', code: '7TQO7W3VT8' }] });
      expect(value(drug, 'volume')).to.deep.include({ value: 10, code: 'mL' });
      expect(value(one, 'response')).to.deep.include({ code: 'positive' });
      expect(value(two, 'response')).to.deep.include({ code: 'negative' });
      expect((await server.fhir('/Patient/nope/$block-summary')).status).to.equal(404);
    });
  });
}

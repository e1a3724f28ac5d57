import { expect } from 'chai';
import type { Procedure } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { startTestServer, type TestServer } from '../support/server';
import { BlockScenario } from './helpers';

const DERIVED = { system: 'http://sympathetic-block-fhir.org/fhir/CodeSystem/block-derivation', code: 'derived' };
const response = (obs: { valueCodeableConcept?: { coding?: { code?: string }[] } } | undefined) => obs?.valueCodeableConcept?.coding?.[0]?.code;

for (const kind of testDatabaseKinds()) {
  describe(`Outcome engine (${kind.name})`, () => {
    let server: TestServer;
    let s: BlockScenario;
    before(async () => {
      server = await startTestServer(kind);
      s = await new BlockScenario(server).setUp('Engine');
    });
    after(async () => server?.stop());

    it('derives percent relief and the diagnostic response, conformant, tagged and derivedFrom the scores', async () => {
      const p = await s.block();
      const baseline = await s.pain(p.id, 8, 'pre-block');
      expect(await s.derived(p.id, 'percent-relief'), 'nothing before a post-block score').to.equal(undefined);
      const post = await s.pain(p.id, 4, 'post-30min');
      const relief = await s.derived(p.id, 'percent-relief');
      expect(relief?.valueQuantity).to.deep.include({ value: 50, code: '%', system: 'http://unitsofmeasure.org' });
      expect(relief?.status).to.equal('final');
      expect(relief?.meta?.tag).to.deep.include({ ...DERIVED, display: 'Derived by the server from entered observations' });
      expect(relief?.meta?.profile).to.deep.equal(['http://sympathetic-block-fhir.org/fhir/StructureDefinition/block-percent-relief']);
      expect(relief?.partOf).to.deep.equal([{ reference: `Procedure/${p.id}` }]);
      expect(relief?.subject).to.deep.equal({ reference: `Patient/${s.pat}` });
      expect(relief?.derivedFrom).to.deep.equal([{ reference: `Observation/${baseline.id}` }, { reference: `Observation/${post.id}` }]);
      const diag = await s.derived(p.id, 'diagnostic-response');
      expect(response(diag)).to.equal('positive');
      expect(diag?.derivedFrom?.[0]).to.deep.equal({ reference: `Observation/${p.id}-percent-relief` });
      // What was stored passes the server's own validation against its profile.
      for (const obs of [relief, diag]) {
        const check = await server.fhir('/Observation/$validate', { method: 'POST', body: obs });
        expect(check.body.issue.filter((i: { severity: string }) => i.severity === 'error'), check.text).to.deep.equal([]);
      }
      // Searchable like entered data, and told apart by the tag.
      const found = await server.fhir(`/Observation?part-of=Procedure/${p.id}&code=http://sympathetic-block-fhir.org/fhir/CodeSystem/block-outcome|diagnostic-response`);
      expect(found.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([`${p.id}-diagnostic-response`]);
    });

    it('classifies at the boundaries through the API: 50 % positive, 40 % partial, 20 % partial, 10 % negative', async () => {
      for (const [post, expected] of [[5, 'positive'], [6, 'partial'], [8, 'partial'], [9, 'negative']] as const) {
        const p = await s.block();
        await s.pain(p.id, 10, 'pre-block');
        await s.pain(p.id, post, 'post-30min');
        expect(response(await s.derived(p.id, 'diagnostic-response')), `10 → ${post}`).to.equal(expected);
      }
    });

    it('follows corrections with new versions of the same resources, never duplicates', async () => {
      const p = await s.block();
      await s.pain(p.id, 8, 'pre-block');
      const post = await s.pain(p.id, 2, 'post-30min');
      expect((await s.derived(p.id, 'percent-relief'))?.valueQuantity?.value).to.equal(75);
      // The post-block score was mistyped: corrected from 2 to 6.
      const corrected = await server.fhir(`/Observation/${post.id}`, { method: 'PUT', body: { ...post, valueInteger: 6, status: 'corrected' } });
      expect(corrected.status, corrected.text).to.equal(200);
      const relief = await s.derived(p.id, 'percent-relief');
      expect(relief?.valueQuantity?.value).to.equal(25);
      expect(relief?.status).to.equal('amended');
      expect(relief?.meta.versionId).to.equal('2');
      const diag = await s.derived(p.id, 'diagnostic-response');
      expect(response(diag)).to.equal('partial');
      expect(diag?.meta.versionId).to.equal('2');
      // A later, better score moves the reading again.
      await s.pain(p.id, 1, 'post-2h');
      expect((await s.derived(p.id, 'percent-relief'))?.valueQuantity?.value).to.equal(87.5);
      const all = await server.fhir(`/Observation?part-of=Procedure/${p.id}&code=http://sympathetic-block-fhir.org/fhir/CodeSystem/block-outcome|percent-relief`);
      expect(all.body.entry).to.have.length(1);
      const history = await server.fhir(`/Observation/${p.id}-percent-relief/_history`);
      expect(history.body.entry.map((e: { resource: { valueQuantity: { value: number } } }) => e.resource.valueQuantity.value)).to.deep.equal([87.5, 25, 75]);
    });

    it('a re-sent identical score makes no new derived version', async () => {
      const p = await s.block();
      await s.pain(p.id, 8, 'pre-block');
      const post = await s.pain(p.id, 4, 'post-30min');
      const { meta: _m, ...same } = post;
      await server.fhir(`/Observation/${post.id}`, { method: 'PUT', body: { ...same, note: [{ text: 'checked' }] } });
      expect((await s.derived(p.id, 'percent-relief'))?.meta.versionId).to.equal('1');
    });

    it('withdraws (cancels) the derived reading when its evidence is deleted, saying why', async () => {
      const p = await s.block();
      await s.pain(p.id, 8, 'pre-block');
      const post = await s.pain(p.id, 4, 'post-30min');
      expect((await server.fhir(`/Observation/${post.id}`, { method: 'DELETE' })).status).to.equal(200);
      const relief = await s.derived(p.id, 'percent-relief');
      expect(relief?.status).to.equal('cancelled');
      expect(relief?.note?.[0].text).to.match(/^Withdrawn: .*post-block pain score/);
      expect(relief?.derivedFrom?.map((r) => r.reference)).to.not.include(`Observation/${post.id}`);
      const diag = await s.derived(p.id, 'diagnostic-response');
      expect(diag?.status).to.equal('cancelled');
      // A new post-block score brings it back as a new version.
      await s.pain(p.id, 3, 'post-2h');
      expect((await s.derived(p.id, 'percent-relief'))?.status).to.equal('final');
    });

    it('zero baseline: nothing derived; a baseline corrected to 0 withdraws the reading', async () => {
      const p = await s.block();
      await s.pain(p.id, 0, 'pre-block');
      await s.pain(p.id, 0, 'post-30min');
      expect(await s.derived(p.id, 'percent-relief')).to.equal(undefined);
      expect(await s.derived(p.id, 'diagnostic-response')).to.equal(undefined);

      const q = await s.block();
      const baseline = await s.pain(q.id, 6, 'pre-block');
      await s.pain(q.id, 3, 'post-30min');
      await server.fhir(`/Observation/${baseline.id}`, { method: 'PUT', body: { ...baseline, valueInteger: 0, status: 'corrected' } });
      const relief = await s.derived(q.id, 'percent-relief');
      expect(relief?.status).to.equal('cancelled');
      expect(relief?.note?.[0].text).to.contain('baseline pain score is 0');
    });

    it('a block not yet performed derives nothing; in progress derives preliminary; completion makes it final', async () => {
      const p = await s.block((proc) => {
        const { performedDateTime: _p, ...rest } = proc;
        return { ...rest, status: 'preparation' } as Procedure;
      });
      await s.pain(p.id, 7, 'pre-block');
      expect(await s.derived(p.id, 'percent-relief')).to.equal(undefined);
      const inProgress = await server.fhir(`/Procedure/${p.id}`, { method: 'PUT', body: { ...p, status: 'in-progress' } });
      expect(inProgress.status, inProgress.text).to.equal(200);
      await s.pain(p.id, 2, 'post-30min');
      expect((await s.derived(p.id, 'percent-relief'))?.status).to.equal('preliminary');
      expect((await s.derived(p.id, 'diagnostic-response'))?.status).to.equal('preliminary');
      const done = await server.fhir(`/Procedure/${p.id}`, {
        method: 'PUT',
        body: { ...inProgress.body, status: 'completed', performedDateTime: '2026-01-15T09:30:00Z' },
      });
      expect(done.status, done.text).to.equal(200);
      const relief = await s.derived(p.id, 'percent-relief');
      expect(relief?.status).to.equal('final');
      expect(relief?.meta.versionId).to.equal('2');
      // Stopping the block afterwards withdraws the reading.
      await server.fhir(`/Procedure/${p.id}`, { method: 'PUT', body: { ...done.body, status: 'stopped' } });
      expect((await s.derived(p.id, 'diagnostic-response'))?.status).to.equal('cancelled');
    });

    it('records the temperature rise on the blocked side and whether it confirms blockade', async () => {
      const p = await s.block();
      await s.pain(p.id, 8, 'pre-block');
      await s.pain(p.id, 3, 'post-30min');
      const before = await s.temperature(p.id, 31.0, 'pre-block');
      const after = await s.temperature(p.id, 32.9, 'post-30min');
      await s.temperature(p.id, 29.0, 'pre-block', 'right');
      await s.temperature(p.id, 35.0, 'post-30min', 'right');
      let diag = await s.derived(p.id, 'diagnostic-response');
      const component = (code: string) => diag?.component?.find((c) => c.code.coding?.[0].code === code);
      expect(component('temperature-rise')?.valueQuantity).to.deep.include({ value: 1.9, code: 'Cel' });
      expect(component('sympathetic-blockade')?.valueBoolean).to.equal(false);
      expect(diag?.derivedFrom?.map((r) => r.reference)).to.include.members([`Observation/${before.id}`, `Observation/${after.id}`]);
      await server.fhir(`/Observation/${after.id}`, { method: 'PUT', body: { ...after, valueQuantity: { ...after.valueQuantity, value: 33.0 } } });
      diag = await s.derived(p.id, 'diagnostic-response');
      expect(component('temperature-rise')?.valueQuantity?.value).to.equal(2);
      expect(component('sympathetic-blockade')?.valueBoolean).to.equal(true);
    });

    it('does not react to its own derived Observations, nor to a client editing them', async () => {
      const p = await s.block();
      await s.pain(p.id, 8, 'pre-block');
      await s.pain(p.id, 4, 'post-30min');
      const relief = await s.derived(p.id, 'percent-relief');
      expect(relief?.meta.versionId).to.equal('1');
      expect((await s.derived(p.id, 'diagnostic-response'))?.meta.versionId).to.equal('1');
      // A client overwrites the derived value: stored as sent, nothing cascades…
      const { meta: _m, ...edited } = relief!;
      const put = await server.fhir(`/Observation/${p.id}-percent-relief`, { method: 'PUT', body: { ...edited, meta: { tag: relief?.meta.tag }, valueQuantity: { ...relief!.valueQuantity, value: 99 } } });
      expect(put.status, put.text).to.equal(200);
      expect((await s.derived(p.id, 'percent-relief'))?.valueQuantity?.value).to.equal(99);
      expect((await s.derived(p.id, 'diagnostic-response'))?.meta.versionId).to.equal('1');
      // …until the evidence changes: then the computed value is restored.
      await s.pain(p.id, 5, 'post-2h');
      expect((await s.derived(p.id, 'percent-relief'))?.valueQuantity?.value).to.equal(50);
    });

    it('never overwrites an entered Observation that happens to sit at a derived id', async () => {
      const p = await s.block();
      const own = await server.fhir(`/Observation/${p.id}-percent-relief`, {
        method: 'PUT',
        body: {
          resourceType: 'Observation',
          id: `${p.id}-percent-relief`,
          status: 'final',
          code: { coding: [{ system: 'http://sympathetic-block-fhir.org/fhir/CodeSystem/block-outcome', code: 'percent-relief' }] },
          subject: { reference: `Patient/${s.pat}` },
          partOf: [{ reference: `Procedure/${p.id}` }],
          effectiveDateTime: '2026-01-16T09:00:00Z',
          valueQuantity: { value: 60, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
        },
      });
      expect(own.status, own.text).to.equal(201);
      await s.pain(p.id, 8, 'pre-block');
      await s.pain(p.id, 6, 'post-30min');
      const kept = await s.derived(p.id, 'percent-relief');
      expect(kept?.valueQuantity?.value).to.equal(60);
      expect(kept?.meta.versionId).to.equal('1');
    });

    it('derives within a transaction Bundle that records the block and its scores together', async () => {
      const order = await server.fhir('/ServiceRequest', {
        method: 'POST',
        body: { ...(await import('../support/fixtures')).blockOrder(s.pat, s.doc, 'PO-OUT-BUNDLE') },
      });
      const { blockProcedure, painScore } = await import('../support/fixtures');
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:0b7a4c9e-1d2f-4a8b-9c3d-5e6f7a8b9c0d', resource: blockProcedure(s.pat, order.body.id, s.doc), request: { method: 'POST', url: 'Procedure' } },
          { resource: painScore(s.pat, 'X', 9, '2026-01-15T09:20:00Z', 'pre-block'), request: { method: 'POST', url: 'Observation' } },
          { resource: painScore(s.pat, 'X', 3, '2026-01-15T10:00:00Z', 'post-30min'), request: { method: 'POST', url: 'Observation' } },
        ],
      };
      for (const e of bundle.entry.slice(1)) {
        e.resource.partOf = [{ reference: 'urn:uuid:0b7a4c9e-1d2f-4a8b-9c3d-5e6f7a8b9c0d' }];
      }
      const res = await server.fhir('', { method: 'POST', body: bundle });
      expect(res.status, res.text).to.equal(200);
      const procedureId = res.body.entry[0].response.location.split('/')[1];
      expect((await s.derived(procedureId, 'percent-relief'))?.valueQuantity?.value).to.equal(66.7);
      expect(response(await s.derived(procedureId, 'diagnostic-response'))).to.equal('positive');
    });
  });
}

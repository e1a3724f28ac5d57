import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testDatabaseKinds } from '../support/databases';
import { fhirFetch, startTestServer, type TestServer } from '../support/server';
import { ASYNC, download, finished, idsOf, kickoff, makeClinicalData, poll, type Clinical } from './helpers';

for (const kind of testDatabaseKinds()) {
  describe(`Bulk Data $export (${kind.name})`, () => {
    let server: TestServer;
    let data: Clinical;
    const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-export-'));

    before(async () => {
      // No safety margin: transactionTime is the job start, so `_since` results are exact here.
      server = await startTestServer(kind, { FHIR_EXPORT_DIR: exportDir, FHIR_EXPORT_TIME_MARGIN_SECONDS: '0', FHIR_EXPORT_PAGE_SIZE: '3' });
      data = await makeClinicalData(server);
    });
    after(async () => {
      await server.stop();
      fs.rmSync(exportDir, { recursive: true, force: true });
    });

    describe('kick-off', () => {
      it('requires Prefer: respond-async', async () => {
        const res = await server.fhir('/$export');
        expect(res.status).to.equal(400);
        expect(res.body.issue[0].diagnostics).to.contain('respond-async');
      });

      it('refuses unknown parameters, types and output formats with an OperationOutcome', async () => {
        for (const query of ['?_outputFormat=text/csv', '?_type=Medication', '?_elements=id', '?_since=yesterday', '?_typeFilter=Observation%3Fnope%3D1']) {
          const res = await server.fhir(`/$export${query}`, { headers: ASYNC });
          expect(res.status, query).to.equal(400);
          expect(res.body.resourceType).to.equal('OperationOutcome');
        }
      });

      it('under Prefer: handling=lenient ignores an unknown parameter and reports it in error[]', async () => {
        const url = await kickoff(server, '/$export?_type=Patient&includeAssociatedData=x', {
          headers: { prefer: 'respond-async, handling=lenient' },
        });
        const manifest = await finished(url);
        expect(manifest.error).to.have.length(1);
        const res = await fhirFetch(manifest.error[0].url);
        expect(JSON.parse(res.text.trim()).issue[0].diagnostics).to.contain('includeAssociatedData');
      });

      it('answers 404 for an unknown Group', async () => {
        const res = await server.fhir('/Group/nope/$export', { headers: ASYNC });
        expect(res.status).to.equal(404);
      });
    });

    it('exports every type as NDJSON, split by the page and file limits, with a complete manifest', async () => {
      const url = await kickoff(server, '/$export?_outputFormat=application/fhir%2Bndjson');
      const manifest = await finished(url);
      expect(manifest.request).to.match(/\/fhir\/\$export\?_outputFormat=application%2Ffhir%2Bndjson$/);
      expect(manifest.requiresAccessToken).to.equal(false);
      expect(Number.isNaN(Date.parse(manifest.transactionTime))).to.equal(false);
      const byType = await download(manifest);
      expect(idsOf(byType, 'Patient')).to.deep.equal([...data.patients].sort());
      expect(idsOf(byType, 'Observation')).to.deep.equal([...data.observations].sort());
      expect(idsOf(byType, 'Procedure')).to.deep.equal([...data.procedures].sort());
      expect(idsOf(byType, 'ServiceRequest')).to.deep.equal([...data.orders].sort());
      expect(idsOf(byType, 'Organization')).to.deep.equal([data.organization]);
      // AuditEvents stay in the audit trail; server-internal Subscriptions are not exported either.
      expect(byType.has('AuditEvent')).to.equal(false);
    });

    it('serves the files to a client that accepts application/fhir+ndjson', async () => {
      const manifest = await finished(await kickoff(server, '/$export?_type=Patient'));
      const res = await fetch(manifest.output[0].url, { headers: { accept: 'application/fhir+ndjson' } });
      expect(res.status).to.equal(200);
      expect((await res.text()).split('\n').filter(Boolean).length).to.be.greaterThan(0);
    });

    it('_type limits the export to the listed types', async () => {
      const manifest = await finished(await kickoff(server, '/$export?_type=Patient,Observation'));
      expect([...new Set(manifest.output.map((o) => o.type))].sort()).to.deep.equal(['Observation', 'Patient']);
    });

    it('_since=transactionTime returns exactly what changed after the previous export', async () => {
      const first = await finished(await kickoff(server, '/$export?_type=Patient,Observation'));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const changed = await server.fhir(`/Patient/${data.patients[0]}`);
      const update = await server.fhir(`/Patient/${data.patients[0]}`, {
        method: 'PUT',
        body: { ...changed.body, gender: 'other' },
      });
      expect(update.status).to.equal(200);
      const since = encodeURIComponent(first.transactionTime);
      const manifest = await finished(await kickoff(server, `/$export?_type=Patient,Observation&_since=${since}`));
      const byType = await download(manifest);
      expect(idsOf(byType, 'Patient')).to.deep.equal([data.patients[0]]);
      expect(idsOf(byType, 'Observation')).to.deep.equal([]);
    });

    it('_typeFilter exports only the matches of its type (queries of one type are OR-ed) and other types whole', async () => {
      const pain = encodeURIComponent('Observation?code=http://loinc.org|72514-3');
      const temp = encodeURIComponent('Observation?code=http://loinc.org|61008-9&subject=Patient/' + data.patients[1]);
      const manifest = await finished(await kickoff(server, `/$export?_type=Observation,Patient&_typeFilter=${pain}&_typeFilter=${temp}`));
      const byType = await download(manifest);
      const observations = byType.get('Observation') ?? [];
      const codes = observations.map((o) => (o as { code: { coding: { code: string }[] } }).code.coding[0].code);
      expect(codes.filter((c) => c === '72514-3')).to.have.length(2);
      expect(codes.filter((c) => c === '61008-9')).to.have.length(1);
      expect(idsOf(byType, 'Patient')).to.have.length(2);
    });

    it('_typeFilter with a date or _lastUpdated bound pages through more matches than one page', async () => {
      // Such searches order by date on their own; the export pages them in id order regardless.
      const all = (await server.fhir('/Observation?_summary=count')).body.total as number;
      expect(all, 'more Observations than FHIR_EXPORT_PAGE_SIZE').to.be.greaterThan(3);
      for (const filter of ['Observation?date=ge2000-01-01', 'Observation?_lastUpdated=gt2000-01-01']) {
        const manifest = await finished(await kickoff(server, `/$export?_type=Observation&_typeFilter=${encodeURIComponent(filter)}`));
        expect(idsOf(await download(manifest), 'Observation'), filter).to.have.length(all);
      }
    });

    it('Patient/$export exports the patient compartment and what it references, not unrelated resources', async () => {
      const byType = await download(await finished(await kickoff(server, '/Patient/$export')));
      expect(idsOf(byType, 'Patient')).to.deep.equal([...data.patients].sort());
      expect(idsOf(byType, 'Practitioner')).to.deep.equal([data.doctor]);
      expect(byType.has('Organization')).to.equal(false);
    });

    it('Group/[id]/$export exports only the members\' data', async () => {
      const group = await server.fhir('/Group', {
        method: 'POST',
        body: { resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: `Patient/${data.patients[1]}` } }] },
      });
      expect(group.status, group.text).to.equal(201);
      const byType = await download(await finished(await kickoff(server, `/Group/${group.body.id}/$export?_type=Patient,Observation,Procedure`)));
      expect(idsOf(byType, 'Patient')).to.deep.equal([data.patients[1]]);
      expect(idsOf(byType, 'Procedure')).to.deep.equal([data.procedures[1]]);
      expect(idsOf(byType, 'Observation')).to.deep.equal(data.observations.slice(2).sort());
    });

    it('accepts a POST with a Parameters body', async () => {
      const url = await kickoff(server, '/$export', {
        method: 'POST',
        body: { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Practitioner' }] },
      });
      const byType = await download(await finished(url));
      expect([...byType.keys()]).to.deep.equal(['Practitioner']);
    });

    it('DELETE cancels a job: the status URL answers 404 and the files are removed', async () => {
      const url = await kickoff(server, '/$export');
      const del = await fhirFetch(url, { method: 'DELETE' });
      expect(del.status).to.equal(202);
      expect((await fhirFetch(url)).status).to.equal(404);
      expect((await fhirFetch(url, { method: 'DELETE' })).status).to.equal(404);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.core.exports.runner!.sweep();
      expect(fs.existsSync(path.join(exportDir, url.split('/').pop()!))).to.equal(false);
    });

    it('an export file outside the manifest is not served', async () => {
      const url = await kickoff(server, '/$export?_type=Patient');
      await finished(url);
      const job = url.split('/').pop();
      expect((await server.fhir(`/$export-file/${job}/Observation-1.ndjson`)).status).to.equal(404);
      expect((await server.fhir(`/$export-file/${job}/..%2F..%2Fetc`)).status).to.equal(404);
    });

    it('the CapabilityStatement lists the operations', async () => {
      const res = await server.fhir('/metadata');
      const rest = res.body.rest[0];
      expect(rest.operation.map((o: { name: string }) => o.name)).to.include('export');
      const patientOps = rest.resource.find((r: { type: string }) => r.type === 'Patient').operation.map((o: { name: string }) => o.name);
      expect(patientOps).to.include.members(['export', 'everything']);
      expect((rest.interaction ?? []).map((i: { code: string }) => i.code)).not.to.include('search-system');
    });

    it('a failed export answers its status with an OperationOutcome (5xx), not a hang', async () => {
      const url = await kickoff(server, '/$export?_type=Patient');
      const job = url.split('/').pop()!;
      await poll(url);
      // Corrupt the job as a broken disk would: its recorded file vanished; resuming it must fail visibly.
      await server.core.db.knex('export_job').where({ id: job }).update({
        status: 'queued',
        progress: JSON.stringify({ checkpoint: { typeIndex: 0, filterIndex: 0, counts: {}, sink: { files: [{ type: 'Patient', file: 'Patient-9.ndjson', count: 1, bytes: 10 }] } } }),
      });
      server.core.exports.runner!.poke();
      const res = await poll(url);
      expect(res.status).to.equal(500);
      expect(res.body.issue[0].diagnostics).to.contain('cannot resume');
    });
  });
}

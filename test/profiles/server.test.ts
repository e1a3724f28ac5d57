import { expect } from 'chai';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, blockProcedure, painScore, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';
import { INVALID_DIR, readExample } from './examples';

const PAIN = 'http://sympathetic-block-fhir.org/fhir/StructureDefinition/block-pain-score';
const errors = (body: { issue: OperationOutcomeIssue[] }): OperationOutcomeIssue[] => body.issue.filter((i) => i.severity === 'error');

for (const kind of testDatabaseKinds()) {
  describe(`profiles on the server (${kind.name})`, () => {
    let server: TestServer;
    let patientId: string;
    let doctorId: string;
    let orderId: string;

    before(async () => {
      server = await startTestServer(kind);
      patientId = (await server.fhir('/Patient', { method: 'POST', body: patient() })).body.id;
      doctorId = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
      orderId = (await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(patientId, doctorId) })).body.id;
    });
    after(async () => server?.stop());

    const validate = (path: string, body: unknown) => server.fhir(path, { method: 'POST', body });
    const count = async (type: string): Promise<number> => (await server.fhir(`/${type}/_history?_count=1000`)).body.total;

    describe('$validate', () => {
      it('answers 200 with an information issue for a valid resource, and stores nothing', async () => {
        const before = await count('Procedure');
        const res = await validate('/Procedure/$validate', blockProcedure(patientId, orderId, doctorId));
        expect(res.status, res.text).to.equal(200);
        expect(res.body.resourceType).to.equal('OperationOutcome');
        expect(errors(res.body)).to.deep.equal([]);
        expect(res.body.issue[0].diagnostics).to.include('block-procedure');
        expect(await count('Procedure')).to.equal(before);
      });

      it('answers 200 with the errors for an invalid resource', async () => {
        const res = await validate('/Observation/$validate', readExample('sbf-pain-1.json', INVALID_DIR));
        expect(res.status).to.equal(200);
        expect(errors(res.body).map((i) => [i.code, i.expression?.[0]])).to.deep.include(['invariant', 'Observation.valueInteger']);
      });

      it('takes a Parameters body with resource, mode and profile', async () => {
        const score = painScore(patientId, 'nope', 4, '2026-01-15T10:00:00Z');
        const res = await validate('/Observation/$validate', {
          resourceType: 'Parameters',
          parameter: [
            { name: 'resource', resource: { ...score, code: { coding: [{ system: 'http://loinc.org', code: '61008-9' }] } } },
            { name: 'mode', valueCode: 'create' },
            { name: 'profile', valueUri: PAIN },
          ],
        });
        expect(res.status).to.equal(200);
        const found = errors(res.body).map((i) => [i.code, i.expression?.[0]]);
        expect(found).to.deep.include(['value', 'Observation.code']);
      });

      it('reports references to resources that do not exist, as the write would', async () => {
        const res = await validate('/Observation/$validate', painScore(patientId, 'nope', 4, '2026-01-15T10:00:00Z', 'pre-block'));
        expect(errors(res.body).map((i) => [i.code, i.expression?.[0]])).to.deep.equal([['not-found', 'Observation.partOf[0]']]);
      });

      it('rejects an unknown profile parameter, and an unknown mode with 400', async () => {
        const res = await validate(`/ServiceRequest/$validate?profile=${encodeURIComponent(PAIN)}`, blockOrder(patientId, doctorId));
        expect(errors(res.body)[0].code).to.equal('not-supported');
        const bad = await validate('/ServiceRequest/$validate?mode=bogus', blockOrder(patientId, doctorId));
        expect(bad.status).to.equal(400);
      });

      it('checks the instance for mode=update and mode=delete', async () => {
        const order = (await server.fhir(`/ServiceRequest/${orderId}`)).body;
        const ok = await validate(`/ServiceRequest/${orderId}/$validate?mode=update`, { ...order, priority: 'urgent' });
        expect(errors(ok.body)).to.deep.equal([]);
        const mismatch = await validate(`/ServiceRequest/other-id/$validate?mode=update`, order);
        expect(errors(mismatch.body)[0].expression).to.deep.equal(['ServiceRequest.id']);
        const del = await server.fhir(`/ServiceRequest/missing/$validate`, {
          method: 'POST',
          body: { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'delete' }] },
        });
        expect(errors(del.body)[0].code).to.equal('not-found');
      });

      it('enforces sbf-timing-1 against the stored Procedure: post-block timing needs a completed or in-progress block', async () => {
        const planned = { ...blockProcedure(patientId, orderId, doctorId), status: 'preparation' };
        const procId = (await server.fhir('/Procedure', { method: 'POST', body: planned })).body.id;
        const early = await validate('/Observation/$validate', painScore(patientId, procId, 3, '2026-01-15T10:00:00Z', 'post-30min'));
        expect(errors(early.body).map((i) => i.diagnostics).join()).to.include('sbf-timing-1');
        const baseline = await validate('/Observation/$validate', painScore(patientId, procId, 7, '2026-01-15T09:00:00Z', 'pre-block'));
        expect(errors(baseline.body)).to.deep.equal([]);
      });

      it('is advertised as an operation on each type, not as an interaction', async () => {
        const res = await server.fhir('/metadata');
        const sr = res.body.rest[0].resource.find((r: { type: string }) => r.type === 'ServiceRequest');
        expect(sr.operation).to.deep.equal([{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }]);
        expect(sr.supportedProfile).to.deep.equal(['http://sympathetic-block-fhir.org/fhir/StructureDefinition/block-order']);
        const obs = res.body.rest[0].resource.find((r: { type: string }) => r.type === 'Observation');
        expect(obs.supportedProfile).to.have.length(5);
        const patientEntry = res.body.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
        expect(patientEntry.supportedProfile).to.equal(undefined);
      });
    });

    describe('writes', () => {
      it('returns extensible-binding warnings with a successful write', async () => {
        const order = { ...blockOrder(patientId, doctorId, 'PLAC-W'), reasonCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M54.5' }] }] };
        const res = await server.fhir('/ServiceRequest', { method: 'POST', body: order, headers: { prefer: 'return=OperationOutcome' } });
        expect(res.status, res.text).to.equal(201);
        const warning = res.body.issue.find((i: OperationOutcomeIssue) => i.severity === 'warning');
        expect(warning).to.include({ code: 'code-invalid' });
        expect(warning.expression).to.deep.equal(['ServiceRequest.reasonCode[0]']);
      });

      it('rejects a ServiceRequest whose status is not an R4 request-status code (422)', async () => {
        const res = await server.fhir('/ServiceRequest', { method: 'POST', body: { ...blockOrder(patientId, doctorId), status: 'bogus' } });
        expect(res.status).to.equal(422);
        expect(res.body.issue[0]).to.include({ code: 'code-invalid' });
        expect(res.body.issue[0].expression).to.deep.equal(['ServiceRequest.status']);
      });

      it('names the candidate profiles when an Observation matches none', async () => {
        const res = await server.fhir('/Observation', { method: 'POST', body: readExample('observation.no-matching-profile.json', INVALID_DIR) });
        expect(res.status).to.equal(422);
        expect(res.body.issue[0].diagnostics).to.include(PAIN).and.include('72514-3');
      });
    });

    describe('conformance resources', () => {
      it('reads StructureDefinition, ValueSet and CodeSystem by id', async () => {
        for (const [type, id] of [['StructureDefinition', 'block-order'], ['ValueSet', 'laterality'], ['CodeSystem', 'block-timing']]) {
          const res = await server.fhir(`/${type}/${id}`);
          expect(res.status, `${type}/${id}`).to.equal(200);
          expect(res.body).to.include({ resourceType: type, id });
        }
        const sd = (await server.fhir('/StructureDefinition/block-order')).body;
        expect(sd.snapshot.element.length).to.be.greaterThan(sd.differential.element.length);
      });

      it('searches by url, and answers 404 for an unknown id', async () => {
        const url = 'http://sympathetic-block-fhir.org/fhir/ValueSet/sympathetic-block-procedure';
        const res = await server.fhir(`/ValueSet?url=${encodeURIComponent(url)}`);
        expect(res.status).to.equal(200);
        expect(res.body.type).to.equal('searchset');
        expect(res.body.entry.map((e: { resource: { url: string } }) => e.resource.url)).to.deep.equal([url]);
        expect((await server.fhir('/StructureDefinition')).body.total).to.be.greaterThan(5);
        expect((await server.fhir('/CodeSystem/nope')).status).to.equal(404);
      });

      it('is read-only', async () => {
        const res = await server.fhir('/StructureDefinition', { method: 'POST', body: { resourceType: 'StructureDefinition' } });
        expect(res.status).to.be.oneOf([404, 405]);
      });
    });
  });
}

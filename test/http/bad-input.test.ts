import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

for (const kind of testDatabaseKinds()) {
  describe(`Content negotiation and bad input (${kind.name})`, () => {
    let server: TestServer;
    let patientId: string;
    let practitionerId: string;

    before(async () => {
      server = await startTestServer(kind, { FHIR_BODY_LIMIT_BYTES: String(64 * 1024) });
      patientId = (await server.fhir('/Patient', { method: 'POST', body: patient() })).body.id;
      practitionerId = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    });
    after(async () => server?.stop());

    /** Versions stored in total: a rejected write must leave it unchanged. */
    const storedVersions = async (): Promise<number> => (await server.fhir('/_history?_count=0')).body.total;

    async function expectRejected(
      init: Parameters<TestServer['fhir']>[1],
      status: number,
      path = '/ServiceRequest',
    ): Promise<{ issue: { code: string; diagnostics: string; expression?: string[] }[] }> {
      const before = await storedVersions();
      const res = await server.fhir(path, { method: 'POST', ...init });
      expect(res.status, res.text).to.equal(status);
      expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(res.text).to.not.match(/at .*\.js:\d+/); // no stack traces
      expect(await storedVersions()).to.equal(before);
      return res.body;
    }

    describe('formats', () => {
      it('honours _format and Accept: JSON yes, XML 406', async () => {
        expect((await server.fhir('/metadata?_format=json')).status).to.equal(200);
        expect((await server.fhir('/metadata?_format=application/fhir+json')).status).to.equal(200);
        const xml = await server.fhir('/metadata?_format=xml');
        expect(xml.status).to.equal(406);
        expect(xml.body.resourceType).to.equal('OperationOutcome');
        expect((await server.fhir('/metadata', { headers: { accept: 'application/fhir+xml' } })).status).to.equal(406);
        expect((await server.fhir('/metadata', { headers: { accept: 'application/json' } })).status).to.equal(200);
        expect((await server.fhir('/metadata', { headers: { accept: 'text/html,*/*;q=0.8' } })).status).to.equal(200);
      });

      it('pretty-prints with _pretty=true', async () => {
        const res = await server.fhir('/metadata?_pretty=true');
        expect(res.text).to.contain('\n  "resourceType": "CapabilityStatement"');
        expect((await server.fhir('/metadata')).text).to.not.contain('\n');
      });

      it('answers 415 for XML or form bodies', async () => {
        const body = await expectRejected(
          { rawBody: '<Patient xmlns="http://hl7.org/fhir"/>', headers: { 'content-type': 'application/fhir+xml' } },
          415,
          '/Patient',
        );
        expect(body.issue[0].code).to.equal('not-supported');
        await expectRejected({ rawBody: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415);
      });

      it('returns X-Request-Id, echoing a well-formed client id', async () => {
        const res = await server.fhir('/metadata', { headers: { 'x-request-id': 'ehr-req-42' } });
        expect(res.headers.get('x-request-id')).to.equal('ehr-req-42');
        expect((await server.fhir('/metadata')).headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
        expect((await server.fhir('/metadata')).headers.get('x-powered-by')).to.equal(null);
      });
    });

    describe('malformed bodies', () => {
      it('answers 400 structure with the position of a JSON syntax error', async () => {
        const body = await expectRejected(
          { rawBody: '{"resourceType": "Patient",\n "gender": }', headers: { 'content-type': 'application/fhir+json' } },
          400,
          '/Patient',
        );
        expect(body.issue[0].code).to.equal('structure');
        expect(body.issue[0].diagnostics).to.match(/line 2, column \d+/);
      });

      it('answers 400 for invalid UTF-8, a JSON array, and an empty body', async () => {
        await expectRejected({ rawBody: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), headers: { 'content-type': 'application/fhir+json' } }, 400);
        await expectRejected({ body: [patient()] }, 400, '/Patient');
        await expectRejected({ rawBody: '', headers: { 'content-type': 'application/fhir+json' } }, 400, '/Patient');
      });

      it('answers 413 for a body over the limit', async () => {
        const huge = { ...patient(), name: [{ family: 'x'.repeat(70 * 1024) }] };
        const body = await expectRejected({ body: huge }, 413, '/Patient');
        expect(body.issue[0].code).to.equal('too-costly');
      });

      it('answers 404 OperationOutcome outside /fhir and 405 for unsupported methods', async () => {
        const res = await fetch(`${server.url}/nothing-here`);
        expect(res.status).to.equal(404);
        expect(((await res.json()) as { resourceType: string }).resourceType).to.equal('OperationOutcome');
        const postToInstance = await server.fhir(`/Patient/${patientId}`, { method: 'POST', body: patient() });
        expect(postToInstance.status).to.equal(405);
        expect(postToInstance.body.issue[0].code).to.equal('not-supported');
      });
    });

    describe('validation', () => {
      it('rejects unknown elements with 400 and their location', async () => {
        const order = { ...blockOrder(patientId, practitionerId), colour: 'blue' };
        const body = await expectRejected({ body: order }, 400);
        expect(body.issue.some((i) => i.expression?.[0] === 'ServiceRequest.colour')).to.equal(true);
        const nested = { ...blockOrder(patientId, practitionerId), subject: { reference: `Patient/${patientId}`, foo: 1 } };
        const nestedBody = await expectRejected({ body: nested }, 400);
        expect(nestedBody.issue.some((i) => (i.expression?.[0] ?? '').startsWith('ServiceRequest.subject'))).to.equal(true);
      });

      it('rejects wrong JSON types with 400', async () => {
        const order = { ...blockOrder(patientId, practitionerId), subject: `Patient/${patientId}` };
        const body = await expectRejected({ body: order }, 400);
        expect(body.issue[0].expression?.[0]).to.match(/^ServiceRequest\.subject/);
        await expectRejected({ body: { ...blockOrder(patientId, practitionerId), status: 5 } }, 400);
      });

      it('rejects empty values with 400', async () => {
        const body = await expectRejected({ body: { ...patient(), gender: '' } }, 400, '/Patient');
        expect(body.issue.map((i) => i.expression?.[0])).to.include('Patient.gender');
        await expectRejected({ body: { ...patient(), name: [] } }, 400, '/Patient');
      });

      it('rejects a missing required element with 422 naming it', async () => {
        const { status: _status, ...order } = blockOrder(patientId, practitionerId);
        const body = await expectRejected({ body: order }, 422);
        expect(body.issue[0].expression).to.deep.equal(['ServiceRequest.status']);
        expect(body.issue[0].diagnostics).to.be.a('string').and.not.equal('');
      });

      it('rejects a reference to a resource that does not exist with 422 naming it', async () => {
        const order = blockOrder('no-such-patient', practitionerId);
        const body = await expectRejected({ body: order }, 422);
        expect(body.issue[0].diagnostics).to.contain('Patient/no-such-patient');
        expect(body.issue[0].expression).to.deep.equal(['ServiceRequest.subject']);
      });

      it('rejects a reference to a deleted resource, and an unresolved urn:uuid', async () => {
        const p = await server.fhir('/Patient', { method: 'POST', body: patient('Gone') });
        await server.fhir(`/Patient/${p.body.id}`, { method: 'DELETE' });
        await expectRejected({ body: blockOrder(p.body.id, practitionerId) }, 422);
        const urn = { ...blockOrder(patientId, practitionerId), subject: { reference: 'urn:uuid:8f0c6a8e-4d4b-4b0e-9d7e-1f2a3b4c5d6e' } };
        await expectRejected({ body: urn }, 422);
      });

      it('rejects an invalid id in an update', async () => {
        const res = await server.fhir('/Patient/bad_id!', { method: 'PUT', body: { ...patient(), id: 'bad_id!' } });
        expect(res.status).to.equal(400);
      });

      it('survives hostile JSON: __proto__ keys, deep nesting, huge arrays', async () => {
        await expectRejected(
          { rawBody: '{"resourceType":"Patient","__proto__":{"admin":true}}', headers: { 'content-type': 'application/fhir+json' } },
          400,
          '/Patient',
        );
        const deep = `${'{"extension":['.repeat(2000)}${']}'.repeat(2000)}`;
        await expectRejected(
          { rawBody: `{"resourceType":"Patient","name":[${deep}]}`, headers: { 'content-type': 'application/fhir+json' } },
          400,
          '/Patient',
        );
        const many = { ...patient(), name: Array.from({ length: 3000 }, () => ({ family: 1 })) };
        const body = await expectRejected({ body: many }, 400, '/Patient');
        expect(body.issue.length).to.be.at.most(120);
      });
    });
  });
}

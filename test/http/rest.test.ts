import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

for (const kind of testDatabaseKinds()) {
  describe(`FHIR REST interactions over HTTP (${kind.name})`, () => {
    let server: TestServer;
    let patientId: string;
    let practitionerId: string;

    before(async () => {
      server = await startTestServer(kind);
      patientId = (await server.fhir('/Patient', { method: 'POST', body: patient() })).body.id;
      practitionerId = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    });
    after(async () => server?.stop());

    const createOrder = async (placer = 'PLAC-1') =>
      server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(patientId, practitionerId, placer) });

    describe('metadata', () => {
      it('serves a CapabilityStatement built from the routes', async () => {
        const res = await server.fhir('/metadata');
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
        expect(res.body.resourceType).to.equal('CapabilityStatement');
        expect(res.body.fhirVersion).to.equal('4.0.1');
        const types = res.body.rest[0].resource.map((r: { type: string }) => r.type);
        expect(types).to.include.members([
          'ServiceRequest', 'Procedure', 'Observation', 'Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'Location',
        ]);
        const codes = res.body.rest[0].resource[0].interaction.map((i: { code: string }) => i.code);
        expect(codes).to.include.members(['create', 'read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'search-type']);
        const params = res.body.rest[0].resource[0].searchParam.map((p: { name: string }) => p.name);
        expect(params).to.include.members(['_id', '_lastUpdated', 'subject', 'patient', 'code', 'authored', 'status']);
        expect(res.body.rest[0].interaction.map((i: { code: string }) => i.code)).to.include('history-system');
      });
    });

    describe('create', () => {
      it('answers 201 with Location, ETag, Last-Modified and the stored resource', async () => {
        const res = await createOrder();
        expect(res.status).to.equal(201);
        expect(res.body.id).to.match(/^[0-9a-f-]{36}$/);
        expect(res.body.meta.versionId).to.equal('1');
        expect(res.headers.get('etag')).to.equal('W/"1"');
        expect(res.headers.get('location')).to.equal(`${server.url}/fhir/ServiceRequest/${res.body.id}/_history/1`);
        expect(new Date(res.headers.get('last-modified')!).getTime()).to.be.closeTo(
          new Date(res.body.meta.lastUpdated).getTime(),
          1000,
        );
        expect(res.body.subject.reference).to.equal(`Patient/${patientId}`);
      });

      it('ignores a client id and server-managed meta in the body', async () => {
        const body = { ...blockOrder(patientId, practitionerId), id: 'client-chosen', meta: { versionId: '99' } };
        const res = await server.fhir('/ServiceRequest', { method: 'POST', body });
        expect(res.status).to.equal(201);
        expect(res.body.id).to.not.equal('client-chosen');
        expect(res.body.meta.versionId).to.equal('1');
      });

      it('rejects a body whose resourceType differs from the URL', async () => {
        const res = await server.fhir('/Observation', { method: 'POST', body: patient() });
        expect(res.status).to.equal(400);
        expect(res.body.resourceType).to.equal('OperationOutcome');
        expect(res.body.issue[0].expression).to.deep.equal(['Observation.resourceType']);
      });
    });

    describe('read and vread', () => {
      it('reads the current version with its ETag', async () => {
        const created = await createOrder();
        const res = await server.fhir(`/ServiceRequest/${created.body.id}`);
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.equal(created.body);
        expect(res.headers.get('etag')).to.equal('W/"1"');
      });

      it('answers 404 with an OperationOutcome for an unknown id', async () => {
        const res = await server.fhir('/ServiceRequest/does-not-exist');
        expect(res.status).to.equal(404);
        expect(res.body.resourceType).to.equal('OperationOutcome');
        expect(res.body.issue[0].code).to.equal('not-found');
      });

      it('answers 404 not-supported for a resource type this server does not serve', async () => {
        for (const path of ['/Encounter/1', '/Encounter', '/NotAType/1/_history']) {
          const res = await server.fhir(path);
          expect(res.status, path).to.equal(404);
          expect(res.body.issue[0].code, path).to.equal('not-supported');
        }
      });

      it('reads every version by vread, and 404 for a version that does not exist', async () => {
        const created = await createOrder();
        const id = created.body.id;
        await server.fhir(`/ServiceRequest/${id}`, { method: 'PUT', body: { ...created.body, status: 'on-hold' } });
        const v1 = await server.fhir(`/ServiceRequest/${id}/_history/1`);
        const v2 = await server.fhir(`/ServiceRequest/${id}/_history/2`);
        expect(v1.body.status).to.equal('active');
        expect(v2.body.status).to.equal('on-hold');
        expect(v2.headers.get('etag')).to.equal('W/"2"');
        expect((await server.fhir(`/ServiceRequest/${id}/_history/3`)).status).to.equal(404);
        expect((await server.fhir(`/ServiceRequest/${id}/_history/x`)).status).to.equal(404);
      });
    });

    describe('update', () => {
      it('makes a new version and honours If-Match', async () => {
        const created = await createOrder();
        const id = created.body.id;
        const v2 = await server.fhir(`/ServiceRequest/${id}`, {
          method: 'PUT',
          body: { ...created.body, priority: 'urgent' },
          headers: { 'if-match': 'W/"1"' },
        });
        expect(v2.status).to.equal(200);
        expect(v2.body.meta.versionId).to.equal('2');
        expect(v2.headers.get('etag')).to.equal('W/"2"');
        const stale = await server.fhir(`/ServiceRequest/${id}`, {
          method: 'PUT',
          body: { ...created.body, priority: 'stat' },
          headers: { 'if-match': 'W/"1"' },
        });
        expect(stale.status).to.equal(412);
        expect(stale.body.resourceType).to.equal('OperationOutcome');
        expect((await server.fhir(`/ServiceRequest/${id}`)).body.priority).to.equal('urgent');
      });

      it('creates with the client id when the resource does not exist (update-as-create)', async () => {
        const res = await server.fhir('/Patient/mrn-4711', { method: 'PUT', body: { ...patient('Created'), id: 'mrn-4711' } });
        expect(res.status).to.equal(201);
        expect(res.headers.get('location')).to.equal(`${server.url}/fhir/Patient/mrn-4711/_history/1`);
        expect((await server.fhir('/Patient/mrn-4711')).body.name[0].family).to.equal('Created');
      });

      it('makes no new version when the content is unchanged', async () => {
        const created = await createOrder();
        const again = await server.fhir(`/ServiceRequest/${created.body.id}`, { method: 'PUT', body: created.body });
        expect(again.status).to.equal(200);
        expect(again.body.meta.versionId).to.equal('1');
      });

      it('rejects a missing or mismatching id with 400', async () => {
        const created = await createOrder();
        const { id: _id, ...noId } = created.body;
        expect((await server.fhir(`/ServiceRequest/${created.body.id}`, { method: 'PUT', body: noId })).status).to.equal(400);
        const other = await server.fhir(`/ServiceRequest/${created.body.id}`, {
          method: 'PUT',
          body: { ...created.body, id: 'another' },
        });
        expect(other.status).to.equal(400);
        expect(other.body.issue[0].expression).to.deep.equal(['ServiceRequest.id']);
      });

      it('rejects a malformed If-Match with 400', async () => {
        const created = await createOrder();
        const res = await server.fhir(`/ServiceRequest/${created.body.id}`, {
          method: 'PUT',
          body: created.body,
          headers: { 'if-match': 'one' },
        });
        expect(res.status).to.equal(400);
      });
    });

    describe('delete', () => {
      it('deletes: reads then give 410, older versions stay readable, history records the deletion', async () => {
        const created = await createOrder();
        const id = created.body.id;
        const del = await server.fhir(`/ServiceRequest/${id}`, { method: 'DELETE' });
        expect(del.status).to.equal(200);
        expect(del.body.resourceType).to.equal('OperationOutcome');
        const read = await server.fhir(`/ServiceRequest/${id}`);
        expect(read.status).to.equal(410);
        expect(read.body.issue[0].code).to.equal('deleted');
        expect((await server.fhir(`/ServiceRequest/${id}/_history/1`)).status).to.equal(200);
        expect((await server.fhir(`/ServiceRequest/${id}/_history/2`)).status).to.equal(410);
        const hist = await server.fhir(`/ServiceRequest/${id}/_history`);
        expect(hist.body.entry[0].request.method).to.equal('DELETE');
        expect(hist.body.entry[0].resource).to.equal(undefined);
        // Deleting again changes nothing and still succeeds.
        expect((await server.fhir(`/ServiceRequest/${id}`, { method: 'DELETE' })).status).to.equal(200);
        expect((await server.fhir(`/ServiceRequest/${id}/_history`)).body.total).to.equal(2);
      });

      it('answers 412 for a stale If-Match and 404 for a resource that never existed', async () => {
        const created = await createOrder();
        const stale = await server.fhir(`/ServiceRequest/${created.body.id}`, {
          method: 'DELETE',
          headers: { 'if-match': 'W/"7"' },
        });
        expect(stale.status).to.equal(412);
        expect((await server.fhir(`/ServiceRequest/${created.body.id}`)).status).to.equal(200);
        expect((await server.fhir('/ServiceRequest/never-was', { method: 'DELETE' })).status).to.equal(404);
      });

      it('can re-create a deleted resource with PUT', async () => {
        const created = await createOrder();
        const id = created.body.id;
        await server.fhir(`/ServiceRequest/${id}`, { method: 'DELETE' });
        const again = await server.fhir(`/ServiceRequest/${id}`, { method: 'PUT', body: created.body });
        expect(again.status).to.equal(201);
        expect(again.body.meta.versionId).to.equal('3');
      });
    });

    describe('history', () => {
      it('lists an instance history newest first as a history Bundle', async () => {
        const created = await createOrder();
        const id = created.body.id;
        await server.fhir(`/ServiceRequest/${id}`, { method: 'PUT', body: { ...created.body, priority: 'urgent' } });
        await server.fhir(`/ServiceRequest/${id}`, { method: 'PUT', body: { ...created.body, priority: 'asap' } });
        const res = await server.fhir(`/ServiceRequest/${id}/_history`);
        expect(res.status).to.equal(200);
        expect(res.body.resourceType).to.equal('Bundle');
        expect(res.body.type).to.equal('history');
        expect(res.body.total).to.equal(3);
        expect(res.body.entry.map((e: { resource: { meta: { versionId: string } } }) => e.resource.meta.versionId)).to.deep.equal([
          '3', '2', '1',
        ]);
        expect(res.body.entry[2].request).to.deep.equal({ method: 'POST', url: 'ServiceRequest' });
        expect(res.body.entry[0].request).to.deep.equal({ method: 'PUT', url: `ServiceRequest/${id}` });
        expect(res.body.entry[0].response.etag).to.equal('W/"3"');
        expect(res.body.entry[0].fullUrl).to.equal(`${server.url}/fhir/ServiceRequest/${id}`);
      });

      it('pages type history with _count and next links that neither skip nor repeat', async () => {
        const fresh = await startTestServer(kind);
        try {
          const ids = new Set<string>();
          for (let i = 0; i < 7; i++) {
            ids.add((await fresh.fhir('/Patient', { method: 'POST', body: patient(`P${i}`) })).body.id);
          }
          const seen: string[] = [];
          let url: string | undefined = `${fresh.url}/fhir/Patient/_history?_count=3`;
          let pages = 0;
          while (url) {
            const page = (await fetch(url).then((r) => r.json())) as {
              entry: { resource: { id: string } }[];
              link: { relation: string; url: string }[];
            };
            seen.push(...page.entry.map((e: { resource: { id: string } }) => e.resource.id));
            // A write between pages must not shift the pages that follow.
            if (pages === 0) {
              await fresh.fhir('/Patient', { method: 'POST', body: patient('Late') });
            }
            url = page.link.find((l: { relation: string }) => l.relation === 'next')?.url;
            pages++;
          }
          expect(pages).to.equal(3);
          expect(seen).to.have.length(7);
          expect(new Set(seen)).to.deep.equal(ids);
        } finally {
          await fresh.stop();
        }
      });

      it('filters by _since and rejects a malformed _since or _count', async () => {
        const created = await createOrder();
        const since = new Date(Date.now() + 1000).toISOString();
        expect((await server.fhir(`/ServiceRequest/${created.body.id}/_history?_since=${since}`)).body.total).to.equal(0);
        expect((await server.fhir(`/ServiceRequest/${created.body.id}/_history?_since=2020-01-01`)).body.total).to.equal(1);
        const bad = await server.fhir('/ServiceRequest/_history?_since=yesterday');
        expect(bad.status).to.equal(400);
        expect(bad.body.issue[0].diagnostics).to.contain('_since');
        expect((await server.fhir('/ServiceRequest/_history?_since=2025-02-30')).status).to.equal(400);
        expect((await server.fhir('/ServiceRequest/_history?_count=-1')).status).to.equal(400);
      });

      it('serves system history across types', async () => {
        const res = await server.fhir('/_history?_count=5');
        expect(res.status).to.equal(200);
        expect(res.body.type).to.equal('history');
        expect(res.body.entry).to.have.length(5);
      });
    });

    describe('Prefer', () => {
      it('return=minimal sends no body, return=OperationOutcome sends an outcome', async () => {
        const minimal = await server.fhir('/Patient', {
          method: 'POST',
          body: patient(),
          headers: { prefer: 'return=minimal' },
        });
        expect(minimal.status).to.equal(201);
        expect(minimal.text).to.equal('');
        expect(minimal.headers.get('location')).to.match(/\/fhir\/Patient\/.+\/_history\/1$/);
        const oo = await server.fhir('/Patient', {
          method: 'POST',
          body: patient(),
          headers: { prefer: 'return=OperationOutcome' },
        });
        expect(oo.status).to.equal(201);
        expect(oo.body.resourceType).to.equal('OperationOutcome');
        expect(oo.body.issue[0].severity).to.equal('information');
      });
    });
  });
}

import { expect } from 'chai';
import { AccessTokens } from '../../src/auth/access-token';
import { loadSigningKey } from '../../src/auth/signing-key';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';
import { bearer, tokenFor } from './helpers';

for (const kind of testDatabaseKinds()) {
  describe(`Authentication and scopes on /fhir (${kind.name})`, () => {
    let server: TestServer;
    let admin: string;
    let patientId: string;
    let practitionerId: string;

    before(async () => {
      server = await startTestServer(kind, { FHIR_AUTH: 'smart' });
      admin = await tokenFor(server, 'system/*.* system/AuditEvent.rs');
      patientId = (await server.fhir('/Patient', { method: 'POST', body: patient(), headers: bearer(admin) })).body.id;
      practitionerId = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner(), headers: bearer(admin) })).body.id;
    });
    after(async () => server?.stop());

    describe('401 without a valid token', () => {
      it('asks for a bearer token when there is none', async () => {
        const res = await server.fhir(`/Patient/${patientId}`);
        expect(res.status).to.equal(401);
        expect(res.headers.get('www-authenticate')).to.equal('Bearer realm="sympathetic-block-fhir"');
        expect(res.body.resourceType).to.equal('OperationOutcome');
        expect(res.body.issue[0].code).to.equal('login');
      });

      it('says invalid_token for a malformed, tampered, foreign, expired or alg=none token', async () => {
        const [h, p, s] = admin.split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
        const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'system/*.* system/AuditEvent.*' })).toString('base64url');
        const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
        const foreign = new AccessTokens(Buffer.alloc(32, 7), 300).issue(claims.sub as string, undefined, ['system/*.*']);
        const key = await loadSigningKey(server.core.db.knex, undefined);
        const expired = new AccessTokens(key, -10).issue(claims.sub as string, undefined, ['system/*.*']);
        const cases: [string, RegExp][] = [
          ['Bearer not-a-token', /malformed/],
          [`Bearer ${h}.${widened}.${s}`, /signature/],
          [`Bearer ${none}.${p}.`, /malformed|not issued/],
          [`Bearer ${foreign}`, /malformed|not issued/],
          [`Bearer ${expired}`, /expired/],
          [`Basic ${Buffer.from('a:b').toString('base64')}`, /Bearer/],
        ];
        for (const [authorization, why] of cases) {
          const res = await server.fhir(`/Patient/${patientId}`, { headers: { authorization } });
          expect(res.status, authorization).to.equal(401);
          expect(res.headers.get('www-authenticate')).to.match(/^Bearer realm="sympathetic-block-fhir", error="invalid_token", error_description=".+"$/);
          expect(res.body.issue[0].diagnostics).to.match(why);
        }
      });

      it('keeps the CapabilityStatement public', async () => {
        expect((await server.fhir('/metadata')).status).to.equal(200);
      });

      it('refuses a body before reading it', async () => {
        const res = await server.fhir('/Patient', { method: 'POST', body: patient() });
        expect(res.status).to.equal(401);
      });
    });

    describe('403 for a missing scope', () => {
      it('lets a read-only token read and search but not create, update or delete', async () => {
        const reader = await tokenFor(server, 'system/*.read');
        expect((await server.fhir(`/Patient/${patientId}`, { headers: bearer(reader) })).status).to.equal(200);
        expect((await server.fhir('/Patient?_count=1', { headers: bearer(reader) })).status).to.equal(200);
        expect((await server.fhir('/Patient/_history', { headers: bearer(reader) })).status).to.equal(200);
        const writes = [
          server.fhir('/Patient', { method: 'POST', body: patient(), headers: bearer(reader) }),
          server.fhir(`/Patient/${patientId}`, { method: 'PUT', body: { ...patient(), id: patientId }, headers: bearer(reader) }),
          server.fhir(`/Patient/${patientId}`, { method: 'DELETE', headers: bearer(reader) }),
        ];
        for (const res of await Promise.all(writes)) {
          expect(res.status).to.equal(403);
          expect(res.body.resourceType).to.equal('OperationOutcome');
          expect(res.body.issue[0].code).to.equal('forbidden');
        }
        expect((await server.fhir(`/Patient/${patientId}`, { headers: bearer(admin) })).body.meta.versionId).to.equal('1');
      });

      it('limits a token to its resource types and its v2 permissions', async () => {
        const orders = await tokenFor(server, 'system/ServiceRequest.cr');
        const created = await server.fhir('/ServiceRequest', {
          method: 'POST',
          body: blockOrder(patientId, practitionerId),
          headers: bearer(orders),
        });
        expect(created.status).to.equal(201);
        expect((await server.fhir(`/ServiceRequest/${created.body.id}`, { headers: bearer(orders) })).status).to.equal(200);
        // c and r, but not s (search), u, or other types.
        expect((await server.fhir('/ServiceRequest', { headers: bearer(orders) })).status).to.equal(403);
        const update = { ...created.body, status: 'revoked' };
        expect((await server.fhir(`/ServiceRequest/${created.body.id}`, { method: 'PUT', body: update, headers: bearer(orders) })).status).to.equal(403);
        expect((await server.fhir(`/Patient/${patientId}`, { headers: bearer(orders) })).status).to.equal(403);
        expect((await server.fhir('/_history', { headers: bearer(orders) })).status).to.equal(403);
      });

      it('checks chained search parameters against the chained type, and leaves out includes the token may not read', async () => {
        const orders = await tokenFor(server, 'system/ServiceRequest.rs');
        await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(patientId, practitionerId), headers: bearer(admin) });
        const chained = await server.fhir('/ServiceRequest?subject:Patient.family=Testperson', { headers: bearer(orders) });
        expect(chained.status).to.equal(403);
        const included = await server.fhir('/ServiceRequest?_include=ServiceRequest:subject', { headers: bearer(orders) });
        expect(included.status).to.equal(200);
        const types = included.body.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType);
        expect(types).to.include('ServiceRequest');
        expect(types).to.not.include('Patient');
        const asAdmin = await server.fhir('/ServiceRequest?_include=ServiceRequest:subject', { headers: bearer(admin) });
        expect(asAdmin.body.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType)).to.include('Patient');
      });
    });

    describe('bundles', () => {
      it('checks every entry of a transaction and a batch against the token', async () => {
        const reader = await tokenFor(server, 'system/*.read');
        const entries = [
          { request: { method: 'GET', url: `Patient/${patientId}` } },
          { resource: patient('InBundle'), request: { method: 'POST', url: 'Patient' } },
        ];
        const tx = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: entries }, headers: bearer(reader) });
        expect(tx.status).to.equal(403);
        const batch = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'batch', entry: entries }, headers: bearer(reader) });
        expect(batch.status).to.equal(200);
        expect(batch.body.entry.map((e: { response: { status: string } }) => e.response.status.slice(0, 3))).to.deep.equal(['200', '403']);
        const found = await server.fhir('/Patient?family=InBundle', { headers: bearer(admin) });
        expect(found.body.entry ?? []).to.have.length(0);
      });
    });

    describe('AuditEvent and Provenance', () => {
      it('cannot be created, changed or deleted through the API, whatever the scopes', async () => {
        const all = await tokenFor(server, 'system/*.* system/AuditEvent.*');
        const event = (await server.fhir('/AuditEvent/_history?_count=1', { headers: bearer(all) })).body.entry[0].resource;
        const attempts = [
          server.fhir('/AuditEvent', { method: 'POST', body: { ...event, id: undefined }, headers: bearer(all) }),
          server.fhir(`/AuditEvent/${event.id}`, { method: 'PUT', body: event, headers: bearer(all) }),
          server.fhir(`/AuditEvent/${event.id}`, { method: 'DELETE', headers: bearer(all) }),
          server.fhir('/Provenance', { method: 'POST', body: { resourceType: 'Provenance' }, headers: bearer(all) }),
        ];
        for (const res of await Promise.all(attempts)) {
          expect(res.status).to.equal(405);
        }
        expect((await server.fhir(`/AuditEvent/${event.id}`, { headers: bearer(all) })).body).to.deep.equal(event);
      });

      it('are read with a scope that names AuditEvent; the wildcard does not reach the audit trail', async () => {
        const data = await tokenFor(server, 'system/*.rs');
        expect((await server.fhir('/AuditEvent/_history', { headers: bearer(data) })).status).to.equal(403);
        expect((await server.fhir('/Provenance/_history', { headers: bearer(data) })).status).to.equal(200);
        const auditor = await tokenFor(server, 'system/AuditEvent.rs');
        const events = await server.fhir('/AuditEvent/_history?_count=1', { headers: bearer(auditor) });
        expect(events.status).to.equal(200);
        const id = events.body.entry[0].resource.id;
        expect((await server.fhir(`/AuditEvent/${id}`, { headers: bearer(auditor) })).status).to.equal(200);
        expect((await server.fhir(`/AuditEvent/${id}/_history/1`, { headers: bearer(auditor) })).status).to.equal(200);
        expect((await server.fhir(`/Patient/${patientId}`, { headers: bearer(auditor) })).status).to.equal(403);
      });
    });
  });
}

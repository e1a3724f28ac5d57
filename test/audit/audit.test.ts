import { expect } from 'chai';
import { validateForWrite } from '../../src/validation/pipeline';
import { bearer, registerClient, requestToken } from '../auth/helpers';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

interface Event {
  id: string;
  subtype?: { code: string }[];
  type: { code: string };
  action: string;
  outcome: string;
  outcomeDesc?: string;
  agent: { who: { identifier: { value: string } }; network?: { address: string } }[];
  entity?: { what?: { reference: string }; query?: string }[];
}

for (const kind of testDatabaseKinds()) {
  describe(`Audit trail and provenance (${kind.name})`, () => {
    let server: TestServer;
    let token: string;
    let clientId: string;
    let auditor: string;

    before(async () => {
      server = await startTestServer(kind, { FHIR_AUTH: 'smart' });
      const tc = await registerClient(server, 'system/*.* system/AuditEvent.rs', { name: 'EHR interface' });
      clientId = tc.client.id;
      token = (await requestToken(server, tc, 'system/*.*')).body.access_token;
      const audit = await registerClient(server, 'system/AuditEvent.rs');
      auditor = (await requestToken(server, audit, 'system/AuditEvent.rs')).body.access_token;
    });
    after(async () => server?.stop());

    /** The newest AuditEvents, newest first. */
    const latest = async (n = 5): Promise<Event[]> => {
      const res = await server.fhir(`/AuditEvent/_history?_count=${n}`, { headers: bearer(auditor) });
      expect(res.status).to.equal(200);
      return res.body.entry.map((e: { resource: Event }) => e.resource);
    };
    /** Events after the auditor's own reads of the trail. */
    const byClient = async (id: string, n = 10): Promise<Event[]> =>
      (await latest(n)).filter((e) => e.agent[0].who.identifier.value === id);

    it('records a read: who, what version, outcome, from where', async () => {
      const id = (await server.fhir('/Patient', { method: 'POST', body: patient(), headers: bearer(token) })).body.id;
      expect((await server.fhir(`/Patient/${id}`, { headers: bearer(token) })).status).to.equal(200);
      const [read] = await byClient(clientId);
      expect(read.type.code).to.equal('rest');
      expect(read.subtype![0].code).to.equal('read');
      expect(read.action).to.equal('R');
      expect(read.outcome).to.equal('0');
      expect(read.entity![0].what!.reference).to.equal(`Patient/${id}/_history/1`);
      expect(read.agent[0].network!.address).to.match(/127\.0\.0\.1/);
    });

    it('records a write in its transaction, and adds a Provenance for it', async () => {
      const created = await server.fhir('/Patient', { method: 'POST', body: patient('Prov'), headers: bearer(token) });
      expect(created.status).to.equal(201);
      const [write] = await byClient(clientId);
      expect([write.subtype![0].code, write.action, write.outcome]).to.deep.equal(['create', 'C', '0']);
      expect(write.entity![0].what!.reference).to.equal(`Patient/${created.body.id}/_history/1`);

      const updated = await server.fhir(`/Patient/${created.body.id}`, {
        method: 'PUT',
        body: { ...created.body, gender: 'male' },
        headers: bearer(token),
      });
      expect(updated.status).to.equal(200);
      const provenance = await server.fhir('/Provenance/_history?_count=2', { headers: bearer(token) });
      const [forUpdate, forCreate] = provenance.body.entry.map((e: { resource: Record<string, unknown> }) => e.resource);
      expect(forCreate.target).to.deep.equal([{ reference: `Patient/${created.body.id}/_history/1` }]);
      expect(forUpdate.target).to.deep.equal([{ reference: `Patient/${created.body.id}/_history/2` }]);
      expect(forUpdate.activity.coding[0].code).to.equal('UPDATE');
      expect(forCreate.agent[0].who).to.deep.equal({
        identifier: { system: 'http://sympathetic-block-fhir.org/fhir/sid/client-id', value: clientId },
        display: 'EHR interface',
      });
      expect(forCreate.recorded).to.equal(created.body.meta.lastUpdated);
      const read = await server.fhir(`/Provenance/${forCreate.id}`, { headers: bearer(token) });
      expect(read.status).to.equal(200);
    });

    it('attributes concurrent writes of two clients each to its own client, once (group commit)', async () => {
      const other = await registerClient(server, 'system/*.*', { name: 'Second EHR' });
      const otherToken = (await requestToken(server, other, 'system/*.*')).body.access_token;
      // Sent together, so that SQLite's group commit puts writes of both clients in one batch.
      const writes = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          server.fhir('/Patient', { method: 'POST', body: patient(`Both${i}`), headers: bearer(i % 2 ? otherToken : token) }).then((res) => ({
            id: res.body.id as string,
            status: res.status,
            client: i % 2 ? other.client.id : clientId,
          })),
        ),
      );
      for (const w of writes) {
        expect(w.status).to.equal(201);
        const events = await server.fhir(`/AuditEvent?entity=${encodeURIComponent(`Patient/${w.id}`)}`, { headers: bearer(auditor) });
        const creates = events.body.entry.map((e: { resource: Event }) => e.resource).filter((e: Event) => e.action === 'C');
        expect(creates, `AuditEvents for the create of Patient/${w.id}`).to.have.length(1);
        expect(creates[0].agent[0].who.identifier.value).to.equal(w.client);
        const provenance = await server.fhir(`/Provenance?target=${encodeURIComponent(`Patient/${w.id}/_history/1`)}`, { headers: bearer(token) });
        expect(provenance.body.entry, `Provenance of Patient/${w.id}`).to.have.length(1);
        expect(provenance.body.entry[0].resource.agent[0].who.identifier.value).to.equal(w.client);
      }
    });

    it('records a denial (403) and a failed write (422) without Provenance', async () => {
      const reader = await registerClient(server, 'system/*.read');
      const readToken = (await requestToken(server, reader, 'system/*.read')).body.access_token;
      expect((await server.fhir('/Patient', { method: 'POST', body: patient(), headers: bearer(readToken) })).status).to.equal(403);
      const [denied] = await byClient(reader.client.id);
      expect([denied.subtype![0].code, denied.action, denied.outcome]).to.deep.equal(['create', 'C', '4']);
      expect(denied.outcomeDesc).to.match(/^HTTP 403/);

      const provenanceBefore = (await server.fhir('/Provenance/_history?_count=0', { headers: bearer(token) })).body.total;
      const dangling = { ...patient(), generalPractitioner: [{ reference: 'Practitioner/does-not-exist' }] };
      expect((await server.fhir('/Patient', { method: 'POST', body: dangling, headers: bearer(token) })).status).to.equal(422);
      const [failed] = await byClient(clientId);
      expect([failed.subtype![0].code, failed.outcome]).to.deep.equal(['create', '4']);
      expect(failed.outcomeDesc).to.match(/^HTTP 422/);
      expect((await server.fhir('/Provenance/_history?_count=0', { headers: bearer(token) })).body.total).to.equal(provenanceBefore);
    });

    it('records searches with their query, and rejected tokens', async () => {
      expect((await server.fhir('/Patient?family=Prov', { headers: bearer(token) })).status).to.equal(200);
      const [search] = await byClient(clientId);
      expect(search.subtype![0].code).to.equal('search-type');
      expect(Buffer.from(search.entity![0].query!, 'base64').toString()).to.equal('Patient?family=Prov');

      expect((await server.fhir('/Patient', { headers: { authorization: 'Bearer nonsense' } })).status).to.equal(401);
      const [rejected] = await byClient('unauthenticated');
      expect(rejected.type.code).to.equal('110114');
      expect(rejected.outcome).to.equal('4');
      expect(rejected.outcomeDesc).to.contain('HTTP 401');
    });

    it('records token requests, granted and refused', async () => {
      const tc = await registerClient(server, 'system/*.rs');
      expect((await requestToken(server, tc, 'system/*.rs')).status).to.equal(200);
      expect((await requestToken(server, tc, 'system/*.rs', { exp: -100 })).status).to.equal(401);
      const [refused, granted] = await byClient(tc.client.id);
      expect([granted.type.code, granted.outcome]).to.deep.equal(['110114', '0']);
      expect([refused.type.code, refused.outcome]).to.deep.equal(['110114', '4']);
      expect(refused.outcomeDesc).to.contain('expired');
    });

    it('writes valid R4 AuditEvent and Provenance resources', async () => {
      const [event] = await latest(1);
      expect(() => validateForWrite(event, 'AuditEvent')).to.not.throw();
      const provenance = (await server.fhir('/Provenance/_history?_count=1', { headers: bearer(token) })).body.entry[0].resource;
      expect(() => validateForWrite(provenance, 'Provenance')).to.not.throw();
    });
  });
}

describe('Audit trail with FHIR_AUTH=none', () => {
  it('still records every interaction, as the anonymous client', async () => {
    const [sqlite] = testDatabaseKinds();
    const server = await startTestServer(sqlite);
    try {
      const id = (await server.fhir('/Patient', { method: 'POST', body: patient() })).body.id;
      await server.fhir(`/Patient/${id}`);
      const events = (await server.fhir('/AuditEvent/_history')).body.entry.map((e: { resource: Event }) => e.resource);
      expect(events.map((e: Event) => e.subtype?.[0].code)).to.include.members(['create', 'read']);
      expect(events.every((e: Event) => e.agent[0].who.identifier.value === 'anonymous')).to.equal(true);
    } finally {
      await server.stop();
    }
  });
});

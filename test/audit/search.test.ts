import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

interface Entry {
  resource: { resourceType: string; id: string; outcome: string; entity?: { what?: { reference: string } }[] };
  search: { mode: string };
}

for (const kind of testDatabaseKinds()) {
  describe(`AuditEvent search (${kind.name})`, () => {
    let server: TestServer;
    let patientId: string;
    before(async () => {
      server = await startTestServer(kind);
      patientId = (await server.fhir('/Patient', { method: 'POST', body: patient('Audited') })).body.id;
      await server.fhir(`/Patient/${patientId}`);
      await server.fhir('/Patient/does-not-exist');
    });
    after(async () => server?.stop());

    const matches = async (query: string): Promise<Entry[]> => {
      const res = await server.fhir(`/AuditEvent?${query}`);
      expect(res.status, res.text).to.equal(200);
      return ((res.body.entry ?? []) as Entry[]).filter((e) => e.search.mode === 'match');
    };

    it('finds the events about one resource by entity, any version', async () => {
      const events = await matches(`entity=Patient/${patientId}&_count=50`);
      expect(events.length).to.be.at.least(2); // the create and the read
      for (const e of events) {
        expect(e.resource.entity?.[0].what?.reference).to.match(new RegExp(`^Patient/${patientId}/_history/\\d+$`));
      }
    });

    it('filters by outcome and by date', async () => {
      const failures = await matches('outcome=4&_count=50');
      expect(failures.length).to.be.at.least(1);
      expect(failures.every((e) => e.resource.outcome === '4')).to.equal(true);
      expect(await matches(`date=gt${new Date(Date.now() + 60_000).toISOString()}`)).to.have.length(0);
      expect((await matches('date=ge2020-01-01&_count=1000')).length).to.be.at.least(3);
    });

    it('pages in recording order with next links', async () => {
      const first = await server.fhir('/AuditEvent?_count=1');
      const next = first.body.link.find((l: { relation: string }) => l.relation === 'next');
      expect(next).to.not.equal(undefined);
      const second = (await fetch(next.url).then((r) => r.json())) as { entry: Entry[] };
      expect(second.entry[0].resource.id).to.not.equal(first.body.entry[0].resource.id);
    });

    it('refuses parameters it cannot search instead of ignoring them', async () => {
      const res = await server.fhir('/AuditEvent?action=R');
      expect(res.status).to.equal(400);
      expect(res.body.issue[0].diagnostics).to.contain('not supported for AuditEvent');
    });
  });
}

import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { fhirFetch, startTestServer, type TestServer } from '../support/server';
import { makeClinicalData, type Clinical } from './helpers';

interface Entry {
  resource: { resourceType: string; id: string };
  search: { mode: string };
}

for (const kind of testDatabaseKinds()) {
  describe(`Patient/[id]/$everything (${kind.name})`, () => {
    let server: TestServer;
    let data: Clinical;

    before(async () => {
      server = await startTestServer(kind);
      data = await makeClinicalData(server, 2);
    });
    after(() => server.stop());

    /** Follows `next` links; returns every entry and the number of pages. */
    const all = async (path: string): Promise<{ entries: Entry[]; pages: number }> => {
      const entries: Entry[] = [];
      let url: string | undefined = `${server.url}/fhir${path}`;
      let pages = 0;
      while (url) {
        const res = await fhirFetch(url);
        expect(res.status, res.text).to.equal(200);
        expect(res.body.type).to.equal('searchset');
        entries.push(...(res.body.entry ?? []));
        pages++;
        url = res.body.link.find((l: { relation: string }) => l.relation === 'next')?.url;
      }
      return { entries, pages };
    };

    it('returns the patient, their orders, procedures and outcomes, and the practitioners they reference', async () => {
      const { entries } = await all(`/Patient/${data.patients[0]}/$everything`);
      const keys = entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`);
      expect(keys[0]).to.equal(`Patient/${data.patients[0]}`);
      expect(keys).to.include.members([
        `ServiceRequest/${data.orders[0]}`,
        `Procedure/${data.procedures[0]}`,
        ...data.observations.slice(0, 2).map((id) => `Observation/${id}`),
        `Practitioner/${data.doctor}`,
      ]);
      expect(keys).not.to.include(`Patient/${data.patients[1]}`);
      expect(keys).not.to.include(`Procedure/${data.procedures[1]}`);
      expect(keys).not.to.include(`Organization/${data.organization}`);
      expect(entries.find((e) => e.resource.resourceType === 'Practitioner')!.search.mode).to.equal('include');
      expect(new Set(keys).size).to.equal(keys.length);
    });

    it('pages with _count and next links, neither skipping nor repeating', async () => {
      const whole = await all(`/Patient/${data.patients[0]}/$everything`);
      for (const count of [1, 2, 3]) {
        const paged = await all(`/Patient/${data.patients[0]}/$everything?_count=${count}`);
        expect(paged.entries.map((e) => e.resource.id)).to.deep.equal(whole.entries.map((e) => e.resource.id));
        expect(paged.pages).to.equal(Math.ceil(whole.entries.length / count));
      }
    });

    it('answers 404 for an unknown patient and 400 for a bad _count or cursor', async () => {
      expect((await server.fhir('/Patient/nobody/$everything')).status).to.equal(404);
      expect((await server.fhir(`/Patient/${data.patients[0]}/$everything?_count=zero`)).status).to.equal(400);
      expect((await server.fhir(`/Patient/${data.patients[0]}/$everything?_cursor=xyz`)).status).to.equal(400);
    });
  });
}

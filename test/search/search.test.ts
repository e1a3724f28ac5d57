import { expect } from 'chai';
import type { Patient, ServiceRequest } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, blockProcedure, painScore, patient, practitioner, skinTemperature } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

interface Entry {
  resource: { resourceType: string; id: string; [k: string]: unknown };
  search: { mode: string };
}

for (const kind of testDatabaseKinds()) {
  describe(`Search (${kind.name})`, () => {
    let server: TestServer;
    let pat: string;
    let other: string;
    let doc: string;
    const orders: string[] = [];
    let procedure: string;

    const post = async <T>(type: string, body: T): Promise<string> => {
      const res = await server.fhir(`/${type}`, { method: 'POST', body });
      expect(res.status, res.text).to.equal(201);
      return res.body.id;
    };
    const ids = (body: { entry?: Entry[] }, mode = 'match'): string[] =>
      (body.entry ?? []).filter((e) => e.search.mode === mode).map((e) => e.resource.id);
    const find = async (query: string): Promise<string[]> => {
      const res = await server.fhir(`/${query}`);
      expect(res.status, `${query}: ${res.text}`).to.equal(200);
      expect(res.body.type).to.equal('searchset');
      return ids(res.body);
    };

    before(async () => {
      server = await startTestServer(kind);
      pat = await post('Patient', { ...patient('Müller'), birthDate: '1980-06-15', gender: 'male' } as Patient);
      other = await post('Patient', {
        ...patient('Smithson'),
        identifier: [{ system: 'urn:mrn', value: 'MRN-42' }],
        name: [{ family: 'Smithson', given: ['Jo'] }],
      } as Patient);
      doc = await post('Practitioner', practitioner());
      const base = blockOrder(pat, doc);
      orders.push(await post('ServiceRequest', { ...base, authoredOn: '2026-01-10T10:00:00Z', priority: 'routine' }));
      orders.push(
        await post('ServiceRequest', {
          ...blockOrder(pat, doc, 'PLAC-2'),
          authoredOn: '2026-02-20T10:00:00Z',
          status: 'on-hold',
          code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '64510' }], text: 'Stellate ganglion block' },
        } as ServiceRequest),
      );
      orders.push(await post('ServiceRequest', { ...blockOrder(other, doc, 'PLAC-3'), authoredOn: '2026-03-05' }));
      // Completing the procedure completes orders[0] (order lifecycle).
      procedure = await post('Procedure', blockProcedure(pat, orders[0], doc));
      await post('Observation', painScore(pat, procedure, 8, '2026-01-15T09:30:00Z', 'pre-block'));
      await post('Observation', painScore(pat, procedure, 3, '2026-01-15T10:00:00Z', 'post-30min'));
      await post('Observation', skinTemperature(pat, procedure, 32.4, '2026-01-15T10:00:00Z'));
    });
    after(async () => server?.stop());

    describe('token', () => {
      it('matches code, system|code, |code and system|', async () => {
        expect(await find('ServiceRequest?code=64510')).to.deep.equal([orders[1]]);
        expect(await find('ServiceRequest?code=http://www.ama-assn.org/go/cpt|64520')).to.have.members([orders[0], orders[2]]);
        expect(await find('ServiceRequest?code=|64520')).to.deep.equal([]);
        expect(await find('ServiceRequest?code=http://www.ama-assn.org/go/cpt|')).to.have.length(3);
        expect(await find('Patient?identifier=urn:mrn|MRN-42')).to.deep.equal([other]);
      });
      it('supports :not, :missing and :text', async () => {
        expect(await find('ServiceRequest?code:not=64520')).to.deep.equal([orders[1]]);
        expect(await find('ServiceRequest?priority:missing=true')).to.have.members([orders[1], orders[2]]);
        expect(await find('ServiceRequest?priority:missing=false')).to.deep.equal([orders[0]]);
        expect(await find('ServiceRequest?code:text=stellate')).to.deep.equal([orders[1]]);
      });
      it('ORs comma-separated values and ANDs repeated parameters', async () => {
        expect(await find('ServiceRequest?status=active,on-hold')).to.have.members([orders[1], orders[2]]);
        expect(await find('ServiceRequest?status=completed')).to.deep.equal([orders[0]]);
        expect(await find('ServiceRequest?status=active&code=64510')).to.deep.equal([]);
        expect(await find(`ServiceRequest?_id=${orders[0]},${orders[1]}`)).to.have.members([orders[0], orders[1]]);
      });
    });

    describe('reference', () => {
      it('matches id, Type/id, an absolute URL on this server, and :missing', async () => {
        expect(await find(`ServiceRequest?subject=Patient/${pat}`)).to.have.members([orders[0], orders[1]]);
        expect(await find(`ServiceRequest?patient=${pat}`)).to.have.members([orders[0], orders[1]]);
        expect(await find(`ServiceRequest?subject=${server.url}/fhir/Patient/${other}`)).to.deep.equal([orders[2]]);
        expect(await find(`ServiceRequest?subject:Patient=${other}`)).to.deep.equal([orders[2]]);
        expect(await find('ServiceRequest?performer:missing=true')).to.have.length(3);
        // Entered measurements only: the outcome engine also derives relief and response Observations.
        expect(await find(`Observation?part-of=Procedure/${procedure}&code=http://loinc.org|72514-3,http://loinc.org|61008-9`)).to.have.length(3);
      });
      it('follows one level of chaining', async () => {
        expect(await find('ServiceRequest?subject:Patient.identifier=urn:mrn|MRN-42')).to.deep.equal([orders[2]]);
        expect(await find('ServiceRequest?subject:Patient.name=müll')).to.have.members([orders[0], orders[1]]);
        expect(await find('Procedure?based-on.identifier=PLAC-1')).to.deep.equal([procedure]);
      });
    });

    describe('date', () => {
      it('treats partial dates as ranges and honours every prefix', async () => {
        expect(await find('ServiceRequest?authored=2026-01')).to.deep.equal([orders[0]]);
        expect(await find('ServiceRequest?authored=ge2026-02-20')).to.have.members([orders[1], orders[2]]);
        expect(await find('ServiceRequest?authored=gt2026-02-20')).to.deep.equal([orders[2]]);
        expect(await find('ServiceRequest?authored=lt2026-02')).to.deep.equal([orders[0]]);
        expect(await find('ServiceRequest?authored=le2026-02-20')).to.have.members([orders[0], orders[1]]);
        expect(await find('ServiceRequest?authored=ne2026-01-10')).to.have.members([orders[1], orders[2]]);
        expect(await find('ServiceRequest?authored=sa2026-02-28')).to.deep.equal([orders[2]]);
        expect(await find('ServiceRequest?authored=eb2026-01-11')).to.deep.equal([orders[0]]);
        expect(await find('ServiceRequest?authored=ge2026-01-01&authored=lt2026-03-01')).to.have.members([orders[0], orders[1]]);
        expect(await find('Patient?birthdate=1980')).to.deep.equal([pat]);
        expect(await find('ServiceRequest?authored=ap2026-01-10')).to.include(orders[0]);
      });
      it('filters by _lastUpdated', async () => {
        expect(await find('Patient?_lastUpdated=gt2000-01-01')).to.have.length(2);
        expect(await find(`Patient?_lastUpdated=gt${new Date(Date.now() + 60_000).toISOString()}`)).to.deep.equal([]);
      });
    });

    describe('string, number and quantity', () => {
      it('matches strings case- and accent-insensitively by prefix, :exact and :contains', async () => {
        expect(await find('Patient?family=MULL')).to.deep.equal([pat]);
        expect(await find('Patient?name=smith')).to.deep.equal([other]);
        expect(await find('Patient?family:exact=Müller')).to.deep.equal([pat]);
        expect(await find('Patient?family:exact=muller')).to.deep.equal([]);
        expect(await find('Patient?family:contains=THSO')).to.deep.equal([other]);
      });
      it('compares quantities with prefixes, system and code', async () => {
        expect(await find('Observation?value-quantity=32.4')).to.have.length(1);
        expect(await find('Observation?value-quantity=gt32|http://unitsofmeasure.org|Cel')).to.have.length(1);
        expect(await find('Observation?value-quantity=lt32')).to.have.length(0);
        expect(await find('Observation?value-quantity=32.4|http://unitsofmeasure.org|[degF]')).to.have.length(0);
        expect(await find('Observation?value-quantity=ap32')).to.have.length(1);
      });
    });

    describe('results', () => {
      it('sorts by several keys, descending with -', async () => {
        expect(await find('ServiceRequest?_sort=-authored')).to.deep.equal([orders[2], orders[1], orders[0]]);
        expect(await find('ServiceRequest?_sort=authored')).to.deep.equal([orders[0], orders[1], orders[2]]);
        const bySubjectThenDate = await find('ServiceRequest?_sort=status,-authored');
        expect(bySubjectThenDate).to.deep.equal([orders[2], orders[0], orders[1]]);
      });

      it('pages with next and previous links that stay correct while data is written', async () => {
        const first = await server.fhir('/ServiceRequest?_sort=authored&_count=2');
        expect(ids(first.body)).to.deep.equal([orders[0], orders[1]]);
        expect(first.body.link.map((l: { relation: string }) => l.relation)).to.deep.equal(['self', 'next']);
        // A new order that sorts before the cursor must not shift the second page.
        const early = await post('ServiceRequest', { ...blockOrder(pat, doc, 'PLAC-E'), authoredOn: '2025-12-01' });
        const nextUrl = first.body.link.find((l: { relation: string }) => l.relation === 'next').url;
        const second = (await fetch(nextUrl).then((r) => r.json())) as { entry: Entry[]; link: { relation: string; url: string }[] };
        expect(ids(second)).to.deep.equal([orders[2]]);
        const prevUrl = second.link.find((l) => l.relation === 'previous')!.url;
        const back = (await fetch(prevUrl).then((r) => r.json())) as { entry: Entry[] };
        expect(ids(back)).to.deep.equal([orders[0], orders[1]]);
        await server.fhir(`/ServiceRequest/${early}`, { method: 'DELETE' });
      });

      it('counts with _total and _summary=count', async () => {
        const accurate = await server.fhir('/Observation?code=http://loinc.org|72514-3,http://loinc.org|61008-9&_total=accurate&_count=1');
        expect(accurate.body.total).to.equal(3);
        expect(accurate.body.entry).to.have.length(1);
        const count = await server.fhir('/Observation?code=http://loinc.org|72514-3,http://loinc.org|61008-9&_summary=count');
        expect(count.body.total).to.equal(3);
        expect(count.body).to.not.have.property('entry'); // FHIR JSON has no empty arrays
        const none = await server.fhir('/Observation?code=http://loinc.org|no-such-code');
        expect(none.body.total).to.equal(0);
        expect(none.body).to.not.have.property('entry');
        const history = await server.fhir('/Observation/no-such-id/_history');
        expect(history.status === 404 || !('entry' in history.body), 'no empty entry array in history').to.equal(true);
      });

      it('trims resources with _elements and _summary, marking them SUBSETTED', async () => {
        const res = await server.fhir(`/ServiceRequest?_id=${orders[0]}&_elements=status,subject`);
        const r = res.body.entry[0].resource;
        expect(Object.keys(r)).to.have.members(['resourceType', 'id', 'meta', 'status', 'subject', 'intent']);
        expect(r.meta.tag[0].code).to.equal('SUBSETTED');
        const summary = await server.fhir('/Observation?code=61008-9&_summary=true');
        expect(summary.body.entry[0].resource.valueQuantity.value).to.equal(32.4);
      });

      it('includes referenced and referencing resources, one level of :iterate', async () => {
        const res = await server.fhir(
          `/ServiceRequest?_id=${orders[0]}&_include=ServiceRequest:subject&_revinclude=Procedure:based-on&_revinclude:iterate=Observation:part-of`,
        );
        expect(ids(res.body)).to.deep.equal([orders[0]]);
        const included = (res.body.entry as Entry[]).filter((e) => e.search.mode === 'include');
        const outcomes = await server.fhir(`/Observation?part-of=Procedure/${procedure}&_summary=count`);
        expect(included.filter((e) => e.resource.resourceType === 'Observation')).to.have.length(outcomes.body.total);
        expect(outcomes.body.total).to.be.at.least(3);
        expect(included.filter((e) => e.resource.resourceType !== 'Observation').map((e) => e.resource.resourceType).sort()).to.deep.equal([
          'Patient',
          'Procedure',
        ]);
      });

      it('searches by POST with a form body', async () => {
        const res = await fetch(`${server.url}/fhir/ServiceRequest/_search`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `subject=Patient/${other}`,
        });
        expect(res.status).to.equal(200);
        expect(ids((await res.json()) as { entry: Entry[] })).to.deep.equal([orders[2]]);
      });
    });

    describe('bad parameters', () => {
      it('warns about unknown parameters, or rejects them under Prefer: handling=strict', async () => {
        const lenient = await server.fhir('/ServiceRequest?colour=blue');
        expect(lenient.status).to.equal(200);
        const outcome = (lenient.body.entry as Entry[]).find((e) => e.search.mode === 'outcome');
        expect(JSON.stringify(outcome)).to.contain('colour');
        const strict = await server.fhir('/ServiceRequest?colour=blue', { headers: { prefer: 'handling=strict' } });
        expect(strict.status).to.equal(400);
      });

      it('answers 400 naming the parameter for malformed values', async () => {
        for (const query of [
          'ServiceRequest?authored=yesterday',
          'ServiceRequest?authored=xx2026',
          'ServiceRequest?authored=2026-02-30',
          'Observation?value-quantity=big',
          'ServiceRequest?_count=many',
          'ServiceRequest?_sort=colour',
          'ServiceRequest?status:fuzzy=active',
          'ServiceRequest?_include=Nothing',
          'ServiceRequest?_cursor=not-a-cursor',
          'ServiceRequest?priority:missing=perhaps',
        ]) {
          const res = await server.fhir(`/${query}`);
          expect(res.status, query).to.equal(400);
          expect(res.body.resourceType).to.equal('OperationOutcome');
          const name = query.split('?')[1].split('=')[0].split(':')[0];
          expect(res.body.issue[0].diagnostics, query).to.contain(name);
        }
      });

      it('treats hostile strings as data', async () => {
        for (const value of ["x' OR '1'='1", 'x"; DROP TABLE resource; --', '%', '_', '\\', '%00']) {
          const res = await server.fhir(`/Patient?name=${encodeURIComponent(value)}`);
          expect(res.status, value).to.equal(200);
          expect(res.body.entry ?? [], value).to.have.length(0);
        }
        expect(await find('Patient?name:contains=%25')).to.deep.equal([]);
        expect((await server.fhir(`/Patient?name=${'a'.repeat(3000)}`)).status).to.equal(400);
        expect((await server.fhir('/Patient')).body.entry).to.have.length(2);
      });
    });
  });
}

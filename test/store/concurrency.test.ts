import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

for (const kind of testDatabaseKinds()) {
  describe(`Concurrent writes never lose a version (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => server?.stop());

    it('two updates with the same If-Match: exactly one wins, the other gets 412', async () => {
      for (let round = 0; round < 10; round++) {
        const created = await server.fhir('/Patient', { method: 'POST', body: patient(`Race${round}`) });
        const id = created.body.id;
        const put = (family: string) =>
          server.fhir(`/Patient/${id}`, {
            method: 'PUT',
            body: { ...created.body, name: [{ family }] },
            headers: { 'if-match': 'W/"1"' },
          });
        const results = await Promise.all([put('A'), put('B')]);
        const statuses = results.map((r) => r.status).sort();
        expect(statuses, `round ${round}`).to.deep.equal([200, 412]);
        const winner = results.find((r) => r.status === 200)!;
        const current = await server.fhir(`/Patient/${id}`);
        expect(current.body.meta.versionId).to.equal('2');
        expect(current.body.name[0].family).to.equal(winner.body.name[0].family);
        expect((await server.fhir(`/Patient/${id}/_history`)).body.total).to.equal(2);
      }
    });

    it('concurrent updates without If-Match each get their own version', async () => {
      const created = await server.fhir('/Patient', { method: 'POST', body: patient('Many') });
      const id = created.body.id;
      const n = 12;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          server.fhir(`/Patient/${id}`, { method: 'PUT', body: { ...created.body, name: [{ family: `F${i}` }] } }),
        ),
      );
      expect(results.map((r) => r.status)).to.deep.equal(Array(n).fill(200));
      const versions = results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b);
      expect(versions).to.deep.equal(Array.from({ length: n }, (_, i) => i + 2));
      const history = await server.fhir(`/Patient/${id}/_history?_count=100`);
      expect(history.body.total).to.equal(n + 1);
    });

    it('concurrent update-as-create of one id creates it once', async () => {
      const body = { ...patient('Twin'), id: `twin-${kind.name}` };
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          server.fhir(`/Patient/${body.id}`, { method: 'PUT', body: { ...body, name: [{ family: `T${i}` }] } }),
        ),
      );
      expect(results.filter((r) => r.status === 201)).to.have.length(1);
      expect(results.every((r) => r.status === 200 || r.status === 201)).to.equal(true);
      expect((await server.fhir(`/Patient/${body.id}/_history`)).body.total).to.equal(6);
    });
  });
}

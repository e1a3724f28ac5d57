import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

/** `Repository.createMany` (the data generator's bulk path), read back over HTTP. */
for (const kind of testDatabaseKinds()) {
  describe(`Bulk create (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => server?.stop());

    it('stores each resource with its first version, its history and its search index rows', async () => {
      const items = ['BulkA', 'BulkB', 'BulkC'].map((family) => ({ resource: patient(family) }));
      const versions = await server.core.context.repo.createMany(items);
      expect(versions.map((v) => v.versionId)).to.deep.equal(['1', '1', '1']);
      for (const [i, version] of versions.entries()) {
        const read = await server.fhir(`/Patient/${version.id}`);
        expect(read.status).to.equal(200);
        expect(read.body.name[0].family).to.equal(items[i].resource.name![0].family);
        expect(read.body.meta.versionId).to.equal('1');
        expect((await server.fhir(`/Patient/${version.id}/_history`)).body.total).to.equal(1);
      }
      const found = await server.fhir('/Patient?family=BulkB');
      expect(found.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([versions[1].id]);
    });
  });
}

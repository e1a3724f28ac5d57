import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { importFiles } from '../../src/export/importer';
import { exportToDirectory } from '../../src/export/to-directory';
import { testDatabaseKinds } from '../support/databases';
import { painScore, patient } from '../support/fixtures';
import { fhirFetch, startTestServer, type TestServer } from '../support/server';
import { download, finished, kickoff, makeClinicalData, post } from './helpers';

/** Server-written on every write (a new one per import), so not comparable across databases. */
const SERVER_WRITTEN = new Set(['Provenance', 'AuditEvent']);

/** Resources by `Type/id`, without the meta the server sets on every write. */
function comparable(byType: Map<string, Resource[]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [type, list] of byType) {
    if (SERVER_WRITTEN.has(type)) {
      continue;
    }
    for (const r of list) {
      const { meta, ...rest } = r;
      const { versionId: _v, lastUpdated: _l, ...keep } = meta ?? {};
      out.set(`${type}/${r.id}`, JSON.stringify({ ...rest, meta: Object.keys(keep).length > 0 ? keep : undefined }));
    }
  }
  return out;
}

for (const kind of testDatabaseKinds()) {
  describe(`Export → import round trip (${kind.name})`, () => {
    let source: TestServer;
    let target: TestServer;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-roundtrip-'));

    before(async () => {
      source = await startTestServer(kind, { FHIR_EXPORT_DIR: path.join(dir, 'jobs-a'), FHIR_EXPORT_MAX_LINES: '4' });
      target = await startTestServer(kind, { FHIR_EXPORT_DIR: path.join(dir, 'jobs-b') });
      const data = await makeClinicalData(source, 3);
      // A second version, a deletion and a Group: the export carries current, live versions only.
      const p = await source.fhir(`/Patient/${data.patients[0]}`);
      expect((await source.fhir(`/Patient/${data.patients[0]}`, { method: 'PUT', body: { ...p.body, gender: 'male' } })).status).to.equal(200);
      const gone = await post(source, 'Patient', patient('Deleted'));
      expect((await source.fhir(`/Patient/${gone}`, { method: 'DELETE' })).status).to.equal(200);
      await post(source, 'Group', { resourceType: 'Group', type: 'person', actual: true, member: data.patients.map((id) => ({ entity: { reference: `Patient/${id}` } })) });
    });
    after(async () => {
      await source.stop();
      await target.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('export NDJSON, import into an empty database, export again: identical resource for resource', async () => {
      const first = await finished(await kickoff(source, '/$export'));
      const files = path.join(dir, 'files');
      fs.mkdirSync(files);
      for (const out of first.output) {
        const res = await fhirFetch(out.url);
        fs.writeFileSync(path.join(files, out.url.split('/').pop()!), res.text);
      }
      expect(first.output.filter((o) => o.type === 'Observation').length).to.be.greaterThan(1);

      const errors: string[] = [];
      const report = await importFiles(target.core, [files], { baseUrl: `${target.url}/fhir`, onError: (m) => errors.push(m) });
      expect(errors).to.deep.equal([]);
      expect(report.failed).to.equal(0);
      expect(report.skipped).to.equal(first.output.filter((o) => o.type === 'Provenance').reduce((n, o) => n + o.count, 0));

      const again = await finished(await kickoff(target, '/$export'));
      const a = comparable(await download(first));
      const b = comparable(await download(again));
      expect(a.size).to.equal(18);
      expect([...b.keys()].sort()).to.deep.equal([...a.keys()].sort());
      for (const [key, json] of a) {
        expect(b.get(key), key).to.equal(json);
      }

      // Importing the same files again changes nothing.
      const twice = await importFiles(target.core, [files], { baseUrl: `${target.url}/fhir` });
      expect(twice).to.include({ created: 0, updated: 0, failed: 0 });
    });

    it('import reports bad lines with file and line number and still loads the good ones', async () => {
      const file = path.join(dir, 'mixed.ndjson');
      fs.writeFileSync(
        file,
        [
          JSON.stringify({ ...patient('Good'), id: 'import-good-1' }),
          '{not json',
          JSON.stringify({ resourceType: 'Patient', id: 'import-bad-1', gender: 'sometimes' }),
          JSON.stringify(painScore('nobody', 'no-procedure', 3, '2026-01-15T10:00:00Z')),
          JSON.stringify({ ...patient('Good2') }),
        ].join('\n'),
      );
      const errors: string[] = [];
      const report = await importFiles(target.core, [file], { baseUrl: `${target.url}/fhir`, onError: (m) => errors.push(m) });
      expect(report).to.include({ created: 2, failed: 3 });
      expect(errors.map((e) => e.split(':').slice(0, 2).join(':')).sort()).to.deep.equal([`${file}:2`, `${file}:3`, `${file}:4`]);
      expect(errors.find((e) => e.includes(':4:'))).to.contain('Patient/nobody');
      expect((await target.fhir('/Patient/import-good-1')).status).to.equal(200);
    });

    it('the export command writes NDJSON per type or collection Bundles of at most N entries, from the database directly', async () => {
      const repo = source.core.context.repo;
      const ndjson = await exportToDirectory(repo, { out: path.join(dir, 'cli-ndjson'), format: 'ndjson', maxPerFile: 3, pageSize: 2 });
      const total = Object.values(ndjson.counts).reduce((a, b) => a + b, 0);
      expect(ndjson.files.every((f) => f.count <= 3)).to.equal(true);
      expect(ndjson.bytes).to.equal(ndjson.files.reduce((n, f) => n + fs.statSync(path.join(dir, 'cli-ndjson', f.file)).size, 0));

      const bundles = await exportToDirectory(repo, {
        out: path.join(dir, 'cli-bundle'),
        format: 'bundle',
        types: ['Patient', 'Observation'],
        patients: { ids: [(await source.fhir('/Patient?_count=1')).body.entry[0].resource.id] },
        maxPerFile: 2,
        pageSize: 100,
      });
      let entries = 0;
      for (const f of bundles.files) {
        const bundle = JSON.parse(fs.readFileSync(path.join(dir, 'cli-bundle', f.file), 'utf8')) as Bundle;
        expect(bundle).to.include({ resourceType: 'Bundle', type: 'collection' });
        expect(bundle.entry!.length).to.be.at.most(2);
        entries += bundle.entry!.length;
      }
      expect(entries).to.equal(Object.values(bundles.counts).reduce((a, b) => a + b, 0));
      expect(bundles.counts.Patient).to.equal(1);
      expect(total).to.be.greaterThan(entries);
    });
  });
}

import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';
import { finished, kickoff } from './helpers';

/** Export files are sent through one reused buffer (src/http/send-file.ts); the database does not matter. */
for (const kind of testDatabaseKinds().filter((k) => k.name === 'sqlite')) {
  describe('Bulk Data export file download', () => {
    let server: TestServer;
    let fileUrl: string;
    let count: number;
    const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-download-'));
    /** The server's open file descriptors on files under the export directory (the test runs the server in-process). */
    const openExportFiles = (): number =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(fs.realpathSync(exportDir));
        } catch {
          return false;
        }
      }).length;

    before(async function () {
      this.timeout(60_000);
      server = await startTestServer(kind, { FHIR_EXPORT_DIR: exportDir });
      for (let i = 0; i < 400; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => server.fhir('/Patient', { method: 'POST', body: patient(`Download${i + j}`) })));
        expect(batch.every((r) => r.status === 201)).to.equal(true);
      }
      const manifest = await finished(await kickoff(server, '/$export?_type=Patient'));
      expect(manifest.output).to.have.length(1);
      fileUrl = manifest.output[0].url;
      count = manifest.output[0].count;
    });
    after(async () => {
      await server.stop();
      fs.rmSync(exportDir, { recursive: true, force: true });
    });

    it('sends the whole file, larger than its buffer, as NDJSON', async () => {
      const res = await fetch(fileUrl);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/fhir\+ndjson/);
      const text = await res.text();
      expect(text.length).to.be.greaterThan(64 * 1024 * 2);
      const lines = text.split('\n').filter(Boolean);
      expect(lines).to.have.length(count);
      expect(lines.every((line) => JSON.parse(line).resourceType === 'Patient')).to.equal(true);
      expect(openExportFiles()).to.equal(0);
    });

    it('a client that goes away mid-file: the file is closed, and the next download is whole', async () => {
      const abort = new AbortController();
      const res = await fetch(fileUrl, { signal: abort.signal });
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await reader.read().catch(() => undefined);
      for (let i = 0; i < 50 && openExportFiles() > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(openExportFiles(), 'export files the server still holds open').to.equal(0);
      const again = await (await fetch(fileUrl)).text();
      expect(again.split('\n').filter(Boolean)).to.have.length(count);
    });
  });
}

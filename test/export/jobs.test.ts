import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startServer, type RunningServer } from '../../src/server';
import { testDatabaseKinds, type TestDatabase } from '../support/databases';
import { patient } from '../support/fixtures';
import { fhirFetch } from '../support/server';
import { ASYNC, download, finished, idsOf, type Manifest } from './helpers';

const PATIENTS = 40;

/** Jobs outlive the process that runs them: graceful restarts resume, crashes are taken over, and transactionTime never loses a write. */
for (const kind of testDatabaseKinds()) {
  describe(`Bulk Data export jobs across restarts (${kind.name})`, () => {
    let database: TestDatabase;
    let exportDir: string;
    let env: Record<string, string>;
    const running: RunningServer[] = [];
    const ids: string[] = [];

    const start = async (extra: Record<string, string> = {}): Promise<RunningServer> => {
      const server = await startServer(loadConfig({ ...env, ...extra }), { pgSchema: database.pgSchema });
      running.push(server);
      return server;
    };
    const stop = async (server: RunningServer): Promise<void> => {
      running.splice(running.indexOf(server), 1);
      await server.close();
    };
    const kickoff = async (server: RunningServer, query: string): Promise<string> => {
      const res = await fhirFetch(`${server.url}/fhir/$export${query}`, { headers: ASYNC });
      expect(res.status, res.text).to.equal(202);
      return res.headers.get('content-location')!.split('/').pop()!;
    };
    const statusUrl = (server: RunningServer, job: string): string => `${server.url}/fhir/$export-status/${job}`;
    /** Waits until the job has written at least one page but is not finished. */
    const midway = async (server: RunningServer, job: string): Promise<void> => {
      for (;;) {
        const res = await fhirFetch(statusUrl(server, job));
        expect(res.status, res.text).to.equal(202);
        const done = Number(/^(\d+) of/.exec(res.headers.get('x-progress') ?? '')?.[1] ?? 0);
        if (done >= 5) {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const jobRow = async (server: RunningServer, job: string): Promise<{ status: string; owner: string | null }> =>
      server.core.db.knex('export_job').where({ id: job }).first();

    before(async () => {
      database = await kind.create();
      exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-jobs-'));
      env = {
        PORT: '0',
        DATABASE_URL: database.url,
        LOG_LEVEL: 'silent',
        FHIR_AUTH: 'none',
        FHIR_EXPORT_DIR: exportDir,
        // Small pages with pauses: the job takes long enough to be interrupted halfway.
        FHIR_EXPORT_PAGE_SIZE: '5',
        FHIR_EXPORT_PAUSE_MS: '40',
        FHIR_EXPORT_MAX_LINES: '7',
        FHIR_EXPORT_STALE_SECONDS: '1',
        FHIR_EXPORT_TIME_MARGIN_SECONDS: '0',
      };
      const server = await start();
      for (let i = 0; i < PATIENTS; i++) {
        const res = await fhirFetch(`${server.url}/fhir/Patient`, { method: 'POST', body: patient(`Restart${i}`) });
        expect(res.status).to.equal(201);
        ids.push(res.body.id);
      }
      await stop(server);
    });
    after(async () => {
      for (const server of running) {
        await server.close();
      }
      await database.dispose();
      fs.rmSync(exportDir, { recursive: true, force: true });
    });

    const expectExactlyOnce = async (manifest: Manifest): Promise<void> => {
      const byType = await download(manifest);
      const exported = idsOf(byType, 'Patient');
      expect(exported).to.deep.equal([...ids].sort());
      expect(manifest.output.every((o) => o.count <= 7)).to.equal(true);
    };

    it('a graceful shutdown hands the job back, and the next server resumes it where it stopped', async () => {
      const a = await start();
      const job = await kickoff(a, '?_type=Patient');
      await midway(a, job);
      await a.core.exports.runner!.stop();
      expect((await jobRow(a, job)).status).to.equal('queued');
      await stop(a);
      const b = await start();
      await expectExactlyOnce(await finished(statusUrl(b, job)));
      await stop(b);
    });

    it('after a crash the job is taken over once its heartbeat is stale, without doubled or lost lines', async () => {
      const a = await start();
      const job = await kickoff(a, '?_type=Patient');
      await midway(a, job);
      // A crash: the last page is on disk but not checkpointed, and the job stays "running".
      await a.core.exports.runner!.crash();
      await stop(a);
      const b = await start();
      expect((await jobRow(b, job)).status).to.equal('running');
      const res = await fhirFetch(statusUrl(b, job));
      expect(res.status).to.equal(202);
      await expectExactlyOnce(await finished(statusUrl(b, job)));
      await stop(b);
    });

    it('transactionTime: a write still uncommitted when the export starts is in it or in the next _since export', async () => {
      const server = await start({ FHIR_EXPORT_PAUSE_MS: '0' });
      let slowId = '';
      // A write transaction that stays open while the export starts (its last_updated is stamped early).
      const slow = server.core.context.repo.transaction(async (repo) => {
        const version = await repo.create(patient('Slowwriter'));
        slowId = version.id;
        await new Promise((resolve) => setTimeout(resolve, 600));
        return version;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const job = await kickoff(server, '?_type=Patient');
      const version = await slow;
      const first = await finished(statusUrl(server, job));
      const inFirst = idsOf(await download(first), 'Patient').includes(slowId);
      const second = await finished(statusUrl(server, await kickoff(server, `?_type=Patient&_since=${encodeURIComponent(first.transactionTime)}`)));
      const inSecond = idsOf(await download(second), 'Patient').includes(slowId);
      expect(inFirst || inSecond, `written ${version.lastUpdated}, transactionTime ${first.transactionTime}`).to.equal(true);
      if (!inFirst) {
        expect(version.lastUpdated >= first.transactionTime).to.equal(true);
      }
      if (kind.name === 'postgres') {
        // The open transaction pulled transactionTime back to its start.
        expect(first.transactionTime <= version.lastUpdated).to.equal(true);
      }
      await stop(server);
    });
  });
}

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { patient } from '../support/fixtures';
import { createPostgresDatabase, sleep, startChild, type ChildDatabase, type ChildServer } from './child';

/**
 * Database lost mid-run: the local PostgreSQL cluster is stopped under write load and started again.
 * While it is down, requests get 503 + Retry-After (never 500) and /readyz says 503; afterwards the
 * server recovers by itself and every acknowledged write is there.
 *
 * It stops the machine's shared PostgreSQL, so it runs only when asked:
 *   ROBUSTNESS_PG_OUTAGE=1 TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx mocha dist/test/robustness/db-outage.test.js
 */
const enabled = Boolean(process.env.ROBUSTNESS_PG_OUTAGE && process.env.TEST_DATABASE_URL);
const OUTAGE_MS = Number(process.env.ROBUSTNESS_OUTAGE_MS ?? 6000);
const MRN = 'http://sympathetic-block-fhir.org/fhir/sid/outage-mrn';

function pgctl(action: 'stop' | 'start'): void {
  const version = fs.readdirSync('/etc/postgresql')[0];
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action], { stdio: 'ignore' });
}

interface Attempt {
  identifier: string;
  at: number;
  status: number | string;
  retryAfter: string | null;
}

(enabled ? describe : describe.skip)('PostgreSQL stopped and restarted under load (ROBUSTNESS_PG_OUTAGE=1)', function () {
  this.timeout(180_000);
  let db: ChildDatabase;
  let server: ChildServer | undefined;

  before(async () => {
    db = await createPostgresDatabase(process.env.TEST_DATABASE_URL!);
  });
  after(async () => {
    server?.process.kill('SIGKILL');
    await server?.exited;
    await db?.dispose();
  });

  it('answers 503 + Retry-After while the database is down and recovers by itself', async () => {
    server = await startChild(db.url);
    const attempts: Attempt[] = [];
    let stop = false;
    let n = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const identifier = `OUT-${process.pid}-${++n}`;
        const attempt: Attempt = { identifier, at: Date.now(), status: 'pending', retryAfter: null };
        attempts.push(attempt);
        try {
          const res = await fetch(`${server!.url}/fhir/Patient`, {
            method: 'POST',
            headers: { 'content-type': 'application/fhir+json' },
            body: JSON.stringify({ ...patient('Outage'), identifier: [{ system: MRN, value: identifier }] }),
            signal: AbortSignal.timeout(30_000),
          });
          attempt.status = res.status;
          attempt.retryAfter = res.headers.get('retry-after');
          await res.text();
        } catch (err) {
          attempt.status = (err as Error).name;
        }
        await sleep(20);
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    let stoppedAt = 0;
    let startedAt = 0;
    let readyDuring = 0;
    let healthDuring = 0;
    let recoveredAt = 0;
    try {
      await sleep(1500);
      stoppedAt = Date.now();
      pgctl('stop');
      await sleep(OUTAGE_MS / 2);
      readyDuring = (await fetch(`${server.url}/readyz`)).status;
      healthDuring = (await fetch(`${server.url}/healthz`)).status;
      await sleep(OUTAGE_MS / 2);
    } finally {
      startedAt = Date.now();
      pgctl('start');
    }
    // Recovery needs no restart of the server: readiness comes back by itself.
    for (let i = 0; i < 300 && !recoveredAt; i++) {
      if ((await fetch(`${server.url}/readyz`)).status === 200) {
        recoveredAt = Date.now();
      } else {
        await sleep(100);
      }
    }
    await sleep(2000);
    stop = true;
    await Promise.all(writers);

    const during = attempts.filter((a) => a.at > stoppedAt + 500 && a.at < startedAt);
    const after = attempts.filter((a) => a.at > recoveredAt + 500);
    const tally = (xs: Attempt[]): Record<string, number> =>
      xs.reduce<Record<string, number>>((acc, a) => ({ ...acc, [a.status]: (acc[a.status] ?? 0) + 1 }), {});
    console.log(
      `      outage ${startedAt - stoppedAt} ms, recovered ${recoveredAt - startedAt} ms after start; ` +
        `before/during/after: ${JSON.stringify(tally(attempts.filter((a) => a.at < stoppedAt)))} ${JSON.stringify(tally(during))} ${JSON.stringify(tally(after))}`,
    );
    expect(readyDuring).to.equal(503);
    expect(healthDuring).to.equal(200);
    expect(recoveredAt, 'ready again after PostgreSQL came back').to.be.greaterThan(0);
    expect(attempts.filter((a) => typeof a.status === 'number' && a.status >= 500 && a.status !== 503), 'no 5xx but 503').to.deep.equal([]);
    expect(during.length).to.be.greaterThan(0);
    for (const a of during) {
      expect(a.status, a.identifier).to.equal(503);
      expect(a.retryAfter).to.equal('1');
    }
    expect(after.length).to.be.greaterThan(0);
    expect(after.every((a) => a.status === 201), JSON.stringify(tally(after))).to.equal(true);
    // Nothing acknowledged was lost; nothing refused is there.
    for (const a of attempts.filter((x) => x.status === 201 || x.status === 503)) {
      const res = await fetch(`${server.url}/fhir/Patient?identifier=${encodeURIComponent(`${MRN}|${a.identifier}`)}&_summary=count`);
      const total = ((await res.json()) as { total: number }).total;
      expect(total, `${a.identifier} answered ${a.status}`).to.equal(a.status === 201 ? 1 : 0);
    }
  });
});

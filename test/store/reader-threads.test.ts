import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, readerFor, type Database } from '../../src/store/database';
import { migrateToLatest } from '../../src/store/migrations';

/** A statement that keeps SQLite busy for a while: counting a recursive sequence. */
const SLOW_SQL = 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000) SELECT count(*) AS c FROM n';

describe('SQLite reads outside transactions run on reader threads', () => {
  let dir: string;
  let db: Database;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-readers-'));
    db = openDatabase(`sqlite:${path.join(dir, 'r.sqlite')}`);
    await migrateToLatest(db.knex);
  });
  after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a slow read does not stall the main thread (timers, writes go on)', async () => {
    let ticks = 0;
    let worstLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last - 5);
      last = now;
      ticks++;
    }, 5);
    try {
      const started = performance.now();
      const slow = readerFor(db.knex).raw(SLOW_SQL);
      // The writer connection (main thread) works meanwhile.
      await db.knex('write_lock').insert({ lock_key: 'reader-thread-test' });
      const [{ c }] = (await slow) as { c: number }[];
      const took = performance.now() - started;
      expect(c).to.equal(3_000_000);
      expect(took, 'the statement is slow enough to show a stall').to.be.greaterThan(150);
      expect(worstLag, `event-loop lag during a ${Math.round(took)} ms read`).to.be.lessThan(took / 2);
      expect(ticks).to.be.greaterThan(5);
    } finally {
      clearInterval(timer);
    }
  });

  it('reader threads see committed writes and report SQL errors with their code', async () => {
    await db.knex('write_lock').insert({ lock_key: 'seen-by-readers' });
    const rows = (await readerFor(db.knex)('write_lock').where({ lock_key: 'seen-by-readers' })) as unknown[];
    expect(rows).to.have.length(1);
    const err = await readerFor(db.knex).raw('SELECT * FROM no_such_table').then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err?.message).to.match(/no such table/);
    expect(err?.code).to.equal('SQLITE_ERROR');
    // Read-only: a write through a reader is refused.
    const write = await readerFor(db.knex)('write_lock').insert({ lock_key: 'nope' }).then(
      () => 'written',
      (e: unknown) => String((e as Error).message),
    );
    expect(write).to.match(/readonly|read-only|attempt to write/i);
  });
});

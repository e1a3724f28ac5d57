import { expect } from 'chai';
import type { Knex } from 'knex';
import { openDatabase, type Database } from '../../src/store/database';
import { TransactionRunner } from '../../src/store/transactions';

/** SQLite's group commit (src/store/transactions.ts) on a real connection. */
describe('Group commit (SQLite)', () => {
  let db: Database;
  let runner: TransactionRunner;

  beforeEach(async () => {
    db = openDatabase('sqlite::memory:');
    await db.knex.schema.createTable('gc_t', (t) => t.integer('id').primary());
    runner = new TransactionRunner(db.knex, 'sqlite');
  });
  afterEach(() => db.close());

  it('units that arrive while a batch runs join it: one transaction, one COMMIT, each unit in its own savepoint', async () => {
    const seen: Knex.Transaction[] = [];
    let late: Promise<unknown> | undefined;
    let failing: Promise<unknown> | undefined;
    const commits: string[] = [];
    const listen = (q: { sql: string }): void => void (/^COMMIT/i.test(q.sql) && commits.push(q.sql));
    db.knex.on('query', listen);
    const first = runner.run(async (tx) => {
      seen.push(tx);
      await tx('gc_t').insert({ id: 1 });
      // Queued while the batch runs: they join it rather than wait for the next one.
      late = runner.run(async (tx2) => {
        seen.push(tx2);
        await tx2('gc_t').insert({ id: 2 });
      });
      failing = runner.run(async (tx3) => {
        seen.push(tx3);
        await tx3('gc_t').insert({ id: 3 });
        throw new Error('this unit fails');
      });
    });
    await first;
    await late;
    const failure = await failing!.then(
      () => undefined,
      (e: Error) => e.message,
    );
    db.knex.off('query', listen);
    expect(seen).to.have.length(3);
    expect(seen[1], 'the same transaction').to.equal(seen[0]);
    expect(seen[2]).to.equal(seen[0]);
    expect(commits, 'one COMMIT for all three').to.have.length(1);
    expect(failure).to.equal('this unit fails');
    const ids = ((await db.knex('gc_t').select('id').orderBy('id')) as { id: number }[]).map((r) => r.id);
    expect(ids, 'the failing unit rolled back alone').to.deep.equal([1, 2]);
  });
});

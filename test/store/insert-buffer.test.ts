import { expect } from 'chai';
import Database from 'better-sqlite3';
import type { Knex } from 'knex';
import { openDatabase, type Database as Database_ } from '../../src/store/database';
import { SqliteInsertBuffer } from '../../src/store/sqlite-insert-buffer';
import { insertRows } from '../../src/store/row-insert';
import { TransactionRunner } from '../../src/store/transactions';
import { StatementCache } from '../../src/store/sqlite-statements';
import { testDatabaseKinds, type TestDatabase } from '../support/databases';

/** The SQLite client's held INSERTs (src/store/insert-buffer.ts) on a real connection. */
describe('SQLite insert buffer', () => {
  let db: Database.Database;
  let sql: SqliteInsertBuffer;
  const insertT = 'insert into `t` (`id`, `v`) values (?, ?)';
  const insertTMany = 'insert into `t` (`id`, `v`) select ? as `id`, ? as `v` union all select ? as `id`, ? as `v`';
  const insertU = 'insert into `u` (`id`) values (?)';
  const ids = (table: string): number[] => (db.prepare(`select id from ${table} order by id`).all() as { id: number }[]).map((r) => r.id);
  const run = (statement: string, bindings: unknown[] = []): unknown => sql.run(statement, bindings);
  const failure = (fn: () => unknown): { code?: string } | undefined => {
    try {
      fn();
    } catch (err) {
      return err as { code?: string };
    }
    return undefined;
  };

  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('create table t (id integer primary key, v text); create table u (id integer primary key)');
    sql = new SqliteInsertBuffer(new StatementCache(db), db);
  });
  afterEach(() => db.close());

  it('writes held rows before any other statement, so the transaction reads its own writes', () => {
    run('BEGIN;');
    run(insertT, [1, 'a']);
    run(insertTMany, [2, 'b', 3, 'c']);
    run(insertU, [10]);
    expect(db.inTransaction).to.equal(true);
    expect(ids('t'), 'nothing written yet').to.deep.equal([]);
    expect(run('select count(*) as n from `t`')).to.deep.equal({ rows: [{ n: 3 }] });
    expect(ids('u')).to.deep.equal([10]);
    run('COMMIT;');
    expect(ids('t')).to.deep.equal([1, 2, 3]);
  });

  it('runs INSERTs at once outside a transaction', () => {
    run(insertT, [1, 'a']);
    expect(ids('t')).to.deep.equal([1]);
  });

  it('a held INSERT that fails at RELEASE undoes its whole savepoint, reports the error there, and the transaction goes on', () => {
    run(insertT, [1, 'committed before']);
    run('BEGIN;');
    run('SAVEPOINT unit');
    run(insertU, [10]);
    run('RELEASE SAVEPOINT unit');
    run('SAVEPOINT unit');
    run(insertU, [11]);
    run(insertT, [1, 'duplicate key']);
    const err = failure(() => run('RELEASE SAVEPOINT unit'));
    expect(err?.code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY');
    run('SAVEPOINT unit');
    run(insertU, [12]);
    run('RELEASE SAVEPOINT unit');
    run('COMMIT;');
    expect(ids('u'), 'the failed unit wrote nothing').to.deep.equal([10, 12]);
    expect(db.inTransaction).to.equal(false);
  });

  it('a held INSERT that fails at COMMIT rolls the transaction back', () => {
    run(insertT, [1, 'committed before']);
    run('BEGIN;');
    run(insertU, [10]);
    run(insertT, [1, 'duplicate key']);
    expect(failure(() => run('COMMIT;'))?.code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(db.inTransaction).to.equal(false);
    expect(ids('u')).to.deep.equal([]);
  });

  it('a held INSERT that fails before a read fails the read, and ROLLBACK TO undoes the rest', () => {
    run(insertT, [1, 'committed before']);
    run('BEGIN;');
    run('SAVEPOINT unit');
    run(insertU, [10]);
    run(insertT, [1, 'duplicate key']);
    expect(failure(() => run('select * from `u`'))?.code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY');
    run('ROLLBACK TO SAVEPOINT unit');
    run('RELEASE SAVEPOINT unit');
    run('COMMIT;');
    expect(ids('u')).to.deep.equal([]);
  });

  it('ROLLBACK drops held rows without writing them', () => {
    run('BEGIN;');
    run('SAVEPOINT unit');
    run(insertU, [10]);
    run('ROLLBACK TO SAVEPOINT unit');
    run('RELEASE SAVEPOINT unit');
    run(insertU, [11]);
    run('ROLLBACK');
    expect(ids('u')).to.deep.equal([]);
    expect(db.inTransaction).to.equal(false);
  });

  it('leaves INSERTs it does not recognise (ON CONFLICT, RETURNING) in place, after the held ones', () => {
    run('BEGIN;');
    run(insertU, [10]);
    run('insert into `u` (`id`) values (?) on conflict (`id`) do nothing', [10]);
    expect(ids('u')).to.deep.equal([10]);
    run('COMMIT;');
  });
});

/** What a promise was rejected with (undefined if it was fulfilled). */
async function rejection(promise: Promise<unknown>): Promise<{ code?: string } | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => e as { code?: string },
  );
}

/** The same, through knex, on each database the server runs on (SQLite's client and BufferingPgClient). */
for (const kind of testDatabaseKinds()) {
  describe(`Held INSERTs through knex (${kind.name})`, function () {
    this.timeout(30_000);
    let database: TestDatabase;
    let db: Database_;
    const ids = async (table: string): Promise<number[]> =>
      ((await db.knex(table).select('id').orderBy('id')) as { id: number }[]).map((r) => Number(r.id));
    const duplicateKey = ['23505', 'SQLITE_CONSTRAINT_PRIMARYKEY'];

    before(async () => {
      database = await kind.create();
      db = openDatabase(database.url, { pgSchema: database.pgSchema });
      await db.knex.schema.createTable('held_t', (t) => {
        t.integer('id').primary();
        t.text('v');
      });
      await db.knex.schema.createTable('held_u', (t) => t.integer('id').primary());
      await db.knex('held_t').insert({ id: 1, v: 'committed before' });
    });
    after(async () => {
      await db.close();
      await database.dispose();
    });

    it('a transaction reads the rows it inserted, and commits them all', async () => {
      await db.knex.transaction(async (tx) => {
        await tx('held_t').insert({ id: 2, v: 'b' });
        await tx('held_t').insert([
          { id: 3, v: 'c' },
          { id: 4, v: 'd' },
        ]);
        await tx('held_u').insert({ id: 10 });
        const row = (await tx('held_t').count('* as n').first()) as { n: number | string };
        expect(Number(row.n)).to.equal(4);
      });
      expect(await ids('held_t')).to.deep.equal([1, 2, 3, 4]);
      expect(await ids('held_u')).to.deep.equal([10]);
    });

    it('a failing INSERT in a savepoint fails that savepoint alone, with the driver\'s error code', async () => {
      await db.knex.transaction(async (tx) => {
        await tx('held_u').insert({ id: 20 });
        const err = await rejection(tx
          .transaction(async (sp) => {
            await sp('held_u').insert({ id: 21 });
            await sp('held_t').insert({ id: 1, v: 'duplicate key' });
          }));
        expect(duplicateKey).to.include(err?.code);
        await tx('held_u').insert({ id: 22 });
      });
      expect(await ids('held_u')).to.deep.equal([10, 20, 22]);
    });

    it('a failing INSERT before COMMIT rolls the transaction back, and the connection goes on', async () => {
      const err = await rejection(db.knex
        .transaction(async (tx) => {
          await tx('held_u').insert({ id: 30 });
          await tx('held_t').insert({ id: 1, v: 'duplicate key' });
        }));
      expect(duplicateKey).to.include(err?.code);
      expect(await ids('held_u')).to.not.include(30);
      await db.knex.transaction(async (tx) => tx('held_u').insert({ id: 31 }));
      expect(await ids('held_u')).to.include(31);
    });

    if (kind.name === 'postgres') {
      it('an INSERT issued between a failed COMMIT and the server\'s next status is not held: it commits at once', async () => {
        // pg calls a query back with its error on the ErrorResponse, before the ReadyForQuery that
        // says the transaction is over; an INSERT issued in that callback once was held and never
        // written, though it was answered as stored.
        interface PgConnection {
          query(sql: string, callback?: (err: { code?: string } | null) => void): Promise<unknown>;
          getTransactionStatus(): string;
        }
        const client = db.knex.client as unknown as {
          acquireConnection(): Promise<PgConnection>;
          releaseConnection(connection: PgConnection): Promise<void>;
          _query(connection: PgConnection, obj: { sql: string; bindings: unknown[] }): Promise<unknown>;
        };
        await db.knex.raw('create table held_e (id integer, constraint held_e_u unique (id) deferrable initially deferred)');
        const connection = await client.acquireConnection();
        try {
          await connection.query('begin');
          await connection.query('insert into held_e values (1), (1)');
          const seen = await new Promise<{ code?: string; status: string }>((resolve, reject) => {
            void connection.query('commit', (err) => {
              const status = connection.getTransactionStatus();
              client._query(connection, { sql: 'insert into "held_u" ("id") values ($1)', bindings: [50] }).then(
                () => resolve({ code: err?.code, status }),
                reject,
              );
            });
          });
          expect(seen, 'the COMMIT failed, and pg still reported the old status').to.deep.equal({ code: '23505', status: 'T' });
        } finally {
          await client.releaseConnection(connection);
        }
        const other = openDatabase(database.url, { pgSchema: database.pgSchema });
        try {
          expect(((await other.knex('held_u').where({ id: 50 })) as unknown[]).length, 'committed at once').to.equal(1);
        } finally {
          await other.close();
        }
      });
    }

    it('after a COMMIT the database refused, INSERTs outside a transaction run (and fail) where they are issued', async () => {
      // A COMMIT that fails in the database itself, not in the held rows: a deferred unique check on
      // PostgreSQL; on SQLite a full disk, which rolls the whole group commit back.
      if (kind.name === 'postgres') {
        await db.knex.raw('create table held_d (id integer, constraint held_d_u unique (id) deferrable initially deferred)');
        const err = await rejection(db.knex
          .transaction(async (tx) => {
            await tx('held_d').insert({ id: 1 });
            await tx('held_d').insert({ id: 1 });
          }));
        expect(err?.code).to.equal('23505');
      } else {
        const [{ page_count: pages }] = (await db.knex.raw('PRAGMA page_count')) as { page_count: number }[];
        await db.knex.raw(`PRAGMA max_page_count = ${pages + 2}`);
        const runner = new TransactionRunner(db.knex, 'sqlite');
        const unit = (id: number, size: number): Promise<unknown> =>
          runner.run(async (tx) => tx('held_t').insert({ id, v: 'x'.repeat(size) })).then(
            () => 'stored',
            (e: { code?: string }) => e.code,
          );
        const outcomes = await Promise.all([unit(100, 10), unit(101, 300_000), unit(102, 10)]);
        expect(outcomes, 'the whole batch was rolled back, and says why').to.deep.equal(['SQLITE_FULL', 'SQLITE_FULL', 'SQLITE_FULL']);
        expect(await ids('held_t')).to.not.include.members([100, 102]);
        await db.knex.raw('PRAGMA max_page_count = 1073741823');
      }
      await db.knex('held_u').insert({ id: 40 });
      const other = openDatabase(database.url, { pgSchema: database.pgSchema });
      try {
        expect(((await other.knex('held_u').where({ id: 40 })) as unknown[]).length, 'committed at once').to.equal(1);
      } finally {
        await other.close();
      }
      const replay = await rejection(db.knex('held_u')
        .insert({ id: 40 }));
      expect(duplicateKey, 'a duplicate fails where it is issued').to.include(replay?.code);
    });

    describe('insertRows (the write path\'s INSERTs)', () => {
      /** The SQL knex runs while `fn` does: insertRows' held rows are not knex queries. */
      const queriesDuring = async (fn: () => Promise<unknown>): Promise<string[]> => {
        const seen: string[] = [];
        const listen = (q: { sql: string }): void => void seen.push(q.sql);
        db.knex.on('query', listen);
        try {
          await fn();
        } finally {
          db.knex.off('query', listen);
        }
        return seen;
      };

      it('in a transaction, rows go to the held INSERTs without a knex query; the transaction reads them, the COMMIT stores them', async () => {
        let inside: number[] = [];
        const sql = await queriesDuring(() =>
          db.knex.transaction(async (tx) => {
            await insertRows(tx, 'held_t', [{ id: 70, v: 'a' }, { v: 'b', id: 71 }]);
            await insertRows(tx, 'held_u', [{ id: 70 }]);
            inside = ((await tx('held_t').where('id', '>=', 70).orderBy('id')) as { id: number }[]).map((r) => Number(r.id));
          }),
        );
        expect(inside).to.deep.equal([70, 71]);
        expect(sql.filter((q) => /^insert/i.test(q)), 'no knex INSERT').to.deep.equal([]);
        expect(await ids('held_u')).to.include(70);
      });

      it('a held row that fails fails its transaction with the driver\'s code, and nothing of it is stored', async () => {
        const err = await rejection(db.knex.transaction(async (tx) => {
          await insertRows(tx, 'held_u', [{ id: 72 }]);
          await insertRows(tx, 'held_t', [{ id: 1, v: 'duplicate key' }]);
        }));
        expect(duplicateKey).to.include(err?.code);
        expect(await ids('held_u')).to.not.include(72);
      });

      it('a transaction that has finished is refused, as knex refuses it; nothing is stored', async () => {
        let finished: Knex.Transaction | undefined;
        await db.knex.transaction(async (tx) => {
          finished = tx;
          await insertRows(tx, 'held_u', [{ id: 76 }]);
        });
        // Issued while another transaction runs (on SQLite, on the same one connection).
        const err = await db.knex.transaction(async (tx) => {
          await tx('held_u').where({ id: 0 });
          return rejection(insertRows(finished!, 'held_u', [{ id: 77 }]));
        });
        expect(String(err)).to.match(/Transaction query already complete/);
        expect(await ids('held_u')).to.include(76).and.not.include(77);
      });

      it('outside a transaction, and for rows of differing columns, knex runs the INSERT (and it is stored)', async () => {
        const outside = await queriesDuring(() => insertRows(db.knex, 'held_u', [{ id: 73 }]));
        expect(outside.filter((q) => /^insert/i.test(q))).to.have.length(1);
        const mixed = await queriesDuring(() =>
          db.knex.transaction((tx) => insertRows(tx, 'held_t', [{ id: 74, v: 'a' }, { id: 75 }])),
        );
        expect(mixed.filter((q) => /^insert/i.test(q))).to.have.length(1);
        expect(await ids('held_u')).to.include(73);
        expect(await ids('held_t')).to.include.members([74, 75]);
      });
    });
  });
}

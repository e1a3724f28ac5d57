import { expect } from 'chai';
import type { Knex } from 'knex';
import { openDatabase, type Database } from '../../src/store/database';
import { insertRows } from '../../src/store/row-insert';
import { transactionBegun } from '../../src/store/pg-client';
import { namesLost } from '../../src/store/pg-prepared';
import { TransactionRunner } from '../../src/store/transactions';
import { testDatabaseKinds, type TestDatabase } from '../support/databases';

interface Stream {
  _write(...args: unknown[]): unknown;
  _writev(...args: unknown[]): unknown;
}
interface PgConnection {
  connection: { stream: Stream; parsedStatements: Record<string, string> };
}
interface RawClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
  _query(connection: PgConnection, obj: { sql: string; bindings?: unknown[] }): Promise<{ response: { rows: unknown[] } }>;
}

/** Socket writes (system calls, after corking) on the connection while `fn` runs. */
async function socketWrites(connection: PgConnection, fn: () => Promise<unknown>): Promise<number> {
  const stream = connection.connection.stream;
  const write = stream._write;
  const writev = stream._writev;
  let count = 0;
  stream._write = function (this: unknown, ...args: unknown[]) {
    count++;
    return write.apply(this, args);
  };
  stream._writev = function (this: unknown, ...args: unknown[]) {
    count++;
    return writev.apply(this, args);
  };
  try {
    await fn();
  } finally {
    stream._write = write;
    stream._writev = writev;
  }
  return count;
}

/** PostgreSQL: src/store/pg-client.ts sends statements together and names them (src/store/pg-prepared.ts). */
for (const kind of testDatabaseKinds().filter((k) => k.name === 'postgres')) {
  describe('PostgreSQL: pipelined statements and named statements', function () {
    this.timeout(30_000);
    let database: TestDatabase;
    let db: Database;
    let client: RawClient;
    const run = async (connection: PgConnection, sql: string, bindings: unknown[] = []): Promise<unknown[]> =>
      (await client._query(connection, { sql, bindings })).response.rows;
    const prepared = async (connection: PgConnection): Promise<string[]> =>
      ((await run(connection, 'select statement from pg_prepared_statements order by statement')) as { statement: string }[]).map((r) => r.statement);

    before(async () => {
      database = await kind.create();
      db = openDatabase(database.url, { pgSchema: database.pgSchema });
      client = db.knex.client as unknown as RawClient;
      await db.knex.schema.createTable('pipe_t', (t) => {
        t.integer('id').primary();
        t.text('v');
      });
      await db.knex('pipe_t').insert({ id: 1, v: 'one' });
    });
    after(async () => {
      await db.close();
      await database.dispose();
    });

    it('a write transaction is two socket writes: its BEGIN with its first reads, the held INSERTs with the COMMIT', async () => {
      let writes = 0;
      await db.knex.transaction(async (tx: Knex.Transaction) => {
        const connection = (await (tx.client as unknown as RawClient).acquireConnection()) as PgConnection;
        writes = await socketWrites(connection, async () => {
          // Two reads issued together (as a write's hook prefetch and its reference check are).
          const [a, b] = await Promise.all([tx('pipe_t').where({ id: 1 }).first(), tx('pipe_t').count('* as n').first()]);
          expect(a).to.deep.include({ id: 1 });
          expect(Number((b as { n: string }).n)).to.equal(1);
          await insertRows(tx, 'pipe_t', [{ id: 2, v: 'two' }]);
          await insertRows(tx, 'pipe_t', [{ id: 3, v: 'three' }]);
          await tx.commit();
        });
      });
      expect(writes).to.equal(2);
      expect(((await db.knex('pipe_t').orderBy('id')) as { id: number }[]).map((r) => r.id)).to.deep.equal([1, 2, 3]);
    });

    it('transactionBegun: once it resolves the server has begun the transaction (a deferred BEGIN is sent for it)', async () => {
      await db.knex.transaction(async (tx: Knex.Transaction) => {
        // No statement yet: knex was answered BEGIN, but nothing has gone to the server.
        await transactionBegun(tx);
        await new Promise((resolve) => setTimeout(resolve, 5));
        const after = Date.now();
        const [row] = (await tx.raw('select xact_start from pg_stat_activity where pid = pg_backend_pid()')).rows as { xact_start: Date }[];
        expect(row.xact_start.getTime()).to.be.below(after);
      });
    });

    it('a transaction whose first statement fails reports that error, and the connection goes on', async () => {
      const err = await db.knex
        .transaction(async (tx) => tx('no_such_table').select('*'))
        .then(() => undefined, (e: { code?: string }) => e);
      expect(err?.code).to.equal('42P01');
      await db.knex.transaction(async () => undefined);
      const [row] = (await db.knex.transaction((tx) => tx('pipe_t').where({ id: 1 }))) as { v: string }[];
      expect(row.v).to.equal('one');
    });

    it('statements in a transaction are prepared once per connection (from the second use); those outside are not', async () => {
      const connection = await client.acquireConnection();
      try {
        const statement = 'select v from "pipe_t" where "id" = $1 and $2 = $2';
        await run(connection, statement, [1, 'outside']);
        expect(await prepared(connection), 'outside a transaction').to.not.include(statement);
        for (let i = 0; i < 3; i++) {
          await run(connection, 'BEGIN;');
          const rows = await run(connection, statement, [1, `inside ${i}`]);
          expect(rows).to.deep.equal([{ v: 'one' }]);
          await run(connection, 'COMMIT;');
        }
        expect((await prepared(connection)).filter((s) => s === statement), 'once').to.have.length(1);
      } finally {
        await client.releaseConnection(connection);
      }
    });

    it('a connection keeps at most 64 named statements: the least recently used are deallocated', async () => {
      const connection = await client.acquireConnection();
      try {
        await run(connection, 'BEGIN;');
        for (let i = 0; i < 80; i++) {
          for (let use = 0; use < 2; use++) {
            // Named from the second use.
            expect(await run(connection, `select $1::int + ${i} as n`, [1])).to.deep.equal([{ n: 1 + i }]);
          }
        }
        await run(connection, 'select v from "pipe_t" where "id" = $1', [1]);
        await run(connection, 'select v from "pipe_t" where "id" = $1', [1]);
        await run(connection, 'COMMIT;');
        await run(connection, 'BEGIN;');
        const names = await prepared(connection);
        await run(connection, 'COMMIT;');
        expect(names).to.have.length(64);
        expect(names).to.include('select v from "pipe_t" where "id" = $1').and.not.include('select $1::int + 0 as n');
        expect(Object.keys(connection.connection.parsedStatements), 'pg forgets them too').to.have.length(64);
      } finally {
        await client.releaseConnection(connection);
      }
    });

    it('a named statement whose table another server changed is named anew; the write is retried and succeeds', async () => {
      await db.knex.schema.createTable('pipe_s', (t) => {
        t.integer('id').primary();
        t.text('v');
      });
      await db.knex('pipe_s').insert({ id: 1, v: 'a' });
      const connection = await client.acquireConnection();
      try {
        const read = async (): Promise<unknown[]> => {
          await run(connection, 'BEGIN;');
          try {
            return await run(connection, 'select * from "pipe_s" where "id" = $1', [1]);
          } finally {
            await run(connection, 'ROLLBACK;');
          }
        };
        expect(await read()).to.deep.equal([{ id: 1, v: 'a' }]);
        expect(await read(), 'now named').to.deep.equal([{ id: 1, v: 'a' }]);
        expect(await prepared(connection)).to.include('select * from "pipe_s" where "id" = $1');
        const other = openDatabase(database.url, { pgSchema: database.pgSchema });
        await other.knex.raw('alter table "pipe_s" add column "w" text');
        await other.close();
        const err = await read().then(() => undefined, (e: unknown) => e);
        expect(namesLost(err), String(err)).to.equal(true);
        expect(await read()).to.deep.equal([{ id: 1, v: 'a', w: null }]);
        // The runner re-runs a unit that met such an error, and it succeeds.
        const runner = new TransactionRunner(db.knex, 'postgres');
        let attempts = 0;
        const row = await runner.run(async (tx) => {
          if (attempts++ === 0) {
            throw err;
          }
          return tx('pipe_s').where({ id: 1 }).first();
        });
        expect({ row, attempts }).to.deep.equal({ row: { id: 1, v: 'a', w: null }, attempts: 2 });
      } finally {
        await client.releaseConnection(connection);
      }
    });

    it('a statement pg closed after a failed bind fails its next use once (retryable), then runs under a new name', async () => {
      const connection = await client.acquireConnection();
      const statement = 'select $1::text as v';
      const unconvertible = {
        toPostgres(): string {
          throw new Error('unconvertible value');
        },
      };
      try {
        await run(connection, 'BEGIN;');
        await run(connection, statement, ['a']);
        expect(await run(connection, statement, ['b']), 'named from its second use').to.deep.equal([{ v: 'b' }]);
        const bad = await run(connection, statement, [unconvertible]).then(() => undefined, (e: unknown) => e);
        expect(String(bad)).to.match(/unconvertible value/);
        // pg closed the statement on the server but still counts it as parsed. (Once its Close is
        // answered: until then the connection is not known to be in the transaction, so not named.)
        await run(connection, 'select 1');
        const lost = await run(connection, statement, ['c']).then(() => undefined, (e: unknown) => e);
        expect(namesLost(lost), String(lost)).to.equal(true);
        await run(connection, 'ROLLBACK;');
        await run(connection, 'BEGIN;');
        for (const v of ['d', 'e', 'f']) {
          expect(await run(connection, statement, [v])).to.deep.equal([{ v }]);
        }
        await run(connection, 'COMMIT;');
      } finally {
        await client.releaseConnection(connection);
      }
    });
  });
}

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';

/** A database for one test suite: a fresh SQLite file, or a throw-away schema in PostgreSQL. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  url: string;
  pgSchema?: string;
  dispose(): Promise<void>;
}

export interface TestDatabaseKind {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
}

const sqlite: TestDatabaseKind = {
  name: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-test-'));
    return {
      name: 'sqlite',
      url: `sqlite:${path.join(dir, 'fhir.sqlite')}`,
      dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
};

function postgres(url: string): TestDatabaseKind {
  return {
    name: 'postgres',
    async create() {
      const schema = `test_${randomBytes(6).toString('hex')}`;
      const admin = knex({ client: 'pg', connection: url });
      await admin.raw(`CREATE SCHEMA ${schema}`);
      await admin.destroy();
      return {
        name: 'postgres',
        url,
        pgSchema: schema,
        dispose: async () => {
          const cleanup = knex({ client: 'pg', connection: url });
          await cleanup.raw(`DROP SCHEMA ${schema} CASCADE`);
          await cleanup.destroy();
        },
      };
    },
  };
}

/** SQLite always; PostgreSQL too when TEST_DATABASE_URL is set (CI sets it). */
export function testDatabaseKinds(): TestDatabaseKind[] {
  const pgUrl = process.env.TEST_DATABASE_URL;
  return pgUrl ? [sqlite, postgres(pgUrl)] : [sqlite];
}

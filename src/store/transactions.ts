import type { Knex } from 'knex';
import { fail } from '../common/errors';

/** Thrown inside a write when a concurrent writer got there first; the whole unit is re-run. */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`Concurrent write conflict on ${what}`);
    this.name = 'WriteConflict';
  }
}

const MAX_ATTEMPTS = 5;

/**
 * Runs units of work in transactions, re-running a unit that lost a race (our own WriteConflict,
 * a unique-key collision between concurrent creates, a PostgreSQL serialization failure or deadlock,
 * SQLite busy). Every write goes through here: this is where group commit plugs in.
 */
export async function runInTransaction<T>(knex: Knex, work: (tx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await knex.transaction(work);
    } catch (err) {
      if (!isRetryable(err)) {
        throw err;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw fail(409, 'conflict', 'The resource is being changed by other requests; try again.');
      }
      await new Promise((resolve) => setTimeout(resolve, attempt * 5 * Math.random()));
    }
  }
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof WriteConflict) {
    return true;
  }
  const code = (err as { code?: string } | null)?.code;
  // 23505 unique_violation, 40001 serialization_failure, 40P01 deadlock_detected (PostgreSQL).
  return (
    code === '23505' ||
    code === '40001' ||
    code === '40P01' ||
    code === 'SQLITE_BUSY' ||
    (code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(String((err as Error).message)))
  );
}

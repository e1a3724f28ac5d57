import type { Knex } from 'knex';

/**
 * The outermost transaction: SQLite's group-commit units and Bundle entries run in savepoints of it,
 * PostgreSQL's shared units side by side in it (./shared-transactions.ts).
 */
export function rootOf(tx: Knex.Transaction): Knex.Transaction {
  let t = tx as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  while (t.parentTransaction) {
    t = t.parentTransaction as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  }
  return t;
}

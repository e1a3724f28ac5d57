import type { Knex } from 'knex';

/** The outermost transaction: units of a group commit and Bundle entries run in savepoints of it. */
export function rootOf(tx: Knex.Transaction): Knex.Transaction {
  let t = tx as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  while (t.parentTransaction) {
    t = t.parentTransaction as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  }
  return t;
}

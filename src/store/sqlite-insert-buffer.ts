import { HeldInserts, splitInsert, valuesList, type InsertShape } from './insert-buffer';
import type { StatementCache, StatementResult } from './sqlite-statements';

/** SQLite's default limit on bound variables per statement is 32,766; stay well below it. */
const MAX_VARIABLES = 8_000;
const MERGED_KEPT = 500;

/**
 * A SQLite connection's statements with the transaction's plain INSERTs held and written per table
 * (./insert-buffer.ts). Synchronous, like better-sqlite3.
 */
export class SqliteInsertBuffer {
  private readonly held = new HeldInserts(parseSqliteInsert);
  /** Multi-row INSERTs by row count and prefix, as run. */
  private readonly merged = new Map<string, string>();

  constructor(
    private readonly statements: StatementCache,
    private readonly connection: { readonly inTransaction: boolean },
  ) {}

  run(sql: string, bindings: unknown[]): StatementResult {
    const inTransaction = this.connection.inTransaction;
    const rows = this.held.hold(sql, bindings, inTransaction);
    if (rows !== undefined) {
      return { changes: rows, lastInsertRowid: 0 };
    }
    try {
      this.flushBefore(sql);
      return this.statements.execute(sql, bindings);
    } catch (err) {
      if (inTransaction && !this.connection.inTransaction) {
        // SQLite rolled the whole transaction back (a full disk, I/O error, or our own undo before a
        // COMMIT): nothing before this in it survives, which whoever ran units in it must know.
        markTransactionLost(err);
      }
      throw err;
    }
  }

  /** Holds rows given in `shape`'s column order (./row-insert.ts); false outside a transaction. */
  holdRows(shape: InsertShape, bindings: readonly unknown[]): boolean {
    return this.held.holdRows(shape, bindings, this.connection.inTransaction) !== undefined;
  }

  private flushBefore(next: string): void {
    const groups = this.held.take(next);
    try {
      for (const { shape, bindings } of groups) {
        const perStatement = Math.max(1, Math.floor(MAX_VARIABLES / shape.columns)) * shape.columns;
        for (let i = 0; i < bindings.length; i += perStatement) {
          const chunk = bindings.slice(i, i + perStatement);
          this.statements.execute(this.valuesInsert(shape, chunk.length / shape.columns), chunk);
        }
      }
    } catch (err) {
      try {
        for (const undo of this.held.undoBefore(next)) {
          this.statements.execute(undo, []);
        }
      } catch {
        // SQLite already rolled the whole transaction back (run() reports it): the INSERT's error says why.
      }
      throw err;
    }
  }

  private valuesInsert(shape: InsertShape, rows: number): string {
    const key = `${rows} ${shape.prefix}`;
    let sql = this.merged.get(key);
    if (sql === undefined) {
      sql = `${shape.prefix} values ${valuesList(shape.columns, rows, () => '?')}`;
      if (this.merged.size >= MERGED_KEPT) {
        this.merged.clear();
      }
      this.merged.set(key, sql);
    }
    return sql;
  }
}

/** Set on an error after which the transaction it happened in is gone (rolled back entirely). */
export function transactionLost(err: unknown): boolean {
  return (err as { transactionLost?: boolean } | null)?.transactionLost === true;
}

function markTransactionLost(err: unknown): void {
  if (err !== null && typeof err === 'object') {
    (err as { transactionLost?: boolean }).transactionLost = true;
  }
}

/** knex's SQLite INSERT of plain rows: `values (?, ?)` for one row, `select ? as a … union all …` for several. */
function parseSqliteInsert(sql: string, bindingCount: number): InsertShape | null {
  const parts = splitInsert(sql, '`', bindingCount);
  if (!parts) {
    return null;
  }
  const { shape, columnNames, rows, rest } = parts;
  const selectRow = `select ${columnNames.map((c) => `? as ${c}`).join(', ')}`;
  const plain =
    rest === `values ${valuesList(shape.columns, rows, () => '?')}` || rest === Array.from({ length: rows }, () => selectRow).join(' union all ');
  return plain ? shape : null;
}

import type { StatementCache, StatementResult } from './sqlite-statements';

/** SQLite's default limit on bound variables per statement is 32,766; stay well below it. */
const MAX_VARIABLES = 8_000;
const SHAPES_KEPT = 500;

const BEGIN = /^BEGIN\b/i;
const ENDS = /^(COMMIT|ROLLBACK)\b(?! TO)/i;
const ROLLBACK = /^ROLLBACK\b/i;
const COMMIT = /^COMMIT\b/i;
const RELEASE = /^RELEASE SAVEPOINT (\w+);?$/i;
/** `insert into \`t\` (\`a\`, \`b\`)` and what follows: knex's plain INSERT, one row or several. */
const INSERT = /^(insert into `\w+` \((`\w+`(?:, `\w+`)*)\)) (.*)$/s;

interface InsertShape {
  /** `insert into \`t\` (\`a\`, \`b\`)` */
  prefix: string;
  columns: number;
}

/**
 * Plain INSERTs inside a transaction, held back and run together: at the next statement that is not
 * such an INSERT, the held rows are written with one multi-row `INSERT … VALUES` per table and column
 * list. A create writes ~11 small INSERTs into 6 tables (the resource, its history, three index
 * tables, and the same again for its Provenance, plus the AuditEvent); they become 6 statements.
 * Reads in the transaction see every row written before them: any other statement flushes first.
 *
 * The order of INSERTs into different tables changes, never within a table; these tables have no
 * triggers or foreign keys between them. A held INSERT that fails is reported to the statement that
 * flushed it, and what its unit wrote is undone as if it had failed in place: a RELEASE SAVEPOINT
 * rolls back to the savepoint first, a COMMIT rolls back; anything else fails, and its caller's
 * error handling rolls back as it would have. A ROLLBACK drops the held rows: it would undo them.
 */
export class InsertBuffer {
  private inTransaction = false;
  private readonly held = new Map<string, { shape: InsertShape; bindings: unknown[] }>();
  private readonly shapes = new Map<string, InsertShape | null>();
  /** Multi-row INSERTs by row count and prefix, as run. */
  private readonly merged = new Map<string, string>();

  constructor(private readonly statements: StatementCache) {}

  run(sql: string, bindings: unknown[]): StatementResult {
    if (this.inTransaction) {
      const shape = this.shapeOf(sql, bindings.length);
      if (shape) {
        const held = this.held.get(shape.prefix);
        if (held) {
          held.bindings.push(...bindings);
        } else {
          this.held.set(shape.prefix, { shape, bindings: [...bindings] });
        }
        return { changes: bindings.length / shape.columns, lastInsertRowid: 0 };
      }
    }
    if (ROLLBACK.test(sql)) {
      this.held.clear();
    } else {
      this.flush(sql);
    }
    const result = this.statements.execute(sql, bindings);
    if (BEGIN.test(sql)) {
      this.inTransaction = true;
    } else if (ENDS.test(sql)) {
      this.inTransaction = false;
    }
    return result;
  }

  private flush(next: string): void {
    if (this.held.size === 0) {
      return;
    }
    const groups = [...this.held.values()];
    this.held.clear();
    try {
      for (const { shape, bindings } of groups) {
        const perStatement = Math.max(1, Math.floor(MAX_VARIABLES / shape.columns)) * shape.columns;
        for (let i = 0; i < bindings.length; i += perStatement) {
          const chunk = bindings.slice(i, i + perStatement);
          this.statements.execute(this.valuesInsert(shape, chunk.length / shape.columns), chunk);
        }
      }
    } catch (err) {
      const release = RELEASE.exec(next);
      if (release) {
        this.statements.execute(`ROLLBACK TO SAVEPOINT ${release[1]}`, []);
        this.statements.execute(next, []);
      } else if (COMMIT.test(next)) {
        this.statements.execute('ROLLBACK', []);
        this.inTransaction = false;
      }
      throw err;
    }
  }

  private valuesInsert(shape: InsertShape, rows: number): string {
    const key = `${rows} ${shape.prefix}`;
    let sql = this.merged.get(key);
    if (sql === undefined) {
      sql = valuesInsert(shape, rows);
      if (this.merged.size >= SHAPES_KEPT) {
        this.merged.clear();
      }
      this.merged.set(key, sql);
    }
    return sql;
  }

  /** The INSERT's table and columns, if it is a plain one knex built (`VALUES` or `UNION ALL`). */
  private shapeOf(sql: string, bindingCount: number): InsertShape | null {
    let shape = this.shapes.get(sql);
    if (shape === undefined) {
      shape = parseInsert(sql, bindingCount);
      if (this.shapes.size >= SHAPES_KEPT) {
        this.shapes.clear();
      }
      this.shapes.set(sql, shape);
    }
    return shape;
  }
}

function parseInsert(sql: string, bindingCount: number): InsertShape | null {
  const match = INSERT.exec(sql);
  if (!match) {
    return null;
  }
  const [, prefix, columnList, rest] = match;
  const columnNames = columnList.split(', ');
  const columns = columnNames.length;
  if (bindingCount === 0 || bindingCount % columns !== 0) {
    return null;
  }
  const rows = bindingCount / columns;
  const shape = { prefix, columns };
  // Only the exact shapes knex emits for plain rows: nothing with RETURNING, ON CONFLICT or literals.
  const selectRow = `select ${columnNames.map((c) => `? as ${c}`).join(', ')}`;
  const union = Array.from({ length: rows }, () => selectRow).join(' union all ');
  return rest === valuesInsert(shape, rows).slice(prefix.length + 1) || rest === union ? shape : null;
}

function valuesInsert(shape: InsertShape, rows: number): string {
  const row = `(${Array.from({ length: shape.columns }, () => '?').join(', ')})`;
  return `${shape.prefix} values ${Array.from({ length: rows }, () => row).join(', ')}`;
}

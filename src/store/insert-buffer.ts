/**
 * Plain INSERTs inside a transaction, held back and written together: at the next statement that is
 * not such an INSERT, the held rows go out as one multi-row `INSERT … VALUES` per table and column
 * list (on PostgreSQL all of them in one statement). A create writes ~11 small INSERTs into 6 tables
 * (the resource, its history, three index tables, the same again for its Provenance, and the
 * AuditEvent): on SQLite they become 6 statements, on PostgreSQL 1 round trip instead of 11.
 * Reads in the transaction see every row written before them: any other statement flushes first.
 *
 * The order of INSERTs into different tables changes, never within a table; these tables have no
 * triggers or foreign keys between them. A held INSERT that fails is reported to the statement that
 * flushed it, and what its unit wrote is undone as if it had failed in place: before a RELEASE
 * SAVEPOINT the savepoint is rolled back to (and released), before a COMMIT the transaction is
 * rolled back; anything else fails, and its caller's error handling rolls back as it would have.
 * A ROLLBACK drops the held rows: it would undo them.
 */

/** A plain INSERT's `insert into <table> (<columns>)` and its column count. */
export interface InsertShape {
  prefix: string;
  columns: number;
}

export interface Statement {
  sql: string;
  bindings: unknown[];
}

/** Held rows of one table and column list, in the order they were inserted. */
export interface HeldGroup {
  shape: InsertShape;
  bindings: unknown[];
}

/** Recognises the INSERTs a dialect's knex compiler emits for plain rows (null for anything else). */
export type InsertParser = (sql: string, bindingCount: number) => InsertShape | null;

const ROLLBACK = /^ROLLBACK\b/i;
const COMMIT = /^COMMIT\b/i;
const RELEASE = /^RELEASE SAVEPOINT (\w+);?$/i;
const SHAPES_KEPT = 500;
const INSERT_INTO = /^insert into /;

/**
 * One connection's held INSERTs; the dialect's client runs what this hands back. Whether the
 * connection is in a transaction is the client's to say (the driver's status, on PostgreSQL with the
 * BEGIN/COMMIT/ROLLBACK issued while statements are in flight): outside one, and in an aborted one,
 * an INSERT must run, and fail, where it is issued.
 */
export class HeldInserts {
  private readonly held = new Map<string, HeldGroup>();
  private readonly shapes = new Map<string, InsertShape | null>();

  constructor(private readonly parse: InsertParser) {}

  /** Holds a plain INSERT made inside a transaction and returns its row count; undefined otherwise. */
  hold(sql: string, bindings: unknown[], inTransaction: boolean): number | undefined {
    if (!inTransaction || !INSERT_INTO.test(sql)) {
      return undefined;
    }
    const shape = this.shapeOf(sql, bindings.length);
    return shape ? this.holdRows(shape, bindings, inTransaction) : undefined;
  }

  /**
   * Holds rows already in `shape`'s column order (no SQL to parse: ./row-insert.ts) and returns their
   * count; undefined outside a transaction, where they must be inserted where they are issued.
   */
  holdRows(shape: InsertShape, bindings: readonly unknown[], inTransaction: boolean): number | undefined {
    if (!inTransaction) {
      return undefined;
    }
    const group = this.held.get(shape.prefix);
    if (group) {
      for (const binding of bindings) {
        group.bindings.push(binding);
      }
    } else {
      this.held.set(shape.prefix, { shape, bindings: [...bindings] });
    }
    return bindings.length / shape.columns;
  }

  /** The held rows to write before `next` runs (none before a ROLLBACK, which drops them). */
  take(next: string): HeldGroup[] {
    const groups = ROLLBACK.test(next) ? [] : [...this.held.values()];
    this.held.clear();
    return groups;
  }

  /** Writing the held rows before `next` failed: the statements that undo their unit. */
  undoBefore(next: string): string[] {
    const release = RELEASE.exec(next);
    if (release) {
      return [`ROLLBACK TO SAVEPOINT ${release[1]}`, next];
    }
    if (COMMIT.test(next)) {
      return ['ROLLBACK'];
    }
    return [];
  }

  private shapeOf(sql: string, bindingCount: number): InsertShape | null {
    const key = `${bindingCount} ${sql}`;
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      shape = this.parse(sql, bindingCount);
      if (this.shapes.size >= SHAPES_KEPT) {
        this.shapes.clear();
      }
      this.shapes.set(key, shape);
    }
    return shape;
  }
}

/** `(?, ?, ?)` repeated: a VALUES list of `rows` rows. */
export function valuesList(columns: number, rows: number, placeholder: (n: number) => string, first = 1): string {
  const out: string[] = [];
  let n = first;
  for (let r = 0; r < rows; r++) {
    const row: string[] = [];
    for (let c = 0; c < columns; c++) {
      row.push(placeholder(n++));
    }
    out.push(`(${row.join(', ')})`);
  }
  return out.join(', ');
}

/** Shapes built from a table and its columns (./row-insert.ts), by dialect quote, table and columns. */
const built = new Map<string, InsertShape>();

/** `insert into <table> (<columns>)` as knex's compiler writes it for the dialect's quote. */
export function insertShape(quote: '`' | '"', table: string, columns: readonly string[]): InsertShape {
  const key = `${quote}${table} ${columns.join(' ')}`;
  let shape = built.get(key);
  if (!shape) {
    shape = { prefix: `insert into ${quote}${table}${quote} (${columns.map((c) => `${quote}${c}${quote}`).join(', ')})`, columns: columns.length };
    if (built.size >= SHAPES_KEPT) {
      built.clear();
    }
    built.set(key, shape);
  }
  return shape;
}

/** `insert into X (a, b) <rest>` with each identifier in the dialect's quotes. */
const INSERT_PATTERNS = {
  '`': /^(insert into `\w+` \((`\w+`(?:, `\w+`)*)\)) (.*)$/s,
  '"': /^(insert into "\w+" \(("\w+"(?:, "\w+")*)\)) (.*)$/s,
};

/**
 * Splits `insert into X (a, b) <rest>` into its prefix, column names, row count (from the number of
 * bindings) and the rest, which the dialect's parser compares with the form knex emits.
 */
export function splitInsert(
  sql: string,
  quote: '`' | '"',
  bindingCount: number,
): { shape: InsertShape; columnNames: string[]; rows: number; rest: string } | null {
  const match = INSERT_PATTERNS[quote].exec(sql);
  if (!match) {
    return null;
  }
  const columnNames = match[2].split(', ');
  const columns = columnNames.length;
  if (bindingCount === 0 || bindingCount % columns !== 0) {
    return null;
  }
  return { shape: { prefix: match[1], columns }, columnNames, rows: bindingCount / columns, rest: match[3] };
}

/**
 * Named statements for PostgreSQL write transactions. Sent unnamed, every statement is parsed,
 * analysed and planned again: for a create's statements that was ~40 % of the PostgreSQL backend's
 * CPU (the parser, catalog lookups, plan building). Named, pg sends Parse once per connection and
 * later only Bind/Execute with the values, and PostgreSQL reuses the plan.
 *
 * Only statements issued inside transactions are named: the write path's own shapes (key lookups,
 * the combined INSERTs), whose plans do not depend on the values. Searches outside transactions keep
 * a plan made for their values. Each connection keeps at most MAX_PREPARED, least recently used out;
 * names are never reused, and the evicted ones are deallocated when the connection next begins a
 * transaction (idle then, so a DEALLOCATE cannot meet an aborted transaction). A shape is named the
 * second time it is seen, and statements with very many values (bulk INSERTs) stay unnamed: one-offs
 * would only churn the LRU (a long transaction can still hold more than MAX_PREPARED until it ends).
 */

const MAX_PREPARED = 64;
const MAX_BINDINGS = 1_000;
const SEEN_KEPT = 256;

interface NamedConnection {
  /** pg's record of the statements parsed on the connection (by name, the text). */
  connection?: { parsedStatements?: Record<string, string> };
}

export class PreparedStatements {
  /** Statement text → name, least recently used first. */
  private readonly names = new Map<string, string>();
  private evicted: string[] = [];
  /** Shapes seen once, not yet named. */
  private readonly seenOnce = new Set<string>();
  private next = 0;

  constructor(private readonly pg: NamedConnection) {}

  /** The name to run `sql` under, or undefined if it stays unnamed. */
  nameFor(sql: string, bindingCount: number): string | undefined {
    if (bindingCount === 0 || bindingCount > MAX_BINDINGS) {
      return undefined;
    }
    let name = this.names.get(sql);
    if (name !== undefined) {
      this.names.delete(sql);
    } else if (!this.seenOnce.delete(sql)) {
      // First sight: one-off shapes (a Bundle's combined INSERTs) are not worth a prepared statement.
      if (this.seenOnce.size >= SEEN_KEPT) {
        this.seenOnce.clear();
      }
      this.seenOnce.add(sql);
      return undefined;
    } else {
      name = `sbf_${this.next++}`;
    }
    this.names.set(sql, name);
    if (this.names.size > MAX_PREPARED) {
      const [oldest, oldName] = this.names.entries().next().value as [string, string];
      this.names.delete(oldest);
      this.evicted.push(oldName);
    }
    return name;
  }

  /**
   * DEALLOCATE statements for the evicted names pg holds as parsed, one each (one failing must not
   * skip the rest); pg forgets them too. A name whose Parse failed was never created.
   */
  takeDeallocations(): string[] {
    if (this.evicted.length === 0) {
      return [];
    }
    const names = this.evicted;
    this.evicted = [];
    const parsed = this.pg.connection?.parsedStatements ?? {};
    const statements: string[] = [];
    for (const name of names) {
      if (parsed[name] !== undefined) {
        delete parsed[name];
        statements.push(`DEALLOCATE ${name}`);
      }
    }
    return statements;
  }

  /** Drops every name (their statements are deallocated at the next BEGIN). */
  forgetAll(): void {
    this.evicted.push(...this.names.values());
    this.names.clear();
  }
}

/**
 * The connection's named statements can no longer be used: PostgreSQL refuses one whose table another
 * server changed since it was planned (0A000 from RevalidateCachedQuery, matched by routine, not by
 * the message, which the server may translate), or one pg closed after a failed bind (26000).
 * Names are then dropped and the unit, which never reached its writes, can be retried.
 */
export function namesLost(err: unknown): boolean {
  const e = err as { code?: string; routine?: string } | null;
  return (e?.code === '0A000' && e.routine === 'RevalidateCachedQuery') || e?.code === '26000';
}

const byConnection = new WeakMap<object, PreparedStatements>();

export function preparedStatementsOf(connection: object): PreparedStatements {
  let prepared = byConnection.get(connection);
  if (!prepared) {
    prepared = new PreparedStatements(connection as NamedConnection);
    byConnection.set(connection, prepared);
  }
  return prepared;
}

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
 * transaction (idle then, so a DEALLOCATE cannot meet an aborted transaction). Statements with very
 * many values (bulk INSERTs) are one-offs, and stay unnamed.
 */

const MAX_PREPARED = 64;
const MAX_BINDINGS = 1_000;

interface NamedConnection {
  /** pg's record of the statements parsed on the connection (by name, the text). */
  connection?: { parsedStatements?: Record<string, string> };
}

export class PreparedStatements {
  /** Statement text → name, least recently used first. */
  private readonly names = new Map<string, string>();
  private evicted: string[] = [];
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

  /** One statement deallocating the evicted names (undefined if none); pg forgets them too. */
  takeDeallocation(): string | undefined {
    if (this.evicted.length === 0) {
      return undefined;
    }
    const names = this.evicted;
    this.evicted = [];
    const parsed = this.pg.connection?.parsedStatements;
    for (const name of names) {
      delete parsed?.[name];
    }
    return names.map((name) => `DEALLOCATE ${name}`).join('; ');
  }

  /** Drops every name (their statements are deallocated at the next BEGIN). */
  forgetAll(): void {
    this.evicted.push(...this.names.values());
    this.names.clear();
  }

  /** How many names the connection holds (for tests). */
  get size(): number {
    return this.names.size;
  }
}

/** PostgreSQL's refusal to run a named statement whose table changed shape since it was planned. */
export function isStalePlan(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '');
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

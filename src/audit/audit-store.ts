import type { Knex } from 'knex';
import { badRequest } from '../common/errors';
import type { Condition, SearchPage, SearchPlan, SearchValue } from '../search/types';
import { datePredicate } from '../store/search-sql';
import { insertRows } from '../store/row-insert';
import { pageNewestFirst } from '../store/seq-paging';
import type { HistoryPage, HistoryQuery, StoredVersion } from '../store/types';
import type { AuditRecord } from './audit-event';

interface AuditRow {
  seq?: number | string;
  id: string;
  recorded: string;
  client_id: string;
  outcome: string;
  entity: string | null;
  content: string;
}

interface Pending {
  row: AuditRow;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Rows per INSERT: 7 columns each stays far below SQLite's bound-variable limit. */
const MAX_BATCH = 100;

/**
 * The audit trail's table (append-only: nothing here updates or deletes). Writes record inside the
 * write's transaction; everything else records through a batcher that puts all events waiting at
 * the moment into one INSERT, so concurrent reads share one statement (and one fsync on SQLite).
 */
export class AuditStore {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly knex: Knex) {}

  /** In the caller's transaction: the event commits or rolls back with the write it records. */
  async insertIn(tx: Knex.Transaction, record: AuditRecord): Promise<void> {
    await insertRows(tx, 'audit_event', [toRow(record)]);
  }

  /** Outside any transaction; resolves once stored, so no data leaves unaudited. */
  record(record: AuditRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row: toRow(record), resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.knex<AuditRow>('audit_event').insert(batch.map((p) => p.row));
        batch.forEach((p) => p.resolve());
      } catch (err) {
        batch.forEach((p) => p.reject(err));
      }
    }
    this.flushing = false;
  }

  async read(id: string): Promise<StoredVersion | undefined> {
    const row = await this.knex<AuditRow>('audit_event').where({ id }).first();
    return row ? toVersion(row) : undefined;
  }

  /**
   * `GET AuditEvent?…`: the audit trail is its own table, so it has its own small search over its
   * columns — `_id`, `date` / `_lastUpdated` (recorded), `entity` (the resource an event concerns),
   * `outcome` — in recording order, paged by sequence. Other parameters are refused (400) rather
   * than silently ignored: an audit query that widens unnoticed would mislead.
   */
  async search(plan: SearchPlan): Promise<SearchPage> {
    const backwards = plan.cursor?.direction === 'prev';
    if (plan.sort.length > 0) {
      throw badRequest('AuditEvent results come in recording order; _sort is not supported', '_sort');
    }
    const q = this.auditQuery(plan);
    if (plan.cursor) {
      const [seq] = plan.cursor.keys;
      q.where('seq', backwards ? '<' : '>', Number(seq));
    }
    const rows = (await q.orderBy('seq', backwards ? 'desc' : 'asc').limit(plan.count + 1)) as AuditRow[];
    const page = rows.slice(0, plan.count);
    if (backwards) {
      page.reverse();
    }
    return {
      rows: page.map((row) => ({ resourceType: 'AuditEvent', id: row.id, json: row.content, sortKeys: [Number(row.seq)] })),
      hasMore: rows.length > plan.count,
    };
  }

  async count(plan: SearchPlan): Promise<number> {
    const [row] = (await this.auditQuery(plan).clearSelect().count({ n: '*' })) as { n: number | string }[];
    return Number(row.n);
  }

  private auditQuery(plan: SearchPlan): Knex.QueryBuilder {
    const q = this.knex<AuditRow>('audit_event').select('seq', 'id', 'content');
    for (const c of plan.conditions) {
      q.where((w) => auditCondition(w, c));
    }
    return q;
  }

  /** `AuditEvent/_history` and `AuditEvent/{id}/_history`: newest first, paged by sequence. */
  async history(query: HistoryQuery): Promise<HistoryPage> {
    const base = this.knex<AuditRow>('audit_event').modify((q) => {
      if (query.id) {
        q.where('id', query.id);
      }
      if (query.since) {
        q.where('recorded', '>=', query.since);
      }
    });
    return pageNewestFirst<AuditRow & { seq: number | string }>(base, query, toVersion);
  }
}

function auditCondition(w: Knex.QueryBuilder, c: Condition): void {
  const negate = c.modifier === 'not';
  const each = (apply: (x: Knex.QueryBuilder, v: SearchValue) => void): void => {
    const any = (x: Knex.QueryBuilder): void => {
      for (const v of c.values) {
        x.orWhere((y) => apply(y, v));
      }
    };
    if (negate) {
      w.whereNot(any);
    } else {
      w.where(any);
    }
  };
  if (c.kind === 'id') {
    each((x, v) => x.where('id', v.kind === 'token' ? (v.token.code ?? '') : ''));
  } else if (c.kind === 'lastUpdated' || (c.param === 'date' && c.kind === 'date' && !c.modifier)) {
    each((x, v) => v.kind === 'date' && datePredicate(x, v.date, 'recorded', 'recorded'));
  } else if (c.param === 'outcome' && c.kind === 'token' && (!c.modifier || negate)) {
    each((x, v) => x.where('outcome', v.kind === 'token' ? (v.token.code ?? '') : ''));
  } else if (c.param === 'entity' && c.kind === 'reference' && !c.modifier && !c.chain) {
    each((x, v) => {
      const ref = v.kind === 'reference' ? v.reference : {};
      if (ref.type && ref.id) {
        // entity is `Type/id/_history/n`: any version of the resource.
        x.where('entity', '>=', `${ref.type}/${ref.id}/`).where('entity', '<', `${ref.type}/${ref.id}/\uffff`);
      } else {
        x.whereRaw('1 = 0');
      }
    });
  } else {
    throw badRequest(
      `Search parameter '${c.param}${c.modifier ? `:${c.modifier}` : ''}' is not supported for AuditEvent (supported: _id, _lastUpdated, date, entity=Type/id, outcome)`,
      c.param,
    );
  }
}

function toRow(r: AuditRecord): AuditRow {
  return {
    id: r.id,
    recorded: r.recorded,
    client_id: r.clientId,
    outcome: r.outcome,
    entity: r.entity ?? null,
    content: r.json,
  };
}

function toVersion(row: AuditRow): StoredVersion {
  return {
    resourceType: 'AuditEvent',
    id: row.id,
    versionId: '1',
    lastUpdated: row.recorded,
    deleted: false,
    method: 'POST',
    json: row.content,
  };
}

import type { Knex } from 'knex';
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
    await tx<AuditRow>('audit_event').insert(toRow(record));
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

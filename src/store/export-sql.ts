import type { Knex } from 'knex';
import type { Dialect } from './database';
import { INDEX_TABLES } from './indexing/rows';
import type { PatientSet, ScanQuery, ScanRow } from './types';

type QB = Knex.QueryBuilder;

/**
 * The R4 Patient compartment (CompartmentDefinition/patient) restricted to the types this server
 * stores: which reference parameters put a resource in a patient's compartment.
 */
export const PATIENT_COMPARTMENT: Readonly<Record<string, readonly string[]>> = {
  ServiceRequest: ['subject', 'performer'],
  Procedure: ['patient', 'performer'],
  Observation: ['subject', 'performer'],
  Provenance: ['patient'],
  Group: ['member'],
};
/** Not in the compartment, but exported with it when a compartment resource points at them. */
export const COMPARTMENT_REFERENCED_TYPES: readonly string[] = ['Practitioner', 'PractitionerRole', 'Organization', 'Location'];

const REF = INDEX_TABLES.reference;

/**
 * One keyset page of live current versions of a type, in id order: `id > afterId` is a range scan of
 * the (resource_type, id) primary key, so each page costs the same however deep the export is.
 */
export async function scanPage(knex: Knex, query: ScanQuery): Promise<ScanRow[]> {
  const rows: { id: string; last_updated: string; content: string }[] = await scanBase(knex, query)
    .select('r.id', 'r.last_updated', 'r.content')
    .modify((q) => (query.afterId !== undefined ? q.where('r.id', '>', query.afterId) : q))
    .orderBy('r.id', 'asc')
    .limit(query.limit ?? 1000);
  return rows.map((row) => ({ id: row.id, lastUpdated: row.last_updated, json: row.content }));
}

export async function scanCount(knex: Knex, query: ScanQuery): Promise<number> {
  const [row] = await scanBase(knex, query).count<{ n: number | string }[]>({ n: '*' });
  return Number(row.n);
}

function scanBase(knex: Knex, query: ScanQuery): QB {
  const type = query.resourceType;
  return knex
    .from({ r: 'resource' })
    .where('r.resource_type', type)
    .where('r.deleted', false)
    .modify((q) => {
      if (query.since !== undefined) {
        q.where('r.last_updated', '>=', query.since);
      }
      if (query.ids !== undefined) {
        q.whereIn('r.id', query.ids.length > 0 ? query.ids : ['']);
      }
      if (query.patients !== undefined) {
        inPatientScope(knex, q, type, query.patients);
      }
    });
}

/** Restricts `r` to the patients' compartment (or to what that compartment references). */
function inPatientScope(knex: Knex, q: QB, type: string, patients: PatientSet): void {
  if (type === 'Patient') {
    restrictPatients(q, 'r.id', patients);
  } else if (PATIENT_COMPARTMENT[type]) {
    // Correlated EXISTS: uses the owner index per row, instead of materialising the whole compartment per page.
    q.whereExists((sub: QB) => {
      sub
        .select(knex.raw('1'))
        .from({ c: REF })
        .where('c.resource_type', type)
        .whereRaw('c.resource_id = r.id')
        .whereIn('c.param', [...PATIENT_COMPARTMENT[type]])
        .where('c.target_type', 'Patient')
        .modify((s) => restrictPatients(s, 'c.target_id', patients));
    });
  } else if (COMPARTMENT_REFERENCED_TYPES.includes(type)) {
    q.whereIn('r.id', (sub: QB) => {
      sub
        .select('x.target_id')
        .from({ x: REF })
        .where('x.target_type', type)
        .where((or: QB) => {
          or.orWhere((p: QB) => {
            p.where('x.resource_type', 'Patient');
            restrictPatients(p, 'x.resource_id', patients);
          });
          for (const [source, params] of Object.entries(PATIENT_COMPARTMENT)) {
            or.orWhere((s: QB) => {
              s.where('x.resource_type', source).whereIn('x.resource_id', (c: QB) => {
                c.select('c.resource_id')
                  .from({ c: REF })
                  .where('c.resource_type', source)
                  .whereIn('c.param', [...params])
                  .where('c.target_type', 'Patient')
                  .modify((cc) => restrictPatients(cc, 'c.target_id', patients));
              });
            });
          }
        });
    });
  } else {
    q.whereRaw('1 = 0');
  }
}

function restrictPatients(q: QB, column: string, patients: PatientSet): void {
  if ('ids' in patients) {
    q.whereIn(column, patients.ids.length > 0 ? patients.ids : ['']);
  } else if ('group' in patients) {
    q.whereIn(column, (sub: QB) => {
      sub
        .select('g.target_id')
        .from({ g: REF })
        .where({ 'g.resource_type': 'Group', 'g.resource_id': patients.group, 'g.param': 'member', 'g.target_type': 'Patient' });
    });
  }
}

/** One export job as stored (migration 006). */
export interface ExportJobRow {
  id: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  kind: 'system' | 'patient' | 'group';
  request: string;
  params: string;
  client_id: string;
  requires_token: boolean | number;
  transaction_time: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string | null;
  owner: string | null;
  heartbeat_at: string | null;
  attempts: number;
  progress: string | null;
  error: string | null;
}

/** The export_job table: the only SQL of the export feature besides the scans above. */
export class ExportJobStore {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {}

  async insert(row: Omit<ExportJobRow, 'attempts'>): Promise<void> {
    await this.knex<ExportJobRow>('export_job').insert({ ...row, attempts: 0 });
  }

  async get(id: string): Promise<ExportJobRow | undefined> {
    return this.knex<ExportJobRow>('export_job').where({ id }).first();
  }

  /**
   * Takes the oldest waiting job, or a running one whose runner stopped sending heartbeats (a crashed
   * process). On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several server processes claim without
   * ever taking the same job; SQLite transactions are serial anyway.
   */
  async claimNext(owner: string, now: string, staleBefore: string): Promise<ExportJobRow | undefined> {
    return this.knex.transaction(async (tx) => {
      const claimable = (q: QB): QB =>
        q.where('status', 'queued').orWhere((w: QB) => w.where('status', 'running').where('heartbeat_at', '<', staleBefore));
      const candidate = await tx<ExportJobRow>('export_job')
        .select('id')
        .where(claimable)
        .orderBy('created_at', 'asc')
        .limit(1)
        .modify((q) => (this.dialect === 'postgres' ? q.forUpdate().skipLocked() : q))
        .first();
      if (!candidate) {
        return undefined;
      }
      const updated = await tx<ExportJobRow>('export_job')
        .where({ id: candidate.id })
        .where(claimable)
        .update({ status: 'running', owner, heartbeat_at: now, attempts: tx.raw('attempts + 1') as unknown as number });
      if (updated !== 1) {
        return undefined;
      }
      await tx<ExportJobRow>('export_job').where({ id: candidate.id }).whereNull('started_at').update({ started_at: now });
      return tx<ExportJobRow>('export_job').where({ id: candidate.id }).first();
    });
  }

  /** Saves progress while still the owner of a running job; false when the job was cancelled or taken over. */
  async checkpoint(id: string, owner: string, fields: Partial<ExportJobRow>): Promise<boolean> {
    const updated = await this.knex<ExportJobRow>('export_job').where({ id, owner, status: 'running' }).update(fields);
    return updated === 1;
  }

  /** Gives a running job back to the queue (graceful shutdown): the next runner resumes it at once. */
  async release(id: string, owner: string): Promise<void> {
    await this.knex<ExportJobRow>('export_job')
      .where({ id, owner, status: 'running' })
      // A graceful hand-back is no failed attempt: only crashes count towards giving up.
      .update({ status: 'queued', owner: null, heartbeat_at: null, attempts: this.knex.raw('attempts - 1') as unknown as number });
  }

  /** Marks a job cancelled (the runner notices at its next checkpoint); false if there was none. */
  async cancel(id: string, now: string): Promise<boolean> {
    const updated = await this.knex<ExportJobRow>('export_job')
      .where({ id })
      .whereNot('status', 'cancelled')
      .update({ status: 'cancelled', finished_at: now, owner: null });
    return updated === 1;
  }

  async remove(id: string): Promise<void> {
    await this.knex<ExportJobRow>('export_job').where({ id }).delete();
  }

  /** Jobs whose files are to be removed: expired ones, and cancelled ones nobody runs any more. */
  async disposable(now: string): Promise<ExportJobRow[]> {
    return this.knex<ExportJobRow>('export_job')
      .where((w: QB) => w.where('expires_at', '<', now).orWhere('status', 'cancelled'))
      .limit(100);
  }

  /**
   * When the oldest transaction open in the database began (PostgreSQL; undefined on SQLite or when
   * none is open). A write stamps `last_updated` inside its transaction, so a transaction still open
   * may commit a `last_updated` as early as its start: the export's transactionTime must not be later.
   */
  async oldestOpenTransactionStart(): Promise<string | undefined> {
    if (this.dialect !== 'postgres') {
      return undefined;
    }
    const result = await this.knex.raw(
      `select min(xact_start) as oldest from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`,
    );
    const oldest = (result as { rows: { oldest: Date | string | null }[] }).rows[0]?.oldest;
    return oldest ? new Date(oldest).toISOString() : undefined;
  }
}

import type { Knex } from 'knex';
import type { InteractionGuard } from '../fhir/types';
import type { Repository, WriteHook } from '../store/types';
import { buildAuditRecord, type AuditFacts } from './audit-event';
import { AuditStore } from './audit-store';
import { createAuditGuard } from './guard';
import { auditWriteHook, provenanceHook } from './hooks';
import { withAuditEvents } from './repository';

/** The audit trail and provenance, wired once per core (src/core.ts). */
export class AuditTrail {
  readonly store: AuditStore;
  readonly guard: InteractionGuard;

  constructor(knex: Knex) {
    this.store = new AuditStore(knex);
    this.guard = createAuditGuard(this.store);
  }

  /**
   * Write hooks: the AuditEvent, then a Provenance for each create/update, both in the write's
   * transaction. The AuditEvent's row first: the Provenance's own hooks read (subscription
   * matching), which writes the rows held so far, and the AuditEvent's then goes with them
   * (one round trip on PostgreSQL, src/store/insert-buffer.ts).
   */
  writeHooks(repoIn: (tx: Knex.Transaction) => Repository): WriteHook[] {
    return [auditWriteHook(this.store), provenanceHook(repoIn)];
  }

  /** The repository the FHIR core uses: serves AuditEvents from the audit table. */
  wrap(repo: Repository): Repository {
    return withAuditEvents(repo, this.store);
  }

  /** For events outside FHIR interactions (token requests, rejected bearer tokens). */
  record(facts: AuditFacts): Promise<void> {
    return this.store.record(buildAuditRecord(facts));
  }
}

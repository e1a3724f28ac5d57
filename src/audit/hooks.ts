import type { Provenance } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { INTERNAL_AUTH } from '../auth/authorize';
import { dateRange } from '../common/date-range';
import { normalizeString } from '../common/normalize';
import { emptyRows, type IndexRows } from '../store/indexing/rows';
import type { Repository, ResourceChange, StoredVersion, WriteHook } from '../store/types';
import { buildAuditRecord, CLIENT_ID_SYSTEM, type AuditAction } from './audit-event';
import type { AuditStore } from './audit-store';
import { currentInteraction } from './context';

/**
 * Records each write as an AuditEvent in the write's own transaction: a write and its audit record
 * commit together or not at all. Provenance rows written by the hook below are part of the
 * audited write, not writes of their own.
 */
export function auditWriteHook(store: AuditStore): WriteHook {
  return {
    name: 'audit',
    async inTransaction(tx: Knex.Transaction, change: ResourceChange): Promise<void> {
      const { current, previous } = change;
      if (current.resourceType === 'Provenance') {
        return;
      }
      const state = currentInteraction();
      const action: AuditAction = current.deleted ? 'D' : !previous || previous.deleted ? 'C' : 'U';
      await store.insertIn(
        tx,
        buildAuditRecord({
          auth: state?.auth ?? INTERNAL_AUTH,
          remoteAddress: state?.remoteAddress,
          kind: 'rest',
          interaction: state?.interaction ?? (action === 'C' ? 'create' : action === 'U' ? 'update' : 'delete'),
          action,
          outcome: '0',
          what: `${current.resourceType}/${current.id}/_history/${current.versionId}`,
        }),
      );
      if (state) {
        state.auditedInTx = true;
      }
    },
  };
}

/**
 * Adds a Provenance for each created or updated version (target = that version, agent = the
 * client), through a repository bound to the same transaction so that the other hooks (the search
 * index: `_revinclude=Provenance:target`) see it like any other resource.
 */
export function provenanceHook(repoIn: (tx: Knex.Transaction) => Repository): WriteHook {
  return {
    name: 'provenance',
    async inTransaction(tx: Knex.Transaction, change: ResourceChange): Promise<void> {
      const { current, previous } = change;
      if (current.deleted || current.resourceType === 'Provenance') {
        return;
      }
      const provenance = buildProvenance(current, !previous || previous.deleted, currentInteraction()?.auth ?? INTERNAL_AUTH);
      // Its index rows are known without evaluating every Provenance search parameter's FHIRPath,
      // which would run on the main thread once per write.
      await repoIn(tx).create(provenance, { indexRows: provenanceIndexRows(provenance) });
    },
  };
}

/** The Provenance of one written version: target = that version, agent = the client. */
export function buildProvenance(current: StoredVersion, creates: boolean, auth: { clientId: string; clientName?: string }): Provenance {
  return {
    resourceType: 'Provenance',
    target: [{ reference: `${current.resourceType}/${current.id}/_history/${current.versionId}` }],
    recorded: current.lastUpdated,
    activity: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
          code: creates ? 'CREATE' : 'UPDATE',
          display: creates ? 'create' : 'revise',
        },
      ],
    },
    agent: [
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' }],
        },
        who: { identifier: { system: CLIENT_ID_SYSTEM, value: auth.clientId }, display: auth.clientName },
      },
    ],
  };
}

/**
 * The search index rows of a Provenance built by `buildProvenance`: what `extractIndexRows` finds in
 * it (test/audit/provenance-rows.test.ts checks they agree): `agent-type`, `target` (and `patient`
 * for a Patient's version) and `recorded`. The client is an identifier, not a reference: no `agent` row.
 */
export function provenanceIndexRows(provenance: Provenance): IndexRows {
  const rows = emptyRows();
  for (const agent of provenance.agent) {
    for (const coding of agent.type?.coding ?? []) {
      rows.token.push({
        param: 'agent-type',
        system: coding.system ?? null,
        value: coding.code ?? null,
        text: coding.display ? normalizeString(coding.display) : null,
      });
    }
  }
  for (const target of provenance.target) {
    const [targetType, targetId] = target.reference!.split('/');
    rows.reference.push({ param: 'target', target_type: targetType, target_id: targetId, target_url: null });
    if (targetType === 'Patient') {
      rows.reference.push({ param: 'patient', target_type: targetType, target_id: targetId, target_url: null });
    }
  }
  rows.date.push({ param: 'recorded', ...dateRange(provenance.recorded!)! });
  return rows;
}

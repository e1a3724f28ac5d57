import type { Provenance } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { INTERNAL_AUTH } from '../auth/authorize';
import type { Repository, ResourceChange, WriteHook } from '../store/types';
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
      const auth = currentInteraction()?.auth ?? INTERNAL_AUTH;
      const creates = !previous || previous.deleted;
      const provenance: Provenance = {
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
      await repoIn(tx).create(provenance);
    },
  };
}

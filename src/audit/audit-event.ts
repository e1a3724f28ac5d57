import type { AuditEvent } from '@medplum/fhirtypes';
import type { Interaction, RequestAuth } from '../fhir/types';
import { newId } from '../common/ids';

/** Identifier system for client ids in AuditEvent and Provenance agents. */
export const CLIENT_ID_SYSTEM = 'http://sympathetic-block-fhir.org/fhir/sid/client-id';
const OBSERVER = 'sympathetic-block-fhir';

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
/** 0 success, 4 minor failure (the client's: 4xx), 8 serious failure (ours: 5xx). */
export type AuditOutcome = '0' | '4' | '8';

/** The facts of one audited event, from the guard, a write hook or the HTTP layer. */
export interface AuditFacts {
  auth: RequestAuth;
  remoteAddress?: string;
  /** `rest` for FHIR interactions; `login` for token requests and rejected bearer tokens. */
  kind: 'rest' | 'login';
  interaction?: Interaction;
  action: AuditAction;
  outcome: AuditOutcome;
  outcomeDesc?: string;
  /** Reference to what was touched, versioned when known: `Patient/1/_history/2`. */
  what?: string;
  /** For searches and history: the relative request URL (`Observation?code=…`). */
  query?: string;
}

/** One row of the audit table: the indexed facts plus the AuditEvent JSON as served. */
export interface AuditRecord {
  id: string;
  recorded: string;
  clientId: string;
  outcome: AuditOutcome;
  entity?: string;
  json: string;
}

const ENTITY_TYPE = {
  system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  code: '2',
  display: 'System Object',
};

/** Builds an R4 AuditEvent (with id and meta, ready to store and serve) from the facts. */
export function buildAuditRecord(f: AuditFacts): AuditRecord {
  const id = newId();
  const recorded = new Date().toISOString();
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id,
    meta: { versionId: '1', lastUpdated: recorded },
    type:
      f.kind === 'rest'
        ? { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' }
        : { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114', display: 'User Authentication' },
    subtype: f.interaction ? [{ system: 'http://hl7.org/fhir/restful-interaction', code: f.interaction }] : undefined,
    action: f.action,
    recorded,
    outcome: f.outcome,
    outcomeDesc: f.outcomeDesc?.slice(0, 500),
    agent: [
      {
        who: { identifier: { system: CLIENT_ID_SYSTEM, value: f.auth.clientId }, display: f.auth.clientName },
        requestor: true,
        network: f.remoteAddress ? { address: f.remoteAddress, type: '2' } : undefined,
      },
    ],
    source: {
      observer: { display: OBSERVER },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity:
      f.query !== undefined
        ? [{ type: ENTITY_TYPE, query: Buffer.from(f.query).toString('base64') }]
        : f.what !== undefined
          ? [{ what: { reference: f.what }, type: ENTITY_TYPE }]
          : undefined,
  };
  return {
    id,
    recorded,
    clientId: f.auth.clientId,
    outcome: f.outcome,
    entity: f.what?.slice(0, 200),
    // JSON.stringify drops the undefined members.
    json: JSON.stringify(event),
  };
}

export function outcomeFor(status: number): AuditOutcome {
  return status < 400 ? '0' : status < 500 ? '4' : '8';
}

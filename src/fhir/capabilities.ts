import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceSearchParam,
} from '@medplum/fhirtypes';
import { searchParamsFor } from '../definitions/search-parameters';
import { SUPPORTED_RESOURCE_TYPES } from './resource-types';
import type { FhirRouter, Route } from './router';
import type { Interaction } from './types';

const SYSTEM_INTERACTIONS = new Set<Interaction>(['transaction', 'batch', 'search-system', 'history-system']);

export interface ServerInfo {
  name: string;
  version: string;
  startedAt: string;
}

/**
 * The CapabilityStatement, generated from the routes the router really has: adding or removing a
 * route changes what `/metadata` says, and nothing here is maintained by hand.
 */
export function buildCapabilityStatement(router: FhirRouter, info: ServerInfo, baseUrl: string): CapabilityStatement {
  const routes = router.list();
  const typeRoutes = routes.filter((r) => r.pattern.startsWith(':type'));
  const has = (interaction: Interaction): boolean => routes.some((r) => r.interaction === interaction);
  const resource: CapabilityStatementRestResource[] = SUPPORTED_RESOURCE_TYPES.map((type) => ({
    type,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: uniqueInteractions(typeRoutes).map((code) => ({
      code: code as CapabilityStatementRestResourceInteraction['code'],
    })),
    versioning: 'versioned-update',
    readHistory: has('vread'),
    updateCreate: has('update'),
    conditionalCreate: false,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    referencePolicy: ['literal', 'local', 'enforced'],
    searchParam: has('search-type') ? searchParamsOf(type) : undefined,
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: info.startedAt,
    publisher: 'sympathetic-block-fhir',
    kind: 'instance',
    software: { name: info.name, version: info.version },
    implementation: { description: 'FHIR R4 server for sympathetic nerve block orders and outcomes', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource,
        interaction: uniqueInteractions(routes.filter((r) => SYSTEM_INTERACTIONS.has(r.interaction))).map((code) => ({
          code,
        })),
      },
    ],
  } as CapabilityStatement;
}

/** What `GET [type]?…` accepts: `_id`, `_lastUpdated` and every indexed parameter of the type. */
function searchParamsOf(type: string): CapabilityStatementRestResourceSearchParam[] {
  return [
    { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
    { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
    ...[...searchParamsFor(type).values()].map((p) => ({
      name: p.code,
      type: p.type as CapabilityStatementRestResourceSearchParam['type'],
      definition: p.url,
    })),
  ];
}

function uniqueInteractions(routes: readonly Route[]): Interaction[] {
  return [...new Set(routes.map((r) => r.interaction))];
}

import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam,
  CapabilityStatementRestSecurity,
} from '@medplum/fhirtypes';
import { searchParamsFor } from '../definitions/search-parameters';
import { READ_ONLY_RESOURCE_TYPES, SUPPORTED_RESOURCE_TYPES } from './resource-types';
import { conformanceResources, supportedProfiles, typeOperations } from './interactions/conformance';
import type { FhirRouter, Route } from './router';
import type { Interaction } from './types';

const SYSTEM_INTERACTIONS = new Set<Interaction>(['transaction', 'batch', 'search-system', 'history-system']);

export interface ServerInfo {
  name: string;
  version: string;
  startedAt: string;
  /** The security section (SMART token URL); absent when authentication is off. */
  security?: (baseUrl: string) => CapabilityStatementRestSecurity;
}

const WRITES = new Set<Interaction>(['create', 'update', 'patch', 'delete']);

/**
 * The CapabilityStatement, generated from the routes the router really has: adding or removing a
 * route changes what `/metadata` says, and nothing here is maintained by hand.
 */
export function buildCapabilityStatement(router: FhirRouter, info: ServerInfo, baseUrl: string): CapabilityStatement {
  const routes = router.list();
  const typeRoutes = routes.filter((r) => r.pattern.startsWith(':type') && !r.operation);
  const has = (interaction: Interaction): boolean => routes.some((r) => r.interaction === interaction);
  const resource: CapabilityStatementRestResource[] = SUPPORTED_RESOURCE_TYPES.map((type) => ({
    type,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    supportedProfile: supportedProfiles(type),
    interaction: uniqueInteractions(typeRoutes)
      .filter((code) => !READ_ONLY_RESOURCE_TYPES.has(type) || !WRITES.has(code))
      .map((code) => ({ code: code as CapabilityStatementRestResourceInteraction['code'] })),
    versioning: 'versioned-update',
    readHistory: has('vread'),
    updateCreate: has('update') && !READ_ONLY_RESOURCE_TYPES.has(type),
    // The create handler always honours If-None-Exist; conditional update/delete are the `:type` routes.
    conditionalCreate: has('create'),
    conditionalRead: has('read') ? 'full-support' : 'not-supported',
    conditionalUpdate: routes.some((r) => r.method === 'PUT' && r.pattern === ':type'),
    conditionalDelete: routes.some((r) => r.method === 'DELETE' && r.pattern === ':type') ? 'single' : 'not-supported',
    referencePolicy: ['literal', 'local', 'enforced'],
    searchParam: has('search-type') ? searchParamsOf(type) : undefined,
    operation: withLiteralOperations(typeOperations(routes), routes, type),
  }));
  resource.push(...conformanceResources(routes));
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
        security: info.security?.(baseUrl),
        resource,
        operation: literalOperations(routes, undefined),
        interaction: uniqueInteractions(routes.filter((r) => SYSTEM_INTERACTIONS.has(r.interaction) && !r.operation)).map((code) => ({
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

/** Canonical definitions of the operations routed on literal paths (Bulk Data IG, FHIR R4). */
const LITERAL_OPERATION_DEFINITIONS: Record<string, string> = {
  'system:export': 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export',
  'Patient:export': 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
  'Group:export': 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
  'Patient:everything': 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
};

/** Operations on literal paths: `$export` (system, `type` undefined), `Patient/$export`, `Group/:id/$export`, `Patient/:id/$everything`. */
function literalOperations(routes: readonly Route[], type: string | undefined): CapabilityStatementRestResourceOperation[] | undefined {
  const names = new Set<string>();
  for (const r of routes) {
    const parts = r.pattern.split('/');
    const last = parts[parts.length - 1];
    const onType = type !== undefined && parts[0] === type && parts.length > 1;
    if (r.operation && last === `$${r.operation}` && (onType || (type === undefined && parts.length === 1))) {
      names.add(r.operation);
    }
  }
  const ops = [...names].map((name) => ({ name, definition: LITERAL_OPERATION_DEFINITIONS[`${type ?? 'system'}:${name}`] ?? name }));
  return ops.length > 0 ? ops : undefined;
}

function withLiteralOperations(
  ops: CapabilityStatementRestResourceOperation[] | undefined,
  routes: readonly Route[],
  type: string,
): CapabilityStatementRestResourceOperation[] | undefined {
  const all = [...(ops ?? []), ...(literalOperations(routes, type) ?? [])];
  return all.length > 0 ? all : undefined;
}

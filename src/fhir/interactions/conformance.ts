import type {
  Bundle,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceOperation,
  Resource,
} from '@medplum/fhirtypes';
import { badRequest, notFound } from '../../common/errors';
import { profileRegistry } from '../../profiles/registry';
import type { Route } from '../router';
import type { FhirRequest, FhirResponse } from '../types';

/** The package's conformance resources the server serves read-only, from memory (never the database). */
export const CONFORMANCE_TYPES = ['StructureDefinition', 'ValueSet', 'CodeSystem', 'SearchParameter', 'ImplementationGuide'] as const;

const SEARCH_PARAMS = new Set(['url', '_id', '_count', '_format', '_pretty', '_summary']);

/** `GET [base]/StructureDefinition/[id]` (and ValueSet, CodeSystem…). */
export function conformanceRead(type: string) {
  return async (req: FhirRequest): Promise<FhirResponse> => {
    const found = profileRegistry().resources.get(type)?.get(req.params.id);
    if (!found) {
      throw notFound(`${type}/${req.params.id} is not part of this server's profile package`);
    }
    return { status: 200, body: found };
  };
}

/** `GET [base]/StructureDefinition?url=…` (and `_id`): a searchset of the package's resources of that type. */
export function conformanceSearch(type: string) {
  return async (req: FhirRequest): Promise<FhirResponse> => {
    for (const name of Object.keys(req.query)) {
      if (!SEARCH_PARAMS.has(name)) {
        throw badRequest(`Search parameter '${name}' is not supported on ${type}: use url or _id`);
      }
    }
    const values = (name: string): string[] | undefined => {
      const v = req.query[name];
      return v === undefined ? undefined : (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(','));
    };
    const urls = values('url')?.map((u) => u.split('|')[0]);
    const ids = values('_id');
    const matches = [...(profileRegistry().resources.get(type)?.values() ?? [])].filter(
      (r: Resource & { url?: string }) => (!urls || urls.includes(r.url as string)) && (!ids || ids.includes(r.id as string)),
    );
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      link: [{ relation: 'self', url: `${req.baseUrl}/${req.path}` }],
      entry: matches.map((resource) => ({ fullUrl: `${req.baseUrl}/${type}/${resource.id}`, resource, search: { mode: 'match' } })),
    };
    return { status: 200, body: bundle };
  };
}

/** For the CapabilityStatement: the block profiles a type's writes are validated against. */
export function supportedProfiles(type: string): string[] | undefined {
  const urls = profileRegistry()
    .candidates(type)
    .map((p) => p.url);
  return urls.length > 0 ? urls : undefined;
}

const OPERATION_DEFINITIONS: Record<string, string> = {
  validate: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
};

/** For the CapabilityStatement: the operations routed on `:type/…` (e.g. `$validate`). */
export function typeOperations(routes: readonly Route[]): CapabilityStatementRestResourceOperation[] | undefined {
  const names = [...new Set(routes.filter((r) => r.operation && r.pattern.startsWith(':type')).map((r) => r.operation as string))];
  return names.length > 0 ? names.map((name) => ({ name, definition: OPERATION_DEFINITIONS[name] ?? name })) : undefined;
}

/** For the CapabilityStatement: the conformance types served from the package, with the interactions routed for them. */
export function conformanceResources(routes: readonly Route[]): CapabilityStatementRestResource[] {
  return CONFORMANCE_TYPES.map((type) => ({
    type,
    interaction: routes
      .filter((r) => r.pattern === type || r.pattern.startsWith(`${type}/`))
      .map((r) => ({ code: r.interaction as CapabilityStatementRestResourceInteraction['code'] })),
    searchParam: [{ name: 'url', type: 'uri' as const }],
  })).filter((r) => r.interaction.length > 0);
}

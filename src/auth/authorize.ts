import { fail } from '../common/errors';
import { searchParam } from '../definitions/search-parameters';
import { READ_ONLY_RESOURCE_TYPES, SUPPORTED_RESOURCE_TYPES, isSupportedResourceType } from '../fhir/resource-types';
import type { FhirRequest, Interaction, RequestAuth } from '../fhir/types';
import { grantsFor, type Permission } from './scopes';

/** What each interaction needs on its resource type (SMART v2 letters; v1 read = r+s). */
const NEEDS: Partial<Record<Interaction, Permission>> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'search-type': 's',
  'history-type': 's',
  'search-system': 's',
  'history-system': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};
const WRITES = new Set<Interaction>(['create', 'update', 'patch', 'delete']);
/** Need no scope themselves: metadata is public, and each bundle entry is checked on its own. */
const OPEN = new Set<Interaction>(['capabilities', 'batch', 'transaction']);
/** What system-wide interactions read: every type kept in the resource tables. */
const SYSTEM_TYPES = SUPPORTED_RESOURCE_TYPES.filter((t) => t !== 'AuditEvent');

/** Everything, for in-process callers (seed, importers): they hold the database anyway. */
export const INTERNAL_AUTH: RequestAuth = Object.freeze({
  clientId: 'internal',
  clientName: 'in-process caller',
  scopes: Object.freeze(['system/*.*', 'system/AuditEvent.*']),
});
/** Everything, when FHIR_AUTH=none. */
export const ANONYMOUS_AUTH: RequestAuth = Object.freeze({
  clientId: 'anonymous',
  clientName: 'unauthenticated (FHIR_AUTH=none)',
  scopes: Object.freeze(['system/*.*', 'system/AuditEvent.*']),
});
/** Nothing: callers of the public endpoints (metadata). */
export const PUBLIC_AUTH: RequestAuth = Object.freeze({ clientId: 'unauthenticated', scopes: Object.freeze([]) });

/**
 * Throws unless `auth` may perform `interaction` on `type`: 405 for writes to server-written types
 * (whoever asks), 403 `forbidden` for a missing scope. Interactions without a rule here
 * (operations) need read on every type. A search also needs search permission on the types its
 * chained parameters look into (`subject:Patient.identifier=…` tells whether such a Patient
 * exists); resources that `_include`/`_revinclude` would add are filtered out instead (src/audit/repository.ts).
 */
export function authorize(auth: RequestAuth, interaction: Interaction, type: string | undefined, query?: FhirRequest['query']): void {
  if (type !== undefined && READ_ONLY_RESOURCE_TYPES.has(type) && WRITES.has(interaction)) {
    throw fail(405, 'not-supported', `${type} is written by the server only: it can be read and searched, not changed`);
  }
  if (OPEN.has(interaction)) {
    return;
  }
  const perm = NEEDS[interaction];
  if (perm === undefined) {
    // Operations without a rule of their own (`$export` checks each exported type itself): read on everything.
    for (const t of SYSTEM_TYPES) {
      requirePermission(auth, t, 'r');
    }
    return;
  }
  for (const t of type !== undefined ? [type] : SYSTEM_TYPES) {
    requirePermission(auth, t, perm);
  }
  if (query && type !== undefined && interaction === 'search-type') {
    for (const t of chainedTypes(type, Object.keys(query))) {
      requirePermission(auth, t, 's');
    }
  }
}

/** Types that chained (`a.b`, `a:Type.b`) and reverse-chained (`_has:Type:…`) parameters search. */
export function chainedTypes(type: string, keys: string[]): Set<string> {
  const types = new Set<string>();
  for (const key of keys) {
    if (key.startsWith('_has:')) {
      types.add(key.split(':')[1] ?? '');
      continue;
    }
    const dot = key.indexOf('.');
    if (dot < 0) {
      continue;
    }
    const [code, typeModifier] = key.slice(0, dot).split(':');
    for (const t of typeModifier ? [typeModifier] : (searchParam(type, code)?.target ?? [])) {
      if (isSupportedResourceType(t)) {
        types.add(t);
      }
    }
  }
  return types;
}

/** For operations that read several types (`$export`): call once per type. */
export function requirePermission(auth: RequestAuth, type: string, perm: Permission): void {
  if (!grantsFor(auth.scopes).allows(type, perm)) {
    const v1 = perm === 'r' || perm === 's' ? 'read' : 'write';
    throw forbidden(`The access token has no scope for this: it needs system/${type}.${perm} (or system/${type}.${v1})`);
  }
}

function forbidden(msg: string) {
  return fail(403, 'forbidden', msg);
}

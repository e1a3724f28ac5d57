/** The resource types this server stores and serves. Any other type answers 404 not-supported. */
export const SUPPORTED_RESOURCE_TYPES = [
  'ServiceRequest',
  'Procedure',
  'Observation',
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  // Patient lists for Group-level Bulk Data export (`Group/[id]/$export`, `member` references).
  'Group',
  // rest-hook notifications of matching writes (src/subscriptions).
  'Subscription',
  // Written by the server only (src/audit): the audit trail and the provenance of each write.
  'AuditEvent',
  'Provenance',
] as const;

export type SupportedResourceType = (typeof SUPPORTED_RESOURCE_TYPES)[number];

const supported = new Set<string>(SUPPORTED_RESOURCE_TYPES);

export function isSupportedResourceType(type: string): type is SupportedResourceType {
  return supported.has(type);
}

/** Types clients may read but never create, change or delete: the server's own records. */
export const READ_ONLY_RESOURCE_TYPES: ReadonlySet<string> = new Set(['AuditEvent', 'Provenance']);

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
] as const;

export type SupportedResourceType = (typeof SUPPORTED_RESOURCE_TYPES)[number];

const supported = new Set<string>(SUPPORTED_RESOURCE_TYPES);

export function isSupportedResourceType(type: string): type is SupportedResourceType {
  return supported.has(type);
}

/**
 * The token endpoint sits beside the FHIR base: `https://host/fhir` → `https://host/auth/token`.
 * Assertions must name exactly this URL as `aud`, so every place derives it the same way.
 */
export function tokenUrlFor(fhirBaseUrl: string): string {
  return `${fhirBaseUrl.replace(/\/fhir$/, '')}/auth/token`;
}

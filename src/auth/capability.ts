import type { CapabilityStatementRestSecurity } from '@medplum/fhirtypes';
import { tokenUrlFor } from './urls';

/** CapabilityStatement.rest.security: SMART on FHIR with the token URL (oauth-uris extension). */
export function smartCapabilitySecurity(cors: boolean): (baseUrl: string) => CapabilityStatementRestSecurity {
  return (baseUrl) => ({
    cors,
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
        text: 'SMART Backend Services: OAuth 2.0 client credentials with private_key_jwt',
      },
    ],
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [{ url: 'token', valueUri: tokenUrlFor(baseUrl) }],
      },
    ],
    description: `Bearer access tokens from ${tokenUrlFor(baseUrl)}; see /.well-known/smart-configuration`,
  });
}

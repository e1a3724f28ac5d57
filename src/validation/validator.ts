import type { ProfileOptions } from './profile-stage';
import { validateForWrite, type ValidatedResource } from './pipeline';

/**
 * The write gate as the FHIR operations call it: asynchronous, so that it can run on a worker
 * thread (./worker-pool.ts) while the main thread serves other requests and the database.
 * Rejects with the pipeline's FhirError (400/422 with its OperationOutcome).
 */
export type Validator = (body: unknown, expectedType: string, options?: ProfileOptions) => Promise<ValidatedResource>;

/** The gate run on the calling thread (tests, scripts, `FHIR_VALIDATION_WORKERS=0`). */
export const validateInProcess: Validator = async (body, expectedType, options) => validateForWrite(body, expectedType, options);

/** A create ignores any id in the body (http.html#create): the gate sees the body without it. */
export function withoutId(body: unknown): unknown {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && 'id' in body) {
    const { id: _ignored, ...rest } = body as Record<string, unknown>;
    return rest;
  }
  return body;
}

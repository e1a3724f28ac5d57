import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** Issue type codes from http://hl7.org/fhir/issue-type that this server uses. */
export type IssueCode = OperationOutcomeIssue['code'];

/**
 * The one error type of the FHIR core: an HTTP status plus the OperationOutcome that explains it.
 * Thrown anywhere below the HTTP layer, turned into a response in exactly one place.
 */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
  ) {
    super(outcome.issue?.[0]?.diagnostics ?? `HTTP ${status}`);
    this.name = 'FhirError';
  }
}

export function issue(
  code: IssueCode,
  diagnostics: string,
  expression?: string | string[],
  severity: OperationOutcomeIssue['severity'] = 'error',
): OperationOutcomeIssue {
  const result: OperationOutcomeIssue = { severity, code, diagnostics };
  if (expression !== undefined) {
    result.expression = Array.isArray(expression) ? expression : [expression];
  }
  return result;
}

export function outcome(...issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

export function fail(status: number, code: IssueCode, diagnostics: string, expression?: string | string[]): FhirError {
  return new FhirError(status, outcome(issue(code, diagnostics, expression)));
}

export const badRequest = (msg: string, expression?: string | string[]): FhirError =>
  fail(400, 'invalid', msg, expression);
export const notFound = (msg: string): FhirError => fail(404, 'not-found', msg);
export const gone = (msg: string): FhirError => fail(410, 'deleted', msg);
export const preconditionFailed = (msg: string): FhirError => fail(412, 'conflict', msg);
export const notSupported = (msg: string, status = 404): FhirError => fail(status, 'not-supported', msg);

export function informational(msg: string): OperationOutcome {
  return outcome(issue('informational', msg, undefined, 'information'));
}

/** Normalises anything thrown into a FhirError without leaking internals to the client. */
export function toFhirError(err: unknown): FhirError {
  if (err instanceof FhirError) {
    return err;
  }
  return fail(500, 'exception', 'Internal server error');
}

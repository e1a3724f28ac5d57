import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../definitions';

/**
 * Cardinality, primitive formats, unknown elements and error-level FHIRPath invariants, via
 * @medplum/core's validator against the R4 base definition. Returns every issue (errors and
 * warnings) with a human sentence in `diagnostics` and the resource type on every expression.
 */
export function validateAgainstBase(resource: Resource): OperationOutcomeIssue[] {
  loadBaseDefinitions();
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      throw err;
    }
    issues = err.outcome.issue ?? [];
  }
  return issues.map((i) => normaliseIssue(i, resource.resourceType));
}

function normaliseIssue(input: OperationOutcomeIssue, resourceType: string): OperationOutcomeIssue {
  const expression = (input.expression ?? []).map((e) =>
    e === resourceType || e.startsWith(`${resourceType}.`) ? e : `${resourceType}.${e}`,
  );
  const text = input.diagnostics ?? input.details?.text ?? 'Invalid value';
  const where = expression[0] ? ` (at ${expression[0]})` : '';
  return {
    severity: input.severity,
    code: input.code === 'structure' && input.severity === 'error' ? 'processing' : input.code,
    diagnostics: `${text}${where}`,
    details: input.details,
    expression: expression.length > 0 ? expression : undefined,
  };
}

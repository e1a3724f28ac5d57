import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { CompiledConstraint, CompiledProfile, ElementRule } from './compile';
import { childrenAt, matchesPattern, valuesAt, type Located } from './paths';

/**
 * Checks one resource (or one extension inside it) against a compiled profile. Every issue names
 * the profile, says what to do in words a clinician can act on, and points at the element.
 */
export function checkProfile(profile: CompiledProfile, root: Located, resource: TypedValue, prefix = profile.title): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const rootTyped: TypedValue = root.value === resource.value ? resource : { type: profile.type, value: root.value };
  for (const c of profile.rootConstraints) {
    evaluate(c, rootTyped, root.path, resource, prefix, issues);
  }
  for (const rule of profile.rules) {
    checkRule(rule, root, resource, prefix, issues);
  }
  return issues;
}

function checkRule(rule: ElementRule, root: Located, resource: TypedValue, prefix: string, issues: OperationOutcomeIssue[]): void {
  const last = rule.steps[rule.steps.length - 1];
  const parents = valuesAt([root], rule.steps.slice(0, -1), rule.stepTypes);
  for (const parent of parents) {
    const values = childrenAt(parent, last, rule.stepTypes[rule.stepTypes.length - 1]);
    const where = `${parent.path}.${last.name}${last.choice ? '[x]' : ''}`;
    const slice = last.sliceUrl ? ` with url '${last.sliceUrl}'` : '';
    if (rule.min !== undefined && values.length < rule.min) {
      issues.push(err('required', `${prefix}: ${rule.label} is missing (${where}${slice} is required).`, where));
    }
    if (rule.max !== undefined && values.length > rule.max) {
      const what = rule.max === 0 ? 'must not be present' : `allows at most ${rule.max} value(s), found ${values.length}`;
      issues.push(err('structure', `${prefix}: ${rule.label}: ${where}${slice} ${what}.`, where));
    }
    for (const v of values) {
      checkValue(rule, v, resource, prefix, issues);
    }
  }
}

function checkValue(rule: ElementRule, v: Located, resource: TypedValue, prefix: string, issues: OperationOutcomeIssue[]): void {
  if (rule.types && v.type && !rule.types.includes(v.type)) {
    issues.push(err('structure', `${prefix}: ${rule.label} must be given as ${rule.types.join(' or ')}, not ${v.type} (${v.path}).`, v.path));
    return;
  }
  if (rule.targets) {
    checkTarget(rule, v, prefix, issues);
  }
  if (rule.fixed !== undefined && JSON.stringify(v.value) !== JSON.stringify(rule.fixed)) {
    issues.push(err('value', `${prefix}: ${v.path} must be ${JSON.stringify(rule.fixed)} (${rule.label}), found ${JSON.stringify(v.value)}.`, v.path));
  }
  if (rule.pattern !== undefined && !matchesPattern(v.value, rule.pattern)) {
    issues.push(err('value', `${prefix}: ${rule.label} must include ${describePattern(rule.pattern)} (${v.path}).`, v.path));
  }
  if (rule.binding) {
    checkBinding(rule, v, prefix, issues);
  }
  const typed: TypedValue = { type: v.type ?? 'BackboneElement', value: v.value };
  for (const c of rule.constraints) {
    evaluate(c, typed, v.path, resource, prefix, issues);
  }
  if (rule.extension) {
    issues.push(...checkProfile(rule.extension, v, resource, `${prefix}, ${rule.extension.title}`));
  }
}

function checkTarget(rule: ElementRule, v: Located, prefix: string, issues: OperationOutcomeIssue[]): void {
  const reference = (v.value as { reference?: unknown } | null)?.reference;
  if (typeof reference !== 'string' || reference.startsWith('#') || rule.targets?.includes('Resource')) {
    return;
  }
  const parts = reference.split('/_history/')[0].split('/');
  const type = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  if (!type || !rule.targets?.includes(type)) {
    issues.push(
      err('invalid', `${prefix}: ${rule.label} must reference a ${rule.targets?.join(' or ')}, found '${reference}' (${v.path}).`, `${v.path}.reference`),
    );
  }
}

interface Code {
  system?: string;
  code?: string;
}

function checkBinding(rule: ElementRule, v: Located, prefix: string, issues: OperationOutcomeIssue[]): void {
  const { strength, expansion, elementType } = rule.binding as NonNullable<ElementRule['binding']>;
  let codes: Code[];
  let ok: boolean;
  if (elementType === 'code' || typeof v.value === 'string') {
    codes = [{ code: String(v.value) }];
    ok = expansion.codes.has(String(v.value));
  } else {
    const value = v.value as { coding?: Code[] } & Code;
    codes = elementType === 'CodeableConcept' ? (value.coding ?? []) : [value];
    ok = codes.some((c) => expansion.pairs.has(`${c.system}|${c.code}`));
  }
  if (ok || (strength === 'extensible' && codes.length === 0)) {
    return;
  }
  const found = codes.length === 0 ? 'has only text and no code' : `${codes.map((c) => (c.system ? `${c.system}|${c.code}` : `'${c.code}'`)).join(', ')} is not`;
  const sentence =
    strength === 'required'
      ? `${prefix}: ${rule.label}: ${found} in the value set '${expansion.title}' (${expansion.url}). Use one of: ${expansion.examples.join(', ')}.`
      : `${prefix}: ${rule.label}: ${found} in the value set '${expansion.title}', which should be used when it has a suitable code (e.g. ${expansion.examples.slice(0, 4).join(', ')}).`;
  issues.push(err('code-invalid', sentence, v.path, strength === 'required' ? 'error' : 'warning'));
}

/** Evaluates root-level invariants only (used for the linked rules, once references are resolved). */
export function checkRootConstraints(constraints: CompiledConstraint[], resource: TypedValue, prefix: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const c of constraints) {
    evaluate(c, resource, resource.type, resource, prefix, issues);
  }
  return issues;
}

const UCUM_VARIABLE = toTypedValue('http://unitsofmeasure.org');

function evaluate(c: CompiledConstraint, input: TypedValue, path: string, resource: TypedValue, prefix: string, issues: OperationOutcomeIssue[]): void {
  let ok: boolean;
  try {
    const result = evalFhirPathTyped(c.atom, [input], { '%resource': resource, '%context': input, '%ucum': UCUM_VARIABLE });
    ok = result.length === 1 && result[0].value === true;
  } catch {
    ok = false;
  }
  if (!ok) {
    issues.push(err('invariant', `${prefix}: ${c.human} [${c.key}] (${path}).`, path, c.severity));
  }
}

function describePattern(pattern: unknown): string {
  const codings = (pattern as { coding?: Code[] }).coding;
  if (codings) {
    return codings.map((c) => `${c.system}|${c.code}`).join(', ');
  }
  const q = pattern as Code;
  if (q.system && q.code) {
    return `the unit ${q.code} (${q.system})`;
  }
  return JSON.stringify(pattern);
}

function err(code: OperationOutcomeIssue['code'], diagnostics: string, expression: string, severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcomeIssue {
  return { severity, code, diagnostics, expression: [expression] };
}

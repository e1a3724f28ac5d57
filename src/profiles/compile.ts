import { parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { ElementDefinition, ElementDefinitionConstraint, StructureDefinition } from '@medplum/fhirtypes';
import type { Step } from './paths';
import type { Expansion, Terminology } from './terminology';

/** A FHIRPath invariant, parsed once. */
export interface CompiledConstraint {
  key: string;
  severity: 'error' | 'warning';
  human: string;
  expression: string;
  atom: FhirPathAtom;
}

/** Everything one differential element says, ready to check without looking at the StructureDefinition again. */
export interface ElementRule {
  id: string;
  /** Clinician-facing noun phrase (ElementDefinition.short). */
  label: string;
  steps: Step[];
  /** Declared type per step when it has exactly one (for FHIRPath typing of values). */
  stepTypes: (string | undefined)[];
  min?: number;
  max?: number;
  types?: string[];
  /** Allowed reference target resource types, when the differential narrows them. */
  targets?: string[];
  fixed?: unknown;
  pattern?: unknown;
  binding?: { strength: 'required' | 'extensible'; expansion: Expansion; elementType: string };
  constraints: CompiledConstraint[];
  /** The extension profile each value of this slice must conform to. */
  extension?: CompiledProfile;
}

export interface CompiledProfile {
  url: string;
  title: string;
  /** The constrained type: a resource type, or `Extension`. */
  type: string;
  rules: ElementRule[];
  /** Invariants on the root element, evaluated on the resource (or extension) itself. */
  rootConstraints: CompiledConstraint[];
  /** Invariants that read other resources (`resolve()`): not checkable offline, see linked-rules. */
  linked: CompiledConstraint[];
  /** pattern[x] on `<type>.code`: how the server recognises which Observation profile applies. */
  codePattern?: unknown;
}

export interface CompileContext {
  terminology: Terminology;
  findProfile(url: string): StructureDefinition | undefined;
}

const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';

/**
 * Turns a StructureDefinition into rules: one per differential element, with the merged values
 * from the snapshot. Base-definition rules are not repeated: @medplum/core checks those.
 */
export function compileProfile(sd: StructureDefinition, ctx: CompileContext, cache = new Map<string, CompiledProfile>()): CompiledProfile {
  const cached = cache.get(sd.url as string);
  if (cached) {
    return cached;
  }
  const snapshot = new Map((sd.snapshot?.element ?? []).map((e) => [e.id as string, e]));
  if (snapshot.size === 0) {
    throw new Error(`${sd.url} has no snapshot: run npm run profiles:snapshots`);
  }
  const profile: CompiledProfile = {
    url: sd.url as string,
    title: sd.title ?? (sd.name as string),
    type: sd.type as string,
    rules: [],
    rootConstraints: [],
    linked: [],
  };
  cache.set(profile.url, profile);
  for (const diff of sd.differential?.element ?? []) {
    const el = snapshot.get(diff.id as string) as ElementDefinition;
    const constraints = (diff.constraint ?? []).map(compileConstraint);
    const offline = constraints.filter((c) => !c.expression.includes('resolve()'));
    profile.linked.push(...constraints.filter((c) => c.expression.includes('resolve()')));
    if (!diff.id?.includes('.')) {
      profile.rootConstraints.push(...offline);
      continue;
    }
    const rule = compileElement(el, diff, snapshot, ctx, cache);
    rule.constraints = offline;
    profile.rules.push(rule);
    if (diff.id === `${profile.type}.code` && el.patternCodeableConcept) {
      profile.codePattern = el.patternCodeableConcept;
    }
  }
  return profile;
}

function compileElement(
  el: ElementDefinition,
  diff: ElementDefinition,
  snapshot: Map<string, ElementDefinition>,
  ctx: CompileContext,
  cache: Map<string, CompiledProfile>,
): ElementRule {
  const id = el.id as string;
  const segments = id.split('.');
  const steps: Step[] = [];
  const stepTypes: (string | undefined)[] = [];
  for (let i = 1; i < segments.length; i++) {
    const stepId = segments.slice(0, i + 1).join('.');
    const stepEl = snapshot.get(stepId);
    const [rawName, slice] = segments[i].split(':');
    const choice = rawName.endsWith('[x]');
    const step: Step = { name: choice ? rawName.slice(0, -3) : rawName, choice };
    if (slice !== undefined) {
      // Extension slices are told apart by url: the extension's canonical, or the sub-extension's fixed name.
      step.sliceUrl = stepEl?.type?.[0]?.profile?.[0] ?? snapshot.get(`${stepId}.url`)?.fixedUri ?? slice;
    }
    steps.push(step);
    stepTypes.push(stepEl?.type?.length === 1 ? stepEl.type[0].code : undefined);
  }
  const rule: ElementRule = { id, label: el.short ?? id, steps, stepTypes, constraints: [] };
  if (diff.min !== undefined || diff.max !== undefined) {
    rule.min = el.min ?? 0;
    rule.max = el.max === '*' || el.max === undefined ? Infinity : Number(el.max);
  }
  if (diff.type) {
    rule.types = diff.type.map((t) => t.code as string);
    const targets = diff.type.flatMap((t) => t.targetProfile ?? []);
    if (targets.length > 0) {
      rule.targets = targets.map((url) => (url.startsWith(HL7_SD) ? url.slice(HL7_SD.length) : (ctx.findProfile(url)?.type ?? url)));
    }
    const extensionUrl = diff.type[0]?.profile?.[0];
    const extensionSd = extensionUrl ? ctx.findProfile(extensionUrl) : undefined;
    if (extensionSd) {
      rule.extension = compileProfile(extensionSd, ctx, cache);
    }
  }
  for (const [key, value] of Object.entries(diff)) {
    if (key.startsWith('fixed') && key !== 'fixedUri') {
      rule.fixed = value;
    } else if (key.startsWith('pattern')) {
      rule.pattern = value;
    }
  }
  const strength = diff.binding?.strength;
  if ((strength === 'required' || strength === 'extensible') && diff.binding?.valueSet) {
    const expansion = ctx.terminology.expand(diff.binding.valueSet);
    if (!expansion?.complete) {
      throw new Error(`${id}: ValueSet ${diff.binding.valueSet} cannot be expanded offline`);
    }
    rule.binding = { strength, expansion, elementType: el.type?.[0]?.code ?? 'CodeableConcept' };
  }
  return rule;
}

function compileConstraint(c: ElementDefinitionConstraint): CompiledConstraint {
  return {
    key: c.key as string,
    severity: c.severity === 'warning' ? 'warning' : 'error',
    human: c.human as string,
    expression: c.expression as string,
    atom: parseFhirPath(c.expression as string),
  };
}

import { getDataType, tryGetDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../definitions';
import type { Step } from '../profiles/paths';
import { r4Terminology, type Expansion } from '../profiles/terminology';

/** A `code` element with a required binding, somewhere in a resource type (e.g. Patient.contact.gender). */
interface CodeBinding {
  steps: Step[];
  expansion: Expansion;
}

const plans = new Map<string, CodeBinding[]>();
const MAX_DEPTH = 6;
const SKIPPED = new Set(['extension', 'modifierExtension', 'contained']);

/**
 * Required bindings of the R4 base definition on `code` elements (status, intent, gender, use…),
 * which @medplum/core's validator does not check. The paths are worked out once per resource type
 * from the type schemas; a write then only walks the elements that are there.
 */
export function checkBaseBindings(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  visit(bindingTree(resource.resourceType), resource, resource.resourceType, issues);
  return issues;
}

/** The plan as a tree keyed by JSON property, so absent subtrees are skipped with one lookup. */
interface Node {
  children: Map<string, Node>;
  expansion?: Expansion;
}

const trees = new Map<string, Node>();

function bindingTree(resourceType: string): Node {
  let tree = trees.get(resourceType);
  if (!tree) {
    tree = { children: new Map() };
    for (const b of bindingPlan(resourceType)) {
      let node = tree;
      for (const step of b.steps) {
        let next = node.children.get(step.name);
        if (!next) {
          next = { children: new Map() };
          node.children.set(step.name, next);
        }
        node = next;
      }
      node.expansion = b.expansion;
    }
    trees.set(resourceType, tree);
  }
  return tree;
}

function visit(node: Node, value: unknown, path: string, issues: OperationOutcomeIssue[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => visit(node, item, `${path}[${i}]`, issues));
    return;
  }
  if (node.expansion && typeof value === 'string' && !node.expansion.codes.has(value)) {
    issues.push({
      severity: 'error',
      code: 'code-invalid',
      diagnostics: `'${value}' is not a valid code for ${path}: use one of ${[...node.expansion.codes].slice(0, 12).join(', ')} (value set '${node.expansion.title}').`,
      expression: [path],
    });
  }
  if (node.children.size === 0 || value === null || typeof value !== 'object') {
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const [key, child] of node.children) {
    if (obj[key] !== undefined) {
      visit(child, obj[key], `${path}.${key}`, issues);
    }
  }
}

export function bindingPlan(resourceType: string): CodeBinding[] {
  let plan = plans.get(resourceType);
  if (!plan) {
    loadBaseDefinitions();
    plan = [];
    collect(getDataType(resourceType), [], plan, new Set([resourceType]));
    plans.set(resourceType, plan);
  }
  return plan;
}

function collect(schema: InternalTypeSchema, prefix: Step[], out: CodeBinding[], seen: Set<string>): void {
  if (prefix.length >= MAX_DEPTH) {
    return;
  }
  for (const [key, element] of Object.entries(schema.elements)) {
    if (SKIPPED.has(key)) {
      continue;
    }
    const choice = key.endsWith('[x]');
    const name = choice ? key.slice(0, -3) : key;
    for (const type of element.type) {
      const step: Step = { name: choice ? `${name}${type.code[0].toUpperCase()}${type.code.slice(1)}` : name, choice: false };
      const steps = [...prefix, step];
      if (type.code === 'code') {
        const vs = element.binding?.strength === 'required' ? element.binding.valueSet : undefined;
        const expansion = vs ? r4Terminology().expand(vs) : undefined;
        if (expansion?.complete && expansion.codes.size > 0) {
          out.push({ steps, expansion });
        }
      } else if (!seen.has(type.code) && type.code !== 'Resource' && type.code[0] === type.code[0].toUpperCase()) {
        const child = tryGetDataType(type.code);
        if (child) {
          collect(child, steps, out, new Set([...seen, type.code]));
        }
      }
    }
  }
}

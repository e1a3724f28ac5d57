import type { FhirError, Issue } from './fhir.js';
import { h } from './dom.js';

/** Where an element of the resource being written is entered: FHIRPath prefix (or `path|extension url`) → field id. */
export type FieldMap = [path: string, fieldId: string][];

/**
 * Shows the server's OperationOutcome next to the fields it concerns: each issue goes to the field
 * whose path is the longest prefix of the issue's `expression`, or, for rules on the whole resource,
 * to the field named for its rule id (`[sbf-proc-3]`); the rest goes to the form's summary.
 */
export function showErrors(form: HTMLFormElement, error: FhirError, fields: FieldMap, rules: Record<string, string> = {}): void {
  clearErrors(form);
  const general: string[] = [];
  const issues = error.outcome?.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal') ?? [];
  for (const issue of issues) {
    const fieldId = fieldFor(issue, fields, rules);
    const field = fieldId ? form.querySelector<HTMLElement>(`#${fieldId}`) : null;
    if (field) {
      mark(field, issue.diagnostics ?? issue.code);
    } else {
      general.push(issue.diagnostics ?? issue.code);
    }
  }
  if (issues.length === 0) {
    general.push(error.status === 401 ? 'Not signed in: paste an access token above (see README, Physician page).' : error.message);
  }
  const summary = form.querySelector<HTMLElement>('.form-errors');
  if (summary && general.length > 0) {
    summary.replaceChildren(h('ul', {}, ...general.map((text) => h('li', {}, text))));
    summary.hidden = false;
  }
  (form.querySelector<HTMLElement>('[aria-invalid="true"]') ?? summary)?.focus();
}

export function clearErrors(form: HTMLFormElement): void {
  form.querySelectorAll('.field-error').forEach((el) => el.remove());
  form.querySelectorAll('[aria-invalid]').forEach((el) => {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  });
  const summary = form.querySelector<HTMLElement>('.form-errors');
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

function fieldFor(issue: Issue, fields: FieldMap, rules: Record<string, string>): string | undefined {
  // A missing (sub-)extension is reported at its parent, naming its url: `path|url` entries catch these.
  const url = /url '([^']+)'/.exec(issue.diagnostics ?? '')?.[1];
  for (const expression of url ? (issue.expression ?? []) : []) {
    const exact = fields.find(([path]) => path === `${expression}|${url}`);
    if (exact) {
      return exact[1];
    }
  }
  let best: [string, string] | undefined;
  for (const expression of issue.expression ?? []) {
    for (const [path, id] of fields) {
      const hit = expression === path || expression.startsWith(`${path}.`) || expression.startsWith(`${path}[`);
      if (hit && (!best || path.length > best[0].length)) {
        best = [path, id];
      }
    }
  }
  if (best) {
    return best[1];
  }
  const rule = /\[(sbf-[a-z]+-\d+)\]/.exec(issue.diagnostics ?? '')?.[1];
  return rule ? rules[rule] : undefined;
}

function mark(field: HTMLElement, text: string): void {
  const id = `${field.id}-error`;
  let box = document.getElementById(id);
  if (!box) {
    box = h('p', { id, class: 'field-error', role: 'alert' });
    field.insertAdjacentElement('afterend', box);
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-describedby', id);
  }
  box.append(h('span', {}, text));
}

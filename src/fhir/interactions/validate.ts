import type { OperationOutcomeIssue, Parameters, Resource } from '@medplum/fhirtypes';
import { FhirError, badRequest, issue, outcome } from '../../common/errors';
import { checkLinkedRules } from '../../profiles/linked-rules';
import { profileRegistry } from '../../profiles/registry';
import { validateInProcess, withoutId } from '../../validation/validator';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';

const MODES = new Set(['create', 'update', 'delete', 'profile']);

/**
 * `POST [base]/[type]/$validate` and `POST [base]/[type]/[id]/$validate` (resource-operation-validate):
 * runs the write gate without storing anything and answers 200 with the OperationOutcome, valid or
 * not. Also checks what only a write would otherwise find out: that local references exist, and
 * the profile rules that read the referenced resources. Body: the resource, or a Parameters with
 * `resource`, `mode` (create | update | delete | profile) and `profile`.
 */
export async function validateOperation(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const input = readInput(req);
  if (input.mode === 'delete') {
    if (!id) {
      throw badRequest('mode=delete needs the instance: POST [type]/[id]/$validate');
    }
    const current = await ctx.repo.read(type, id);
    const found = current !== undefined && !current.deleted;
    return respond(found ? [] : [issue('not-found', `${type}/${id} does not exist, so it cannot be deleted`, `${type}.id`)]);
  }
  if (input.mode === 'update' && !id) {
    throw badRequest('mode=update needs the instance: POST [type]/[id]/$validate');
  }
  const body = input.resource as { id?: unknown } | undefined;
  if (id && input.mode === 'update' && body?.id !== id) {
    return respond([issue('invalid', `The resource's id '${String(body?.id)}' must equal the id in the URL '${id}' for an update`, `${type}.id`)]);
  }
  try {
    const gate = ctx.validate ?? validateInProcess;
    const valid = await gate(input.mode === 'create' ? withoutId(input.resource) : input.resource, type, { profile: input.profile });
    const problems: OperationOutcomeIssue[] = [];
    for (const ref of valid.references) {
      const target = await ctx.repo.read(ref.resourceType, ref.id);
      if (!target || target.deleted) {
        problems.push(issue('not-found', `Reference '${ref.resourceType}/${ref.id}' points at nothing on this server`, ref.expression));
      }
    }
    const profiles = (valid.resource.meta?.profile ?? []).flatMap((url) => profileRegistry().profiles.get(url) ?? []);
    problems.push(...(await checkLinkedRules(valid.resource, profiles, (t, i) => readLive(ctx, t, i))));
    const checked = profiles.length > 0 ? ` against ${profiles.map((p) => p.url).join(', ')}` : ' against the base definition';
    const ok = problems.every((p) => p.severity !== 'error');
    return respond([...problems, ...valid.warnings], ok ? `Validation passed${checked}` : undefined);
  } catch (err) {
    if (err instanceof FhirError && (err.status === 400 || err.status === 422)) {
      return respond(err.outcome.issue ?? []);
    }
    throw err;
  }
}

async function readLive(ctx: FhirContext, type: string, id: string): Promise<Resource | undefined> {
  const v = await ctx.repo.read(type, id);
  return v && !v.deleted && v.json ? (JSON.parse(v.json) as Resource) : undefined;
}

function respond(issues: OperationOutcomeIssue[], passed?: string): FhirResponse {
  const all = passed ? [issue('informational', passed, undefined, 'information'), ...issues] : issues;
  return { status: 200, body: outcome(...(all.length > 0 ? all : [issue('informational', 'Validation passed', undefined, 'information')])) };
}

interface ValidateInput {
  resource: unknown;
  mode?: string;
  profile?: string;
}

function readInput(req: FhirRequest): ValidateInput {
  const query = (name: string): string | undefined => {
    const v = req.query[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const input: ValidateInput = { resource: req.body, mode: query('mode'), profile: query('profile') };
  const body = req.body as Parameters | undefined;
  if (body?.resourceType === 'Parameters' && req.params.type !== 'Parameters') {
    const param = (name: string) => body.parameter?.find((p) => p.name === name);
    input.resource = param('resource')?.resource;
    input.mode = param('mode')?.valueCode ?? param('mode')?.valueString ?? input.mode;
    input.profile = param('profile')?.valueUri ?? param('profile')?.valueCanonical ?? param('profile')?.valueString ?? input.profile;
  }
  if (input.mode !== undefined && !MODES.has(input.mode)) {
    throw badRequest(`Unknown $validate mode '${input.mode}': use create, update, delete or profile`, 'Parameters.parameter.mode');
  }
  if (input.resource === undefined && input.mode !== 'delete') {
    throw new FhirError(400, outcome(issue('required', 'Send the resource to validate as the body, or as the Parameters parameter "resource"')));
  }
  return input;
}


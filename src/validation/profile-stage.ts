import { toTypedValue } from '@medplum/core';
import type { CodeableConcept, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { issue } from '../common/errors';
import { checkProfile } from '../profiles/check';
import type { CompiledProfile } from '../profiles/compile';
import { matchesPattern } from '../profiles/paths';
import { profileRegistry } from '../profiles/registry';
import { checkBaseBindings } from './bindings';

export interface ProfileStageResult {
  /** The resource with `meta.profile` naming the profile(s) it was validated against. */
  resource: Resource;
  errors: OperationOutcomeIssue[];
  warnings: OperationOutcomeIssue[];
  profiles: CompiledProfile[];
}

export interface ProfileOptions {
  /** Validate against this profile instead of choosing one (`$validate?profile=`). */
  profile?: string;
}

/**
 * The profile stage of the write gate, after the base definition passed:
 *   - required bindings of the R4 base definition on `code` elements (every type);
 *   - for types the package profiles (ServiceRequest, Procedure, Observation): choose the block
 *     profile (explicit, `meta.profile`, or by content), check it, and record it in `meta.profile`.
 * A profiled type that matches none of its profiles is an error naming the candidates.
 */
export function applyProfiles(resource: Resource, options: ProfileOptions = {}): ProfileStageResult {
  const errors = checkBaseBindings(resource);
  const warnings: OperationOutcomeIssue[] = [];
  const selection = selectProfiles(resource, options, warnings);
  if ('error' in selection) {
    return { resource, errors: [...errors, selection.error], warnings, profiles: [] };
  }
  const typed = toTypedValue(resource);
  for (const profile of selection.profiles) {
    for (const found of checkProfile(profile, { value: resource, path: resource.resourceType }, typed)) {
      (found.severity === 'error' || found.severity === 'fatal' ? errors : warnings).push(found);
    }
  }
  return { resource: withProfiles(resource, selection.profiles), errors, warnings, profiles: selection.profiles };
}

type Selection = { profiles: CompiledProfile[] } | { error: OperationOutcomeIssue };

function selectProfiles(resource: Resource, options: ProfileOptions, warnings: OperationOutcomeIssue[]): Selection {
  const registry = profileRegistry();
  const type = resource.resourceType;
  const candidates = registry.candidates(type);
  if (options.profile) {
    const chosen = candidates.find((p) => p.url === options.profile?.split('|')[0]);
    if (!chosen) {
      return { error: issue('not-supported', `Profile '${options.profile}' is not a ${type} profile known to this server${listOf(candidates)}`, `${type}.meta.profile`) };
    }
    return { profiles: [chosen] };
  }
  if (candidates.length === 0) {
    return { profiles: [] };
  }
  const claimed = (resource.meta?.profile ?? []).map((p) => p.split('|')[0]);
  const known = candidates.filter((p) => claimed.includes(p.url));
  for (const url of claimed.filter((u) => !candidates.some((p) => p.url === u))) {
    warnings.push(issue('not-supported', `Profile '${url}' in meta.profile is not known to this server and was not checked`, `${type}.meta.profile`, 'warning'));
  }
  if (known.length > 0) {
    return { profiles: known };
  }
  const code = (resource as { code?: CodeableConcept }).code;
  const byContent = candidates.filter((p) => p.codePattern === undefined || matchesPattern(code, p.codePattern));
  if (byContent.length > 0) {
    return { profiles: [byContent[0]] };
  }
  return {
    error: issue(
      'invalid',
      `This ${type} matches none of the block profiles this server accepts: set its code (or meta.profile) to one of them${listOf(candidates)}`,
      `${type}.code`,
    ),
  };
}

function listOf(candidates: CompiledProfile[]): string {
  if (candidates.length === 0) {
    return '';
  }
  const describe = (p: CompiledProfile): string => {
    const coding = (p.codePattern as CodeableConcept | undefined)?.coding?.[0];
    return `${p.title} (${p.url}${coding ? `, code ${coding.system}|${coding.code}` : ''})`;
  };
  return `: ${candidates.map(describe).join('; ')}`;
}

/** Records the validated profiles first in meta.profile, keeping any other profiles the client claimed. */
function withProfiles(resource: Resource, profiles: CompiledProfile[]): Resource {
  if (profiles.length === 0) {
    return resource;
  }
  const urls = profiles.map((p) => p.url);
  const others = (resource.meta?.profile ?? []).filter((p) => !urls.includes(p.split('|')[0]));
  return { ...resource, meta: { ...resource.meta, profile: [...urls, ...others] } } as Resource;
}

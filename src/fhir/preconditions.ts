import { badRequest } from '../common/errors';

/**
 * Version from an `If-Match` value: `W/"3"` (the form this server sends) or `"3"`.
 * Undefined when the header is absent; anything else is a client error, not a silent no-check.
 */
export function parseIfMatch(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  const match = /^\s*(?:W\/)?"([A-Za-z0-9\-.]{1,64})"\s*$/.exec(value);
  if (!match) {
    throw badRequest(`If-Match must be an ETag like W/"3", got '${value.slice(0, 80)}'`);
  }
  return match[1];
}

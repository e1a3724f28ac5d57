import { badRequest } from '../common/errors';
import { dateRange } from '../common/date-range';

/**
 * Parses an instant-valued parameter (`_since`) into an ISO-8601 UTC string that compares as text
 * with stored timestamps. A date without time means its first instant (UTC); a time needs a zone.
 * Impossible calendar dates (2025-02-30) are rejected rather than rolled over.
 */
export function parseInstant(value: string, name: string): string {
  const range = dateRange(value);
  if (!range) {
    throw badRequest(`${name} must be a FHIR instant such as 2026-01-31T12:00:00Z, got '${value.slice(0, 40)}'`);
  }
  if (value.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw badRequest(`${name} with a time must have a time zone (Z or ±hh:mm), got '${value.slice(0, 40)}'`);
  }
  return range.low;
}

import { badRequest } from '../common/errors';

// FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or a full time with seconds and a zone.
const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses an instant-valued parameter (`_since`) into an ISO-8601 UTC string that compares as text
 * with stored timestamps. A date without time means its first instant (UTC). Impossible calendar
 * dates (2025-02-30) are rejected rather than rolled over.
 */
export function parseInstant(value: string, name: string): string {
  const m = DATE_TIME.exec(value);
  if (!m) {
    throw badRequest(`${name} must be a FHIR instant such as 2026-01-31T12:00:00Z, got '${value.slice(0, 40)}'`);
  }
  const [, year, month = '01', day = '01', hour, minute, second = '00', fraction = '', zone] = m;
  if (hour !== undefined && zone === undefined) {
    throw badRequest(`${name} with a time must have a time zone (Z or ±hh:mm), got '${value.slice(0, 40)}'`);
  }
  const iso = `${year}-${month}-${day}T${hour ?? '00'}:${minute ?? '00'}:${second}${fraction.slice(0, 4)}${zone ?? 'Z'}`;
  const date = new Date(iso);
  const calendarOk =
    !Number.isNaN(date.getTime()) &&
    new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))).getUTCDate() === Number(day) &&
    Number(month) >= 1 &&
    Number(month) <= 12;
  if (!calendarOk) {
    throw badRequest(`${name} is not a real date/time: '${value.slice(0, 40)}'`);
  }
  return date.toISOString();
}

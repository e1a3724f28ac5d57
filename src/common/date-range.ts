// FHIR date / dateTime / instant, with optional time and zone.
const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export interface DateRange {
  low: string;
  high: string;
}

export const MIN_DATE = '0001-01-01T00:00:00.000Z';
export const MAX_DATE = '9999-12-31T23:59:59.999Z';

/**
 * The range of instants a FHIR date value stands for, at its precision: `2026` is the whole year,
 * `2026-11-26T10:00:00Z` one second. Values without a zone are taken as UTC. Undefined when the value
 * is not a real date (`2026-02-30`, `2026-13`).
 */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo === undefined ? undefined : Number(mo);
  const day = d === undefined ? undefined : Number(d);
  if (month !== undefined && (month < 1 || month > 12)) {
    return undefined;
  }
  if (day !== undefined && (day < 1 || day > daysInMonth(year, month!))) {
    return undefined;
  }
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) {
    return undefined;
  }
  const offsetMs = zone && zone !== 'Z' ? zoneOffsetMs(zone) : 0;
  let start: number;
  let end: number;
  if (month === undefined) {
    start = Date.UTC(year, 0, 1);
    end = Date.UTC(year + 1, 0, 1);
  } else if (day === undefined) {
    start = Date.UTC(year, month - 1, 1);
    end = Date.UTC(year, month, 1);
  } else if (h === undefined) {
    start = Date.UTC(year, month - 1, day);
    end = start + 86_400_000;
  } else {
    const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
    start = Date.UTC(year, month - 1, day, Number(h), Number(mi), s === undefined ? 0 : Number(s), ms) - offsetMs;
    // Precision: minutes, seconds, or the given fraction.
    end = start + (s === undefined ? 60_000 : frac ? Math.max(1, 10 ** (3 - Math.min(frac.length, 3))) : 1000);
  }
  if (Number.isNaN(start) || year < 1) {
    return undefined;
  }
  return { low: iso(start), high: iso(end - 1) };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function zoneOffsetMs(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hh, mm] = zone.slice(1).split(':').map(Number);
  return sign * (hh * 60 + mm) * 60_000;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

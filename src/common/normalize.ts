/** Longest value kept in an index row: long enough for any code or name, short enough for a B-tree key. */
export const MAX_INDEXED_LENGTH = 512;

/** FHIR string search is case- and accent-insensitive: lower case, decomposed, combining marks removed. */
export function normalizeString(value: string): string {
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .slice(0, MAX_INDEXED_LENGTH);
}

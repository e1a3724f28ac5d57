/**
 * A whole-number setting from the environment: the fallback when unset or empty, otherwise an
 * integer ≥ `min` (default 0), or a start-up error naming the variable.
 */
export function envInt(value: string | undefined, fallback: number, name: string, min = 0): number {
  if (value === undefined || value === '') {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${name} must be an integer of at least ${min}, got '${value}'`);
  }
  return n;
}

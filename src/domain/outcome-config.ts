/**
 * Cut-offs of the diagnostic reading (docs/OUTCOMES.md gives each one's source). Defaults are the
 * values `shared/domain/README.md` cites; each can be set through the environment.
 */
export interface OutcomeThresholds {
  /** Relief (%) at or above which a block is positive (the common sympathetic-block cut-off: ≥ 50 %). */
  positiveReliefPercent: number;
  /** Relief (%) at or above which a block is partial rather than negative (block-outcome CodeSystem: 20 %). */
  partialReliefPercent: number;
  /** Temperature rise (°C) on the blocked side at or above which sympathetic blockade is confirmed (lumbar: ≥ 2 °C). */
  temperatureRiseCelsius: number;
  /** Stellate blocks: blocked-minus-other-side difference (°C) above which blockade is confirmed (> 1.5 °C). */
  stellateSideDifferenceCelsius: number;
}

export const DEFAULT_OUTCOME_THRESHOLDS: Readonly<OutcomeThresholds> = Object.freeze({
  positiveReliefPercent: 50,
  partialReliefPercent: 20,
  temperatureRiseCelsius: 2,
  stellateSideDifferenceCelsius: 1.5,
});

const VARIABLES: Record<keyof OutcomeThresholds, string> = {
  positiveReliefPercent: 'FHIR_OUTCOME_POSITIVE_RELIEF_PERCENT',
  partialReliefPercent: 'FHIR_OUTCOME_PARTIAL_RELIEF_PERCENT',
  temperatureRiseCelsius: 'FHIR_OUTCOME_TEMPERATURE_RISE_CELSIUS',
  stellateSideDifferenceCelsius: 'FHIR_OUTCOME_STELLATE_DIFFERENCE_CELSIUS',
};

/** Reads the thresholds; a malformed or inconsistent value is an error at start-up, not a silent default. */
export function loadOutcomeThresholds(env: NodeJS.ProcessEnv = process.env): OutcomeThresholds {
  const out = { ...DEFAULT_OUTCOME_THRESHOLDS };
  for (const key of Object.keys(VARIABLES) as (keyof OutcomeThresholds)[]) {
    const text = env[VARIABLES[key]];
    if (text === undefined || text === '') {
      continue;
    }
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0 || (key.endsWith('Percent') && value > 100)) {
      throw new Error(`${VARIABLES[key]} must be a non-negative number${key.endsWith('Percent') ? ' up to 100' : ''}, got '${text}'`);
    }
    out[key] = value;
  }
  if (out.partialReliefPercent > out.positiveReliefPercent) {
    throw new Error('FHIR_OUTCOME_PARTIAL_RELIEF_PERCENT cannot be above FHIR_OUTCOME_POSITIVE_RELIEF_PERCENT');
  }
  return out;
}

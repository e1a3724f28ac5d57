/** Codes and canonical URLs the outcome engine reads and writes (the profiles in profiles/ define most of them). */

export const LOCAL_CS = 'http://sympathetic-block-fhir.org/fhir/CodeSystem';
const SD = 'http://sympathetic-block-fhir.org/fhir/StructureDefinition';
export const UCUM = 'http://unitsofmeasure.org';
export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const CPT = 'http://www.ama-assn.org/go/cpt';

export const OUTCOME_CS = `${LOCAL_CS}/block-outcome`;
export const TIMING_CS = `${LOCAL_CS}/block-timing`;
export const PRE_BLOCK = 'pre-block';

export const PAIN_SCORE_CODE = '72514-3';
export const SKIN_TEMPERATURE_CODE = '61008-9';

export const PROFILE = {
  percentRelief: `${SD}/block-percent-relief`,
  diagnosticResponse: `${SD}/block-diagnostic-response`,
  injectate: `${SD}/block-injectate`,
  targetLevel: `${SD}/block-target-level`,
  guidance: `${SD}/block-guidance`,
  contrast: `${SD}/block-contrast`,
} as const;

/**
 * Not (yet) in the profile package: the tag that marks server-derived Observations, and the
 * component codes of the temperature reading. The package has no CodeSystem for them, and adding a
 * file to profiles/ changes its generated index, so they are documented in docs/OUTCOMES.md as a gap.
 */
export const DERIVATION_CS = `${LOCAL_CS}/block-derivation`;
export const DERIVED_TAG = { system: DERIVATION_CS, code: 'derived', display: 'Derived by the server from entered observations' };
export const TEMPERATURE_RISE_CODE = 'temperature-rise';
export const BLOCKADE_CODE = 'sympathetic-blockade';
export const SIDE_DIFFERENCE_CODE = 'side-temperature-difference';

/** SNOMED CT laterality codes (qualifier values and the R4 body-site laterality set) → side. */
export const LATERALITY: Record<string, 'left' | 'right' | 'bilateral'> = {
  '7771000': 'left',
  '419161000': 'left',
  '24028007': 'right',
  '419465000': 'right',
  '51440002': 'bilateral',
};

/** Stellate ganglion blocks are judged also by the side-to-side hand temperature difference (Schürmann 2001). */
export function isStellate(coding: { system?: string; code?: string }[] | undefined): boolean {
  return (coding ?? []).some(
    (c) => (c.system === CPT && c.code === '64510') || (c.system === `${LOCAL_CS}/block-type` && c.code === 'stellate-ganglion'),
  );
}

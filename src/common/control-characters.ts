/* eslint-disable no-control-regex -- finding control characters is the point of these patterns */

/** Code points below 32 other than tab, LF and CR: not allowed in FHIR strings (datatypes.html#string). */
const DISALLOWED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const ANY_CONTROL = /[\u0000-\u001f]/g;

export function hasControlCharacters(value: string): boolean {
  return DISALLOWED.test(value);
}

/** For echoing client input in a message: control characters become `?`. */
export function printable(value: string): string {
  return value.replace(ANY_CONTROL, '?');
}

/** Index rows extracted from one resource version, one array per index table. */
export interface IndexRows {
  token: TokenRow[];
  string: StringRow[];
  reference: ReferenceRow[];
  date: DateRow[];
  number: NumberRow[];
}

export interface TokenRow {
  param: string;
  system: string | null;
  value: string | null;
  /** Normalised display / text, for `:text`. */
  text: string | null;
}

export interface StringRow {
  param: string;
  /** Normalised (lower case, no accents) for the default starts-with and `:contains`. */
  value: string;
  /** As written, for `:exact`. */
  exact: string;
}

export interface ReferenceRow {
  param: string;
  target_type: string | null;
  target_id: string | null;
  /** Absolute or canonical URL when the reference does not point at this server. */
  target_url: string | null;
}

export interface DateRow {
  param: string;
  /** Inclusive bounds of the value's range, ISO-8601 UTC with milliseconds. */
  low: string;
  high: string;
}

export interface NumberRow {
  param: string;
  value: number;
  /** Range implied by the value's precision, for `eq`. */
  low: number;
  high: number;
  system: string | null;
  unit: string | null;
}

export const INDEX_TABLES = {
  token: 'search_token',
  string: 'search_string',
  reference: 'search_reference',
  date: 'search_date',
  number: 'search_number',
} as const;

export type IndexKind = keyof typeof INDEX_TABLES;

export function emptyRows(): IndexRows {
  return { token: [], string: [], reference: [], date: [], number: [] };
}

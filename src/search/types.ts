import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { DateRange } from '../common/date-range';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/** Where a parameter's values live: an index table, or a column of the resource table. */
export type ValueKind = 'token' | 'string' | 'reference' | 'date' | 'number' | 'id' | 'lastUpdated';

export interface TokenValue {
  /** undefined: any system; null: no system (`|code`). */
  system?: string | null;
  /** undefined: any code in the system (`system|`). */
  code?: string;
}

export interface ReferenceValue {
  type?: string;
  id?: string;
  url?: string;
}

export interface NumberValue {
  prefix: Prefix;
  value: number;
  low: number;
  high: number;
  system?: string;
  unit?: string;
}

export interface DateValue {
  prefix: Prefix;
  range: DateRange;
}

export type SearchValue =
  | { kind: 'token'; token: TokenValue }
  | { kind: 'text'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'reference'; reference: ReferenceValue }
  | { kind: 'date'; date: DateValue }
  | { kind: 'number'; number: NumberValue };

export type Modifier = 'not' | 'missing' | 'exact' | 'contains' | 'text';

/** One parameter occurrence: its values are OR-ed; conditions of a plan are AND-ed. */
export interface Condition {
  param: string;
  kind: ValueKind;
  modifier?: Modifier;
  /** For `:missing`. */
  missing?: boolean;
  values: SearchValue[];
  /** `subject:Patient.identifier=…`: this condition's reference must point at a resource matching `chain`. */
  chain?: { targetTypes: string[]; condition: Condition };
}

export interface SortKey {
  param: string;
  kind: ValueKind;
  descending: boolean;
}

export interface IncludeSpec {
  /** The type that holds the reference parameter. */
  sourceType: string;
  param: string;
  targetType?: string;
  iterate: boolean;
}

export interface Cursor {
  /** Sort key values, then id, of the row the page continues after (or before). */
  keys: (string | number | null)[];
  direction: 'next' | 'prev';
}

export interface SearchPlan {
  resourceType: string;
  conditions: Condition[];
  sort: SortKey[];
  count: number;
  cursor?: Cursor;
  total: 'none' | 'estimate' | 'accurate';
  summary?: 'true' | 'false' | 'text' | 'data' | 'count';
  elements?: string[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** Ignored parameters, reported in the Bundle (or a 400 under `Prefer: handling=strict`). */
  warnings: OperationOutcomeIssue[];
}

/** A page of matches as the store returns it. */
export interface SearchPage {
  rows: { resourceType: string; id: string; json: string; sortKeys: (string | number | null)[] }[];
  hasMore: boolean;
  total?: number;
}

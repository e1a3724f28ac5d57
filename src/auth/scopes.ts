/**
 * SMART scopes (App Launch 2.x, v1 and v2 syntax) and what each interaction needs.
 *
 *   system/Observation.read   v1: read = r+s, write = c+u+d, * = all
 *   system/*.rs               v2: any non-empty subsequence of c r u d s, in that order
 *   user/…                    accepted like system/ (a backend client has no user; registration decides)
 *   patient/…                 never granted: backend services have no patient context
 *
 * v2 scopes with query constraints (`system/Observation.rs?category=…`) are not understood and
 * therefore never granted: granting them without the constraint would give more than was asked.
 * The wildcard `*` covers every type except AuditEvent, which must be named: the audit trail is
 * separate from the clinical data a data team reads.
 */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ScopeGrant {
  context: 'system' | 'user' | 'patient';
  /** A resource type, or `*`. */
  type: string;
  perms: ReadonlySet<Permission>;
}

const SCOPE = /^(system|user|patient)\/(\*|[A-Z][A-Za-z]{0,63})\.(read|write|\*|c?r?u?d?s?)$/;
const ALL: Permission[] = ['c', 'r', 'u', 'd', 's'];
/** Types the wildcard does not reach. */
const NAMED_ONLY = new Set(['AuditEvent']);

export function parseScope(scope: string): ScopeGrant | undefined {
  const m = SCOPE.exec(scope);
  if (!m || m[3] === '') {
    return undefined;
  }
  const [, context, type, access] = m;
  const perms: Permission[] =
    access === 'read' ? ['r', 's'] : access === 'write' ? ['c', 'u', 'd'] : access === '*' ? ALL : ([...access] as Permission[]);
  return { context: context as ScopeGrant['context'], type, perms: new Set(perms) };
}

/** The permissions a set of granted scopes gives, ready for per-request checks. */
export class Grants {
  private readonly grants: ScopeGrant[];

  constructor(scopes: readonly string[]) {
    this.grants = scopes.map(parseScope).filter((g): g is ScopeGrant => g !== undefined && g.context !== 'patient');
  }

  allows(type: string, perm: Permission): boolean {
    return this.grants.some(
      (g) => g.perms.has(perm) && (g.type === type || (g.type === '*' && !NAMED_ONLY.has(type))),
    );
  }

  /** True when every permission the scope asks for is covered by these grants. */
  covers(scope: ScopeGrant): boolean {
    if (scope.context === 'patient') {
      return false;
    }
    if (scope.type === '*') {
      // A wildcard request needs a wildcard grant for each permission.
      return [...scope.perms].every((p) => this.grants.some((g) => g.type === '*' && g.perms.has(p)));
    }
    return [...scope.perms].every((p) => this.allows(scope.type, p));
  }
}

/**
 * The scopes to grant: each requested scope that the client's registered scopes cover, as asked.
 * Others (unknown, patient/, query-constrained, not registered) are dropped, as RFC 6749 §3.3 allows.
 */
export function grantScopes(requested: readonly string[], registered: readonly string[]): string[] {
  const allowed = new Grants(registered);
  const granted: string[] = [];
  for (const scope of requested) {
    const parsed = parseScope(scope);
    if (parsed && allowed.covers(parsed) && !granted.includes(scope)) {
      granted.push(scope);
    }
  }
  return granted;
}

/** Scopes split the OAuth way: space-separated, no empty entries. */
export function splitScopes(scope: string): string[] {
  return scope.split(' ').filter((s) => s !== '');
}

const cache = new Map<string, Grants>();

/** Grants for a token's scope list, parsed once per distinct list (there are few). */
export function grantsFor(scopes: readonly string[]): Grants {
  const key = scopes.join(' ');
  let grants = cache.get(key);
  if (!grants) {
    if (cache.size > 1000) {
      cache.clear();
    }
    grants = new Grants(scopes);
    cache.set(key, grants);
  }
  return grants;
}

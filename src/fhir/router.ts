import { printable } from '../common/control-characters';
import { fail, notSupported } from '../common/errors';
import { ID_PATTERN } from '../validation/pipeline';
import { isSupportedResourceType } from './resource-types';
import type { FhirContext, FhirHandler, FhirRequest, FhirResponse, HttpMethod, Interaction } from './types';

export interface Route {
  method: HttpMethod;
  /** Segments below the base: literals, or `:name` parameters. `:type` is checked against supported types. */
  pattern: string;
  /** The CapabilityStatement interaction this route implements: the statement is built from routes. */
  interaction: Interaction;
  /** A FHIR operation (`validate` for `$validate`): listed under `operation`, not as an interaction. */
  operation?: string;
  handler: FhirHandler;
}

interface Match {
  route: Route;
  params: Record<string, string>;
}

/**
 * Maps method + path to a handler, knowing nothing of HTTP. Routes are tried in the order added,
 * so literal segments (`_history`) must be added before parameters (`:id`) that would swallow them.
 */
export class FhirRouter {
  private readonly routes: Route[] = [];

  add(route: Route): this {
    this.routes.push(route);
    return this;
  }

  list(): readonly Route[] {
    return this.routes;
  }

  async handle(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
    // The guard (scopes, audit) wraps every call, so bundle entries replayed through here are checked too.
    return ctx.guard ? ctx.guard.run(req, (onMatch) => this.dispatch(req, ctx, onMatch)) : this.dispatch(req, ctx);
  }

  private async dispatch(
    req: FhirRequest,
    ctx: FhirContext,
    onMatch?: (interaction: Interaction, matched: FhirRequest) => void,
  ): Promise<FhirResponse> {
    const segments = req.path === '' ? [] : req.path.split('/');
    const candidates = this.routes
      .map((route) => ({ route, params: matchSegments(route.pattern, segments) }))
      .filter((m): m is Match => m.params !== undefined);
    const match = candidates.find((m) => m.route.method === req.method);
    const unsupported = (match ? [match] : candidates).find(
      (m) => m.params.type !== undefined && !isSupportedResourceType(m.params.type),
    );
    if (unsupported) {
      throw notSupported(`Resource type '${unsupported.params.type}' is not supported by this server`);
    }
    if (!match) {
      if (candidates.length > 0) {
        const allowed = [...new Set(candidates.map((m) => m.route.method))].join(', ');
        throw fail(405, 'not-supported', `${req.method} is not supported on /${req.path} (allowed: ${allowed})`);
      }
      throw fail(404, 'not-found', `No FHIR interaction at /${req.path}`);
    }
    checkIds(req.method, match.params);
    const matched = { ...req, params: match.params };
    onMatch?.(match.route.interaction, matched);
    return match.route.handler(matched, ctx);
  }
}

/**
 * An id or version outside FHIR's id syntax can name nothing stored here: answer without touching
 * the database (PostgreSQL refuses some of them, e.g. NUL, in text at all).
 */
function checkIds(method: HttpMethod, params: Record<string, string>): void {
  for (const name of ['id', 'vid'] as const) {
    const value = params[name];
    if (value !== undefined && !ID_PATTERN.test(value)) {
      const shown = printable(value.slice(0, 64));
      throw method === 'GET'
        ? fail(404, 'not-found', `No resource has the ${name} '${shown}': ids are 1-64 of A-Z a-z 0-9 - .`)
        : fail(400, 'invalid', `'${shown}' is not a valid resource ${name}: ids are 1-64 of A-Z a-z 0-9 - .`);
    }
  }
}

function matchSegments(pattern: string, segments: string[]): Record<string, string> | undefined {
  const parts = pattern === '' ? [] : pattern.split('/');
  if (parts.length !== segments.length) {
    return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    if (parts[i].startsWith(':')) {
      if (segments[i] === '' || segments[i].startsWith('_') || segments[i].startsWith('$')) {
        return undefined;
      }
      params[parts[i].slice(1)] = decodeURIComponentSafe(segments[i]);
    } else if (parts[i] !== segments[i]) {
      return undefined;
    }
  }
  return params;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw fail(400, 'invalid', `Malformed percent-encoding in path segment '${s}'`);
  }
}

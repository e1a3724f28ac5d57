import { fail, notSupported } from '../common/errors';
import { isSupportedResourceType } from './resource-types';
import type { FhirContext, FhirHandler, FhirRequest, FhirResponse, HttpMethod, Interaction } from './types';

export interface Route {
  method: HttpMethod;
  /** Segments below the base: literals, or `:name` parameters. `:type` is checked against supported types. */
  pattern: string;
  /** The CapabilityStatement interaction this route implements: the statement is built from routes. */
  interaction: Interaction;
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
    return match.route.handler({ ...req, params: match.params }, ctx);
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

// CORS as ingress-nginx writes it into a location: an allowed Origin gets the
// Access-Control-* headers on every response of the location (the backend's and the proxy's own),
// with the Origin echoed (or `*` when any origin is allowed); an allowed OPTIONS preflight is
// answered 204 by the proxy itself.
import type { CorsPolicy } from './route-spec.ts';
import { replaceHeader, type Answer, type Exchange, type RequestStage, type ResponseStage } from './pipeline.ts';

const STATUS_NO_CONTENT = 204;

/**
 * The origin that goes into Access-Control-Allow-Origin for this request, or null when it gets
 * no CORS headers. As ingress-nginx: `*` allows every request (Origin or not) and answers `*`; a
 * listed origin is matched case-insensitively, a `*` in it standing for one DNS label, and echoed
 * as the client sent it. Unlike nginx's regex, the match is anchored at the start too.
 */
export function corsOriginMatcher(origins: readonly string[]): (origin: string | undefined) => string | null {
  if (origins.length === 1 && origins[0] === '*') return () => '*';
  const alternatives = origins.map((origin) => origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\*', '[A-Za-z0-9-]+'));
  const pattern = new RegExp(`^(?:${alternatives.join('|')})$`, 'i');
  return (origin) => (origin !== undefined && pattern.test(origin) ? origin : null);
}

/** The Access-Control-* headers for an allowed origin, as ingress-nginx's more_set_headers lines. */
function corsHeaders(policy: CorsPolicy, allowOrigin: string): string[] {
  return [
    'access-control-allow-origin', allowOrigin,
    ...(policy.credentials ? ['access-control-allow-credentials', 'true'] : []),
    'access-control-allow-methods', policy.methods,
    'access-control-allow-headers', policy.headers,
    ...(policy.exposeHeaders ? ['access-control-expose-headers', policy.exposeHeaders] : []),
    'access-control-max-age', String(policy.maxAge),
  ];
}

function originOf(exchange: Exchange): string | undefined {
  const origin = exchange.clientHeaders.origin;
  return Array.isArray(origin) ? origin[0] : origin;
}

export function corsStages(policy: CorsPolicy): { readonly preflight: RequestStage; readonly headers: ResponseStage } {
  const allowed = corsOriginMatcher(policy.origins);
  const preflight: RequestStage = (exchange) => {
    if (exchange.upstream.method !== 'OPTIONS') return null;
    const origin = allowed(originOf(exchange));
    if (origin === null) return null;
    const answer: Answer = { status: STATUS_NO_CONTENT, contentType: 'text/plain charset=UTF-8', headers: corsHeaders(policy, origin), body: '' };
    return answer;
  };
  const headers: ResponseStage = (exchange, _status, list) => {
    const origin = allowed(originOf(exchange));
    if (origin === null) return;
    const added = corsHeaders(policy, origin);
    for (let i = 0; i < added.length; i += 2) replaceHeader(list, added[i] as string, added[i + 1] as string);
  };
  return { preflight, headers };
}

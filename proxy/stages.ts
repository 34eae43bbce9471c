// What a location's policy compiles to: its request stages, in the order ingress-nginx's location
// runs the same behaviour, and its response stages. nginx's rewrite module runs first (app-root's
// `if ($uri = /)`, the CORS preflight's `return 204`, the `return` of permanent/temporal-redirect,
// then `rewrite ... break`), then the https redirect, done in Lua at the end of the same phase,
// then the access phase (allow/deny). A location without policy compiles to nothing.
import type { LocationPolicy, RateLimitPolicy, RedirectPolicy, RewritePolicy, RouteSpec } from './route-spec.ts';
import { RequestRateLimit, withinLimits } from './rate-limit.ts';
import type { CompiledStages, StageCompiler, TableSettings, TargetPolicy } from './route-table.ts';
import { NO_RESPONSE_STAGES, forwardedValue, statusAnswer, type Answer, type Exchange, type RequestStage, type ResponseStage } from './pipeline.ts';
import { corsStages } from './cors.ts';
import { basicAuthStage } from './basic-auth.ts';
import { authCookieStage, externalAuthCheck, type AuthEnvironment } from './external-auth.ts';
import { ConnectionLimit, connectionLimitStage } from './connection-limit.ts';
import { compileCapturePattern } from './path-regex.ts';
import { affinityCookieStage } from './balancing.ts';
import { normalizeRewrittenPath } from './request-path.ts';
import { blockListOf, listed } from './source-ranges.ts';
import { STATUS_FORBIDDEN, STATUS_UNAVAILABLE } from './errors.ts';

const STATUS_FOUND = 302;

/** What the stages need from the server that runs them. */
export interface StageEnvironment {
  /** False when Pier has no HTTPS port: then nothing is redirected to https. */
  readonly httpsEnabled: boolean;
  /** `:port` in https redirects when the HTTPS port isn't 443; known once the port is bound. */
  readonly redirectPortSuffix: () => string;
  /** Rate-limit state by zone, kept across swaps (a swap doesn't give every client a fresh allowance). */
  readonly rateLimits: Map<string, readonly RequestRateLimit[]>;
  /** limit-connections state by zone, kept across swaps (requests in progress stay counted). */
  readonly connectionLimits: Map<string, ConnectionLimit>;
  /** What auth-url's sub-request is sent with; absent where nothing is sent (route-engine tables). */
  readonly auth?: AuthEnvironment;
}

export function stageCompiler(environment: StageEnvironment): StageCompiler {
  return (target: TargetPolicy, settings: TableSettings): CompiledStages => {
    const { policy, route } = target;
    const request: RequestStage[] = [];
    const response: ResponseStage[] = [];
    // A location whose guard is invalid answers 503 and nothing else (ingress-nginx's denied location).
    if (policy.closed !== undefined) return { request: [() => statusAnswer(STATUS_UNAVAILABLE)], response: NO_RESPONSE_STAGES, externalAuth: null };
    if (policy.appRoot !== undefined) request.push(appRootStage(policy.appRoot));
    if (policy.cors !== undefined) {
      const cors = corsStages(policy.cors);
      request.push(cors.preflight);
      response.push(cors.headers);
    }
    if (policy.redirect !== undefined) request.push(redirectStage(policy.redirect));
    if (policy.rewrite !== undefined) request.push(rewriteStage(policy.rewrite));
    if (policy.upstreamVhost !== undefined) request.push(upstreamVhostStage(policy.upstreamVhost));
    if (policy.httpsRedirect && environment.httpsEnabled && !isRedirectExempt(settings, route)) {
      request.push(httpsRedirectStage(policy, settings, environment));
    }
    // nginx's limit_req runs in the preaccess phase, then allow/deny and auth in the access phase.
    // ingress-nginx applies limit-connections, then limit-rpm and limit-rps.
    if (policy.connectionLimit !== undefined) request.push(connectionLimitStage(policy.connectionLimit, environment.connectionLimits));
    if (policy.rateLimit !== undefined) request.push(rateLimitStage(policy.rateLimit, environment.rateLimits));
    if (policy.sourceRanges !== undefined) request.push(sourceRangeStage(policy.sourceRanges));
    if (policy.basicAuth !== undefined) request.push(basicAuthStage(policy.basicAuth));
    // auth-url's sub-request is asynchronous: the server runs it after these stages (external-auth.ts).
    if (policy.externalAuth !== undefined) response.push(authCookieStage(policy.externalAuth.alwaysSetCookie));
    if (policy.affinity !== undefined || policy.canary?.affinity !== undefined) response.push(affinityCookieStage);
    const externalAuth = policy.externalAuth !== undefined && environment.auth !== undefined ? externalAuthCheck(policy.externalAuth, environment.auth) : null;
    return { request, response: response.length === 0 ? NO_RESPONSE_STAGES : response, externalAuth };
  };
}

function redirectTo(status: number, location: string): Answer {
  return statusAnswer(status, ['location', location]);
}

/** app-root: `/` (and only `/`) gets a 302 to `$scheme://$http_host<app-root>`. */
function appRootStage(appRoot: string): RequestStage {
  return (exchange) => (exchange.path === '/' ? redirectTo(STATUS_FOUND, `${exchange.secure ? 'https' : 'http'}://${exchange.requested.host ?? ''}${appRoot}`) : null);
}

/** permanent-redirect / temporal-redirect: every request of the location gets the same answer. */
function redirectStage(redirect: RedirectPolicy): RequestStage {
  return () => redirectTo(redirect.code, redirect.url);
}

/** A rewrite target split into literal text and group numbers (`$1`..`$9`, one digit, as nginx reads them). */
function parseRewriteTarget(target: string): readonly (string | number)[] {
  const parts: (string | number)[] = [];
  let literal = '';
  for (let i = 0; i < target.length; i++) {
    const digit = target.charCodeAt(i + 1) - 0x30;
    if (target[i] === '$' && digit >= 1 && digit <= 9) {
      if (literal) parts.push(literal);
      literal = '';
      parts.push(digit);
      i++;
    } else {
      literal += target[i];
    }
  }
  if (literal) parts.push(literal);
  return parts;
}

/**
 * rewrite-target: when the route's pattern matches the normalized path, the upstream path becomes
 * the target with the groups filled in, dot segments resolved, the query kept. A target that is an
 * http(s) URL is a 302 instead, as nginx's rewrite turns it into one. X-Forwarded-Prefix goes
 * with every request of a rewriting location, as ingress-nginx's proxy_set_header.
 */
function rewriteStage(rewrite: RewritePolicy): RequestStage {
  const compiled = compileCapturePattern(rewrite.pattern);
  // The operator checked the pattern; a table that still carries a bad one rewrites nothing.
  if (!compiled.ok) return () => null;
  const parts = parseRewriteTarget(rewrite.target);
  const redirects = /^https?:\/\//i.test(rewrite.target);
  const prefixHeader = rewrite.forwardedPrefix === undefined ? null : ['x-forwarded-prefix', rewrite.forwardedPrefix];
  return (exchange) => {
    if (prefixHeader) exchange.upstream.setHeaders = [...exchange.upstream.setHeaders, ...prefixHeader];
    const groups = compiled.pattern.capture(exchange.path);
    if (groups === null) return null;
    let rewritten = '';
    for (const part of parts) rewritten += typeof part === 'number' ? (groups[part] ?? '') : part;
    const url = exchange.upstream.url;
    const queryAt = url.indexOf('?');
    const query = queryAt === -1 ? '' : url.slice(queryAt);
    if (redirects) return redirectTo(STATUS_FOUND, rewritten + query);
    exchange.upstream.url = normalizeRewrittenPath(rewritten) + query;
    return null;
  };
}

/**
 * denylist-source-range, then allowlist-source-range, as nginx's `deny ...; allow ...; deny all;`:
 * a client in the denylist, or outside a non-empty allowlist, gets 403.
 */
function sourceRangeStage(ranges: NonNullable<LocationPolicy['sourceRanges']>): RequestStage {
  const deny = ranges.deny && ranges.deny.length > 0 ? blockListOf(ranges.deny) : null;
  const allow = ranges.allow && ranges.allow.length > 0 ? blockListOf(ranges.allow) : null;
  return (exchange) => {
    if (deny && listed(deny, exchange.clientAddress)) return statusAnswer(STATUS_FORBIDDEN);
    if (allow && !listed(allow, exchange.clientAddress)) return statusAnswer(STATUS_FORBIDDEN);
    return null;
  };
}

/** limit-rps / limit-rpm: the zone's limits, made once and kept while its settings stay the same. */
function rateLimitStage(policy: RateLimitPolicy, zones: Map<string, readonly RequestRateLimit[]>): RequestStage {
  const key = `${policy.zone}|${policy.rps}/${policy.rpsBurst}|${policy.rpm}/${policy.rpmBurst}`;
  let limits = zones.get(key);
  if (limits === undefined) {
    limits = [...(policy.rps > 0 ? [new RequestRateLimit(policy.rps, policy.rpsBurst)] : []), ...(policy.rpm > 0 ? [new RequestRateLimit(policy.rpm / 60, policy.rpmBurst)] : [])];
    zones.set(key, limits);
  }
  const allowlist = policy.allowlist.length > 0 ? blockListOf(policy.allowlist) : null;
  const zoneLimits = limits;
  return (exchange) => (withinLimits(zoneLimits, allowlist, exchange.clientAddress, performance.now()) ? null : statusAnswer(policy.status));
}

/** upstream-vhost: the Host header the backend gets. */
function upstreamVhostStage(vhost: string): RequestStage {
  return (exchange) => {
    exchange.upstream.host = vhost;
    return null;
  };
}

/** no-tls-redirect-locations: as ingress-nginx, a location is exempt by the path its Ingress wrote (a default backend's is `/`). */
function isRedirectExempt(settings: TableSettings, route: RouteSpec | null): boolean {
  const path = route?.path ?? '/';
  return settings.https.noRedirectPrefixes.some((prefix) => path.startsWith(prefix));
}

/**
 * ssl-redirect / force-ssl-redirect: plain-HTTP requests get `https://host[:port]<request URI>`,
 * its trailing `/` dropped unless preserve-trailing-slash. With use-forwarded-headers, the
 * client's X-Forwarded-Proto says whether it was HTTPS and X-Forwarded-Host names the host.
 */
function httpsRedirectStage(policy: LocationPolicy, settings: TableSettings, environment: StageEnvironment): RequestStage {
  const { redirectCode } = settings.https;
  const trusted = settings.useForwardedHeaders;
  const keepSlash = policy.preserveTrailingSlash ?? false;
  return (exchange: Exchange) => {
    const proto = trusted ? forwardedValue(exchange, 'x-forwarded-proto') : undefined;
    if (proto !== undefined ? proto.toLowerCase() !== 'http' : exchange.secure) return null;
    const forwardedHost = trusted ? forwardedValue(exchange, 'x-forwarded-host') : undefined;
    const host = forwardedHost ? withoutPort(forwardedHost) : exchange.host;
    let uri = exchange.requested.url;
    if (!keepSlash && uri.endsWith('/')) uri = uri.slice(0, -1);
    return redirectTo(redirectCode, `https://${host}${environment.redirectPortSuffix()}${uri}`);
  };
}

/** A host without its `:port`, as ingress-nginx's redirect_host (which splits at the first `:`). */
function withoutPort(host: string): string {
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

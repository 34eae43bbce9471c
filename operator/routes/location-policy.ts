// One location's policy (proxy/route-spec.ts LocationPolicy) from its Ingress's annotations and the
// controller ConfigMap. Pure. Only what differs from ingress-nginx's defaults is written, so a
// route without annotations carries no policy and the data plane compiles no stage for it.
import type { IngressAnnotations } from '../annotations/registry.ts';
import type { AffinityPolicy, BasicAuthPolicy, LocationPolicy } from '../../proxy/route-spec.ts';
import { definedOnly, withNonIdempotent, type CidrListSetting, type ControllerSettings } from './https-settings.ts';

export interface LocationInput {
  readonly annotations: IngressAnnotations;
  readonly settings: ControllerSettings;
  /** The path as the Ingress wrote it, or null for an Ingress's default backend. */
  readonly path: string | null;
  /** Whether the location redirects plain HTTP to https (ssl-redirect needs the host's TLS; see redirectsToHttps). */
  readonly httpsRedirect: boolean;
  /** The error backend's upstream id for custom-http-errors, or null for the built-in 404; asked only when there are codes. */
  readonly errorBackend: () => string | null;
  /** The Ingress's basic auth, or why its locations are closed. */
  readonly guard: LocationGuard;
  /** `namespace/name` of the Ingress: its locations share one rate-limit zone. */
  readonly zone: string;
}

export interface LocationGuard {
  readonly basicAuth?: BasicAuthPolicy;
  /** auth-proxy-set-headers: its ConfigMap's headers, flat name/value. */
  readonly authProxySetHeaders?: readonly string[];
  readonly closed?: string;
}

/** True when this location rewrites: a target is set and differs from the path, as ingress-nginx's needsRewrite. */
export function rewrites(annotations: IngressAnnotations, path: string): boolean {
  const { target } = annotations.rewrite;
  return target !== undefined && target !== path;
}

export function locationPolicy(input: LocationInput): LocationPolicy {
  const { annotations, settings, path } = input;
  const policy: { -readonly [K in keyof LocationPolicy]: LocationPolicy[K] } = {};
  if (input.httpsRedirect) {
    policy.httpsRedirect = true;
    if (annotations.tlsRedirect.preserveTrailingSlash) policy.preserveTrailingSlash = true;
  }
  if (annotations.backendProtocol.protocol !== 'HTTP') policy.protocol = annotations.backendProtocol.protocol;
  if (path !== null && rewrites(annotations, path)) {
    const { target, forwardedPrefix } = annotations.rewrite;
    policy.rewrite = { pattern: path, target: target as string, ...(forwardedPrefix !== undefined ? { forwardedPrefix } : {}) };
  }
  if (path !== null && annotations.rewrite.appRoot !== undefined) policy.appRoot = annotations.rewrite.appRoot;
  if (annotations.redirect.redirect) policy.redirect = annotations.redirect.redirect;
  const bodySizeLimit = annotations.bodySize.limit;
  if (bodySizeLimit !== undefined && bodySizeLimit !== settings.bodySizeLimit) policy.bodySizeLimit = bodySizeLimit;
  if (annotations.upstreamVhost.host !== undefined) policy.upstreamVhost = annotations.upstreamVhost.host;
  const { connectMs, readMs, sendMs, nextUpstream, nextUpstreamTries, nextUpstreamTimeoutMs } = annotations.timeouts;
  const timeouts = definedOnly({ connectMs, readMs, sendMs });
  if (Object.keys(timeouts).length > 0) policy.timeouts = timeouts;
  if (nextUpstream !== undefined || nextUpstreamTries !== undefined || nextUpstreamTimeoutMs !== undefined) {
    const table = settings.nextUpstream;
    const conditions = nextUpstream ?? table.conditions.filter((condition) => condition !== 'non_idempotent');
    policy.nextUpstream = withNonIdempotent({ conditions, tries: nextUpstreamTries ?? table.tries, timeoutMs: nextUpstreamTimeoutMs ?? table.timeoutMs }, settings.retryNonIdempotent);
  }
  Object.assign(policy, sourceRangePolicy(annotations, settings));
  if (input.guard.basicAuth) policy.basicAuth = input.guard.basicAuth;
  if (input.guard.closed !== undefined) policy.closed = policy.closed === undefined ? input.guard.closed : `${policy.closed}; ${input.guard.closed}`;
  const limits = annotations.rateLimits;
  if (limits.rps > 0 || limits.rpm > 0) {
    const burst = limits.burstMultiplier;
    policy.rateLimit = { zone: input.zone, rps: limits.rps, rpsBurst: limits.rps * burst, rpm: limits.rpm, rpmBurst: limits.rpm * burst, allowlist: limits.allowlist, status: settings.limitReqStatus };
  }
  if (limits.connections > 0) policy.connectionLimit = { zone: input.zone, connections: limits.connections, allowlist: limits.allowlist, status: settings.limitConnStatus };
  const auth = annotations.externalAuth;
  const close = (why: string): void => {
    policy.closed = policy.closed === undefined ? why : `${policy.closed}; ${why}`;
  };
  if (auth.invalidUrl) close('invalid auth-url');
  else if (auth.url !== undefined && auth.cacheDurations === undefined) close('invalid auth-cache-duration');
  else if (auth.url !== undefined) {
    policy.externalAuth = {
      url: auth.url,
      ...(auth.method !== undefined ? { method: auth.method } : {}),
      ...(auth.signin !== undefined ? { signin: auth.signin } : {}),
      signinRedirectParam: auth.signinRedirectParam,
      responseHeaders: auth.responseHeaders,
      ...(auth.requestRedirect !== undefined ? { requestRedirect: auth.requestRedirect } : {}),
      alwaysSetCookie: auth.alwaysSetCookie,
      ...(input.guard.authProxySetHeaders !== undefined ? { proxySetHeaders: input.guard.authProxySetHeaders } : {}),
      ...(auth.cacheKey !== undefined && auth.cacheDurations !== undefined ? { cache: { scope: `${input.zone} ${path ?? ''}`, key: auth.cacheKey, durations: auth.cacheDurations } } : {}),
    };
  }
  const affinity = affinityPolicy(annotations, path);
  if (affinity !== undefined) policy.affinity = affinity;
  const { hashBy, hashBySubset, subsetSize } = annotations.balancing;
  if (hashBy !== undefined) policy.hashBy = { key: hashBy, ...(hashBySubset ? { subsetSize } : {}) };
  if ((annotations.balancing.loadBalance ?? settings.loadBalance) === 'ewma') policy.loadBalance = 'ewma';
  const { enabled, ...cors } = annotations.cors;
  if (enabled) policy.cors = cors;
  const codes = annotations.errors.customHttpErrors ?? settings.customHttpErrors;
  if (codes.length > 0) policy.customErrors = { codes, upstream: input.errorBackend() };
  return policy;
}

/** affinity: cookie, with the cookie's path defaulting to the location's (ingress-nginx's $location_path; `/` for a default backend). */
export function affinityPolicy(annotations: IngressAnnotations, path: string | null): AffinityPolicy | undefined {
  const affinity = annotations.affinity;
  if (affinity.type !== 'cookie') return undefined;
  return {
    mode: affinity.mode,
    cookieName: affinity.cookieName,
    path: affinity.path ?? path ?? '/',
    ...definedOnly({ domain: affinity.domain, expiresSeconds: affinity.expiresSeconds, maxAgeSeconds: affinity.maxAgeSeconds, secure: affinity.secure, sameSite: affinity.sameSite }),
    ...(affinity.conditionalSameSiteNone ? { conditionalSameSiteNone: true } : {}),
    ...(affinity.changeOnFailure ? { changeOnFailure: true } : {}),
  };
}

/**
 * The location's allow and deny lists: its annotations', else the ConfigMap's. A list that is set
 * but invalid (annotation or ConfigMap) closes the location: it never falls back to allowing all.
 */
function sourceRangePolicy(annotations: IngressAnnotations, settings: ControllerSettings): Pick<LocationPolicy, 'sourceRanges' | 'closed'> {
  const own = annotations.sourceRanges;
  if (own.invalid.length > 0) return { closed: `invalid ${own.invalid.join(', ')} annotation` };
  const resolve = (list: readonly string[] | undefined, global: CidrListSetting): readonly string[] | string => list ?? ('cidrs' in global ? global.cidrs : `invalid ConfigMap ${global.invalid}`);
  const allow = resolve(own.allow, settings.sourceRanges.allow);
  const deny = resolve(own.deny, settings.sourceRanges.deny);
  if (typeof allow === 'string') return { closed: allow };
  if (typeof deny === 'string') return { closed: deny };
  if (allow.length === 0 && deny.length === 0) return {};
  return { sourceRanges: { ...(allow.length > 0 ? { allow } : {}), ...(deny.length > 0 ? { deny } : {}) } };
}

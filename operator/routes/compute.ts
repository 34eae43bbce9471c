// computeRoutes: Kubernetes objects in, route table, statuses and warnings out. Pure and
// deterministic: no clock, no I/O, and the same snapshot always gives the same result.
// It has two parts. The shared part reads what no Ingress owns: the IngressClasses, the controller
// ConfigMap's settings, the default certificate, --default-backend-service and the TCP/UDP
// services. A partition translates a set of Ingresses that can only affect each other (linked by
// hosts, see linkKeysOf): ownership, TLS, each Ingress (annotations, its default backend, its rules
// with their claims and conflicts), canaries, regex mode. `assemble` joins the shared part and the
// partitions into one sorted result. computeRoutes puts every Ingress in one partition; the
// incremental computation (incremental.ts) keeps one partition per linked set, recomputes only
// those a change touches, and must give the same result (a property test holds it to that).
import type { Ingress, IngressBackend } from '../model.ts';
import type { Snapshot } from '../store.ts';
import { AnnotationCache, type IngressAnnotations } from '../annotations/registry.ts';
import { firstPortOf, portRefOf, resolveServiceBackend } from './backends.ts';
import { indexClasses, ownership, type ClassIndex } from './ownership.ts';
import type {
  CertificateSpec,
  FallbackSpec,
  IngressStatus,
  MatchKind,
  ObjectRef,
  RouteComputation,
  RouteOptions,
  RouteSpec,
  RouteWarning,
  TlsFallback,
  TlsHostSpec,
  UpstreamSpec,
  VirtualHostSpec,
  WarningReason,
} from './types.ts';
import { checkHost, checkPath } from './validation.ts';
import { DEFAULT_BODY_SIZE_LIMIT, DEFAULT_NEXT_UPSTREAM, prefixKey, type CanaryPolicy, type HostRedirectSpec, type PassthroughSpec, type StreamSpec, DEFAULT_STREAM_TIMEOUT_MS, type LocationPolicy, type NextUpstreamPolicy } from '../../proxy/route-spec.ts';
import { compilePathRegex } from '../../proxy/path-regex.ts';
import { affinityPolicy, locationPolicy, rewrites, type LocationGuard } from './location-policy.ts';
import { resolveBasicAuth } from './basic-auth.ts';
import { resolveAuthProxySetHeaders } from './auth-proxy-headers.ts';
import { streamServices } from './streams.ts';
import { CertificateCache, earlier, hasTls, preferredCertificate, resolveDefaultCertificate, resolveTls, tlsHostsOf, type ResolvedTls } from './tls.ts';
import { controllerSettings, definedOnly, type ControllerSettings } from './https-settings.ts';
import { compareRefs, compareText, compareWarnings } from './compare.ts';
import { findSorted, withSorted } from './sorted-entries.ts';

const MATCH_RANK: Record<MatchKind, number> = { exact: 0, prefix: 1, regex: 2 };

interface VirtualHostDraft {
  readonly host: string;
  readonly routes: RouteSpec[];
  /** Which Ingress holds each (match, path), and the path as written, so the younger of two claimants can be warned. */
  readonly claims: Map<string, { readonly ingress: ObjectRef; readonly path: string }>;
  /** Paths that conflict only outside regex mode (Prefix `/a` beside `/a/`), with the warning they get then. */
  readonly pending: { readonly route: RouteSpec; readonly warning: RouteWarning }[];
  fallback: FallbackSpec | null;
  /** A use-regex or rewriting location is on this host: all its paths become regexes (ingress-nginx's enforceRegexModifier). */
  regexMode: boolean;
}

/** What every partition reads besides its own Ingresses: the same for all of one computation. */
export interface SharedInputs {
  readonly options: RouteOptions;
  readonly classes: ClassIndex;
  readonly settings: ControllerSettings;
  /** True when a served Ingress (of any partition) lists this name under spec.tls. */
  readonly isTlsHost: (name: string) => boolean;
  readonly annotationCache: AnnotationCache;
  readonly certificateCache: CertificateCache;
}

/** What the steps share: the inputs, and the output as it is built. */
interface Context {
  readonly snapshot: Snapshot;
  readonly shared: SharedInputs;
  readonly warnings: RouteWarning[];
  readonly upstreams: Map<string, UpstreamSpec>;
  readonly virtualHosts: Map<string, VirtualHostDraft>;
  /** The oldest spec.defaultBackend of the partition, which takes unknown hosts. */
  defaultBackend: FallbackSpec | null;
  /** from-to-www-redirect: each rule host of such an Ingress, with whoever asked first. */
  readonly wwwRedirects: Map<string, { readonly ingress: IngressContext }>;
  /** server-alias: each alias, the host it stands for and the Ingress that asked first. */
  readonly aliases: Map<string, { readonly host: string; readonly ingress: IngressContext }>;
  /** Canary Ingresses, oldest first: their paths attach to main routes once those are all known. */
  readonly canaries: IngressContext[];
  /** Ingresses with ssl-passthrough (and the flag on), oldest first. */
  readonly passthrough: IngressContext[];
}

/** One Ingress being translated: its identity, its annotations, and where its warnings go. */
interface IngressContext {
  readonly ingress: Ingress;
  readonly ref: ObjectRef;
  readonly annotations: IngressAnnotations;
  readonly warn: (reason: WarningReason, message: string) => void;
  /** Upstreams whose problem was already reported for this Ingress. */
  readonly reportedUpstreams: Set<string>;
  /** The Ingress-wide guards its locations carry: basic auth, or why they are closed. */
  readonly guard: LocationGuard;
}

/** Oldest first; ties broken by namespace, then name, as the semantics doc requires. */
function byAge(a: Ingress, b: Ingress): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** The length a route competes with: longest wins; Exact beats Prefix beats regex on a tie. */
function routeOrder(a: RouteSpec, b: RouteSpec): number {
  const la = a.match === 'prefix' ? prefixKey(a.path).length : a.path.length;
  const lb = b.match === 'prefix' ? prefixKey(b.path).length : b.path.length;
  if (la !== lb) return lb - la;
  if (a.match !== b.match) return MATCH_RANK[a.match] - MATCH_RANK[b.match];
  // Regexes of one length are tried in descending order of their text, as ingress-nginx sorts locations.
  const order = a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  return a.match === 'regex' ? -order : order;
}

function describeRef(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function refOf(ingress: Ingress): ObjectRef {
  return { namespace: ingress.metadata.namespace ?? '', name: ingress.metadata.name };
}

/** Step 1: the Ingresses Pier serves (oldest first), the ones it leaves alone, and a warning for a missing class of ours. */
function partitionByOwnership(ingresses: Iterable<Ingress>, shared: SharedInputs, warnings: RouteWarning[]): { served: Ingress[]; ignored: ObjectRef[] } {
  const served: Ingress[] = [];
  const ignored: ObjectRef[] = [];
  const { options } = shared;
  for (const ingress of ingresses) {
    const owner = ownership(ingress, shared.classes, options);
    if (owner.ours) {
      served.push(ingress);
      continue;
    }
    const ref = refOf(ingress);
    ignored.push(ref);
    if (owner.missingClass === options.ingressClass) {
      warnings.push({
        kind: 'Ingress',
        ...ref,
        reason: 'IngressClassNotFound',
        message: `IngressClass "${owner.missingClass}" does not exist, so this Ingress is not served; create it with spec.controller: ${options.controllerClass}`,
      });
    }
  }
  return { served: served.sort(byAge), ignored };
}

/** Step 2: certificates by host, for the partition's served Ingresses. */
function readTls(snapshot: Snapshot, shared: SharedInputs, served: readonly Ingress[], warnings: RouteWarning[]): ResolvedTls {
  return resolveTls({
    snapshot,
    served,
    now: shared.options.now,
    cache: shared.certificateCache,
    warn: (ingress, reason, message) => warnings.push({ kind: 'Ingress', ...ingress, reason, message }),
  });
}

/** The upstream id for a backend of this Ingress, or null (with a warning) when it can't be used. */
function upstreamFor(context: Context, ing: IngressContext, backend: IngressBackend, where: string): string | null {
  if (!backend.service) {
    const resource = backend.resource;
    ing.warn('UnsupportedBackend', `${where}: resource backends (${resource?.kind ?? 'unknown'} ${resource?.name ?? ''}) are not supported; ignored`);
    return null;
  }
  const resolved = resolveServiceBackend(context.snapshot, ing.ref.namespace, backend.service.name, portRefOf(backend.service), ing.annotations.serviceUpstream.serviceUpstream);
  context.upstreams.set(resolved.upstream.id, resolved.upstream);
  // default-backend: while the Service has no ready endpoints, its requests go to the annotation's Service.
  const fallback = resolved.upstream.endpoints.length === 0 ? annotatedDefaultBackend(context, ing) : null;
  if (resolved.problem && !ing.reportedUpstreams.has(resolved.upstream.id)) {
    ing.reportedUpstreams.add(resolved.upstream.id);
    const message = fallback ? resolved.problem.message.replace(/; requests answer 503$/, `; its requests go to the default-backend Service ${fallback.namespace}/${fallback.service}`) : resolved.problem.message;
    ing.warn(resolved.problem.reason, message);
  }
  return fallback?.id ?? resolved.upstream.id;
}

/** The location's policy: what its Ingress's annotations ask, on `hosts` (for ssl-redirect), at `path` (null: a default backend). */
function policyOf(context: Context, ing: IngressContext, hosts: readonly string[], path: string | null): LocationPolicy {
  return locationPolicy({ annotations: ing.annotations, settings: context.shared.settings, path, httpsRedirect: redirectsToHttps(context, ing, hosts), errorBackend: () => errorBackendOf(context, ing), guard: ing.guard, zone: describeRef(ing.ref) });
}

/**
 * The upstream of a Service on its first port, as ingress-nginx takes the default-backend
 * annotation's and --default-backend-service's; null when it has no ready endpoints.
 */
function firstPortUpstream(context: Context, namespace: string, name: string): UpstreamSpec | null {
  const port = firstPortOf(context.snapshot, namespace, name);
  if (!port) return null;
  const resolved = resolveServiceBackend(context.snapshot, namespace, name, port);
  if (resolved.upstream.endpoints.length === 0) return null;
  context.upstreams.set(resolved.upstream.id, resolved.upstream);
  return resolved.upstream;
}

/** The default-backend annotation's Service while it has ready endpoints, else null (reported once). */
function annotatedDefaultBackend(context: Context, ing: IngressContext): UpstreamSpec | null {
  const name = ing.annotations.errors.defaultBackend;
  if (name === undefined) return null;
  const upstream = firstPortUpstream(context, ing.ref.namespace, name);
  if (!upstream && !ing.reportedUpstreams.has(`default-backend ${name}`)) {
    ing.reportedUpstreams.add(`default-backend ${name}`);
    ing.warn('NoReadyEndpoints', `default-backend: Service ${ing.ref.namespace}/${name} has no ports or no ready endpoints; it is not used`);
  }
  return upstream;
}

/** custom-http-errors' error backend: the default-backend annotation's, else --default-backend-service's, else null (the built-in 404). */
function errorBackendOf(context: Context, ing: IngressContext): string | null {
  const annotated = annotatedDefaultBackend(context, ing);
  if (annotated) return annotated.id;
  const global = context.shared.options.defaultBackendService;
  return global ? (firstPortUpstream(context, global.namespace, global.name)?.id ?? null) : null;
}

/** As nginx does per location: always when forced, else when the host has TLS and ssl-redirect isn't off. */
function redirectsToHttps(context: Context, ing: IngressContext, hosts: readonly string[]): boolean {
  const { sslRedirect, forceSslRedirect } = ing.annotations.tlsRedirect;
  if (forceSslRedirect ?? context.shared.settings.forceSslRedirect) return true;
  return (sslRedirect ?? context.shared.settings.sslRedirect) && hosts.some((host) => hasTls(context.shared.isTlsHost, host));
}

/** The Ingress's spec.defaultBackend as a fallback; the oldest one also takes unknown hosts. */
function ingressFallback(context: Context, ing: IngressContext): FallbackSpec | null {
  const backend = ing.ingress.spec.defaultBackend;
  const upstream = backend ? upstreamFor(context, ing, backend, 'spec.defaultBackend') : null;
  if (!upstream) return null;
  // The Ingress-wide fallback redirects when any host of this Ingress does (it serves all of them).
  const ruleHosts = (ing.ingress.spec.rules ?? []).map((rule) => checkHost(rule.host)).flatMap((host) => (host.ok ? [host.value] : []));
  const fallback: FallbackSpec = { upstream, ingress: ing.ref, ...policyOf(context, ing, ruleHosts, null) };
  if (context.defaultBackend === null) context.defaultBackend = fallback;
  else if (context.defaultBackend.ingress) {
    ing.warn('DefaultBackendConflict', `spec.defaultBackend serves only this Ingress's hosts: requests for other hosts go to the default backend of Ingress ${describeRef(context.defaultBackend.ingress)}, which is older`);
  }
  return fallback;
}

function virtualHostFor(context: Context, host: string): VirtualHostDraft {
  let virtualHost = context.virtualHosts.get(host);
  if (!virtualHost) {
    virtualHost = { host, routes: [], claims: new Map(), pending: [], fallback: null, regexMode: false };
    context.virtualHosts.set(host, virtualHost);
  }
  return virtualHost;
}

/** One path of a rule: checked, claimed for this Ingress unless an older one holds it, and routed. */
function translatePath(context: Context, ing: IngressContext, virtualHost: VirtualHostDraft, httpPath: NonNullable<NonNullable<Ingress['spec']['rules']>[number]['http']>['paths'][number], where: string): void {
  const checked = checkPath(httpPath.path, httpPath.pathType, ing.annotations.useRegex.useRegex);
  if (!checked.ok) {
    ing.warn('InvalidPath', `${where}: ${checked.error}; path ignored`);
    return;
  }
  const { path, match } = checked.value;
  const claimKey = `${match}\n${match === 'prefix' ? prefixKey(path) : path}`;
  const holder = virtualHost.claims.get(claimKey);
  const conflict = holder ? conflictMessage(ing, holder.ingress, `${where}: host ${hostLabel(virtualHost)} path ${path} (${httpPath.pathType})`) : '';
  if (holder && holder.path === path) {
    ing.warn('PathConflict', conflict);
    return;
  }
  const upstream = upstreamFor(context, ing, httpPath.backend, where);
  if (upstream === null) return;
  const route: RouteSpec = { path, match, pathType: httpPath.pathType, upstream, ingress: ing.ref, ...policyOf(context, ing, [virtualHost.host], path) };
  if (ing.annotations.useRegex.useRegex || rewrites(ing.annotations, path)) virtualHost.regexMode = true;
  if (route.affinity && ing.annotations.useRegex.useRegex && ing.annotations.affinity.path === undefined) {
    ing.warn('InvalidAnnotation', `${where}: session-cookie-path should be set when use-regex is true (as ingress-nginx warns); the cookie's Path is the path as written, "${path}"`);
  }
  if (holder) {
    // Prefix `/a` and `/a/` are one rule, unless the host turns out to be in regex mode (step 6), where they are two regexes.
    virtualHost.pending.push({ route, warning: { kind: 'Ingress', ...ing.ref, reason: 'PathConflict', message: conflict } });
    return;
  }
  virtualHost.claims.set(claimKey, { ingress: ing.ref, path });
  virtualHost.routes.push(route);
}

function hostLabel(virtualHost: VirtualHostDraft): string {
  return virtualHost.host === '' ? '(any host)' : virtualHost.host;
}

function conflictMessage(ing: IngressContext, holder: ObjectRef, what: string): string {
  return holder === ing.ref ? `${what} is listed twice in this Ingress; the first one is used` : `${what} is already served by Ingress ${describeRef(holder)}, which is older; this path is ignored`;
}

/** The guards every location of the Ingress gets: an unsupported guard key, an unusable auth Secret or auth-proxy-set-headers ConfigMap closes them. */
function guardOf(context: Context, ref: ObjectRef, annotations: IngressAnnotations, unsupportedGuards: readonly string[], warn: IngressContext['warn']): LocationGuard {
  const crossNamespace = context.shared.settings.crossNamespaceResources;
  const basic = resolveBasicAuth(context.snapshot, ref.namespace, annotations.basicAuth, crossNamespace);
  if ('closed' in basic && basic.warning) warn('AuthSecretInvalid', basic.warning);
  const auth = annotations.externalAuth;
  const setHeaders = auth.url === undefined || auth.proxySetHeaders === undefined
    ? { headers: [] }
    : resolveAuthProxySetHeaders(context.snapshot, ref.namespace, auth.proxySetHeaders, { crossNamespace, configMapsReadable: context.shared.options.configMapsReadable ?? true });
  if ('closed' in setHeaders && setHeaders.warning) warn('AuthConfigMapInvalid', setHeaders.warning);
  const closed = [...(unsupportedGuards.length > 0 ? [`unsupported ${unsupportedGuards.join(', ')}`] : []), ...('closed' in basic ? [basic.closed] : []), ...('closed' in setHeaders ? [setHeaders.closed] : [])];
  if (closed.length > 0) return { closed: closed.join('; ') };
  return {
    ...('basicAuth' in basic && basic.basicAuth ? { basicAuth: basic.basicAuth } : {}),
    ...('headers' in setHeaders && setHeaders.headers.length > 0 ? { authProxySetHeaders: setHeaders.headers } : {}),
  };
}

/** Step 4: one served Ingress into routes: its annotations, its default backend, then each rule's paths. */
function translateIngress(context: Context, ingress: Ingress, annotationCache: AnnotationCache): void {
  const ref = refOf(ingress);
  const warn = (reason: WarningReason, message: string): void => {
    context.warnings.push({ kind: 'Ingress', ...ref, reason, message });
  };
  const { config, problems, unsupportedGuards } = annotationCache.read(ingress, context.shared.options.annotationsPrefix);
  for (const problem of problems) warn(problem.reason, problem.message);
  if (config.canary.enabled) {
    // A canary serves nothing itself (ingress-nginx sets it aside too); step 5 attaches its paths.
    context.canaries.push({ ingress, ref, annotations: config, warn, reportedUpstreams: new Set(), guard: {} });
    return;
  }
  const ing: IngressContext = { ingress, ref, annotations: config, warn, reportedUpstreams: new Set(), guard: guardOf(context, ref, config, unsupportedGuards, warn) };
  const ownFallback = ingressFallback(context, ing);
  if (config.sslPassthrough.enabled) {
    if (context.shared.options.sslPassthrough) context.passthrough.push(ing);
    else warn('SslPassthroughIgnored', 'ssl-passthrough needs --enable-ssl-passthrough (as in ingress-nginx); its hosts\' TLS is terminated by Pier as usual');
  }

  (ingress.spec.rules ?? []).forEach((rule, ruleIndex) => {
    const host = checkHost(rule.host);
    if (!host.ok) {
      warn('InvalidHost', `spec.rules[${ruleIndex}]: ${host.error}; rule ignored`);
      return;
    }
    const virtualHost = virtualHostFor(context, host.value);
    if (virtualHost.fallback === null && ownFallback) virtualHost.fallback = ownFallback;
    if (config.redirect.fromToWww && host.value !== '' && !host.value.startsWith('*.') && !context.wwwRedirects.has(host.value)) context.wwwRedirects.set(host.value, { ingress: ing });
    for (const alias of config.serverAlias.aliases) {
      if (host.value !== '' && !context.aliases.has(alias)) context.aliases.set(alias, { host: host.value, ingress: ing });
    }
    (rule.http?.paths ?? []).forEach((httpPath, pathIndex) => translatePath(context, ing, virtualHost, httpPath, `spec.rules[${ruleIndex}].http.paths[${pathIndex}]`));
  });
}

/**
 * Step 5: each canary path attaches to the main route of the same host, path and pathType, as
 * ingress-nginx's mergeAlternativeBackends: then some of that route's requests go to the canary's
 * Service, through the main route's policy. One canary per route (the oldest, as ingress-nginx
 * uses the first alternative backend); a path with no main route serves nothing, with a warning.
 */
function attachCanaries(context: Context): void {
  for (const ing of context.canaries) {
    if (ing.ingress.spec.defaultBackend) ing.warn('CanaryUnattached', 'spec.defaultBackend of a canary Ingress is not supported by Pier; ignored');
    (ing.ingress.spec.rules ?? []).forEach((rule, ruleIndex) => {
      const host = checkHost(rule.host);
      if (!host.ok) return;
      (rule.http?.paths ?? []).forEach((httpPath, pathIndex) => {
        const where = `spec.rules[${ruleIndex}].http.paths[${pathIndex}]`;
        const what = `host ${host.value === '' ? '(any host)' : host.value} path ${httpPath.path ?? '/'} (${httpPath.pathType})`;
        const routes = context.virtualHosts.get(host.value)?.routes;
        const index = routes?.findIndex((route) => route.path === (httpPath.path ?? '/') && route.pathType === httpPath.pathType) ?? -1;
        if (routes === undefined || index === -1) {
          ing.warn('CanaryUnattached', `${where}: no main Ingress serves ${what}, so this canary path serves nothing`);
          return;
        }
        const main = routes[index] as RouteSpec;
        if (main.canary !== undefined) {
          ing.warn('CanaryUnattached', `${where}: ${what} already has canary Ingress ${describeRef(main.canary.ingress)}, which is older; ignored (one canary per path, as ingress-nginx)`);
          return;
        }
        const upstream = upstreamFor(context, ing, httpPath.backend, where);
        if (upstream === null) return;
        if (upstream === main.upstream) {
          ing.warn('CanaryUnattached', `${where}: the canary's Service is the one ${what} already uses; ignored`);
          return;
        }
        routes[index] = { ...main, canary: canaryPolicy(ing, upstream, main) };
      });
    });
  }
}

function canaryPolicy(ing: IngressContext, upstream: string, main: RouteSpec): CanaryPolicy {
  const { header, headerValue, headerPattern, cookie, weight, weightTotal } = ing.annotations.canary;
  // sticky (the default): the canary shares the main route's affinity, so a session stays on the side it started on.
  const affinity = ing.annotations.affinity.canaryBehavior === 'legacy' ? affinityPolicy(ing.annotations, main.path) : main.affinity;
  return { upstream, ingress: ing.ref, ...definedOnly({ header, headerValue, headerPattern, cookie }), weight, weightTotal, ...(affinity !== undefined ? { affinity } : {}) };
}

/**
 * Step 8: ssl-passthrough hosts and their upstream, the backend of the Ingress's `/` path, as
 * ingress-nginx's getConfiguration (other paths are ignored, with a warning). The oldest Ingress
 * takes a host.
 */
function passthroughHosts(context: Context): PassthroughSpec[] {
  const byHost = new Map<string, PassthroughSpec>();
  for (const ing of context.passthrough) {
    for (const rule of ing.ingress.spec.rules ?? []) {
      const host = checkHost(rule.host);
      if (!host.ok || host.value === '' || byHost.has(host.value)) continue;
      const routes = context.virtualHosts.get(host.value)?.routes ?? [];
      const root = routes.find((route) => route.ingress === ing.ref && route.path === '/');
      if (!root) {
        ing.warn('SslPassthroughIgnored', `ssl-passthrough: host ${host.value} has no path "/" in this Ingress, whose backend would take its connections; not passed through`);
        continue;
      }
      const others = (rule.http?.paths ?? []).filter((path) => (path.path ?? '/') !== '/');
      if (others.length > 0) ing.warn('SslPassthroughIgnored', `ssl-passthrough: host ${host.value} passes every connection to the "/" path's backend; paths ${others.map((path) => path.path).join(', ')} are ignored for it (as in ingress-nginx)`);
      byHost.set(host.value, { host: host.value, upstream: root.upstream });
    }
  }
  return [...byHost.values()].sort((a, b) => (a.host < b.host ? -1 : 1));
}
/**
 * Step 6: hosts in regex mode. On a host where one location uses a regex or rewrites, ingress-nginx
 * writes every location of the host as `~* "^<path>"`: case-insensitive, a Prefix `/foo` then also
 * matching `/foobar`, an Exact path matching as a prefix. A path RE2 can't compile is dropped with a warning.
 */
function applyRegexMode(context: Context): void {
  for (const virtualHost of context.virtualHosts.values()) {
    if (!virtualHost.regexMode) {
      for (const { warning } of virtualHost.pending) context.warnings.push(warning);
      continue;
    }
    const kept: RouteSpec[] = [];
    for (const route of [...virtualHost.routes, ...virtualHost.pending.map((pending) => pending.route)]) {
      if (route.match === 'regex') {
        kept.push(route);
        continue;
      }
      const compiled = compilePathRegex(route.path);
      if (compiled.ok) {
        kept.push({ ...route, match: 'regex' });
        continue;
      }
      context.warnings.push({ kind: 'Ingress', ...route.ingress, reason: 'InvalidPath', message: `host ${hostLabel(virtualHost)} is in regex mode (a use-regex or rewrite-target location is on it), and path "${route.path}" ${compiled.error}; path ignored` });
    }
    virtualHost.routes.splice(0, virtualHost.routes.length, ...kept);
  }
}

/**
 * Step 7: from-to-www-redirect, as ingress-nginx's redirect servers: `www.<host>` to `<host>` (or
 * `<host>` to `www.<host>`), unless the host redirected from is served itself.
 */
function hostRedirects(context: Context): HostRedirectSpec[] {
  const redirects: HostRedirectSpec[] = [];
  for (const [to, { ingress }] of context.wwwRedirects) {
    const from = to.startsWith('www.') ? to.slice(4) : `www.${to}`;
    if (context.virtualHosts.has(from)) {
      ingress.warn('RedirectHostConflict', `from-to-www-redirect: host ${from} is served by an Ingress rule, so it is not redirected to ${to}`);
      continue;
    }
    redirects.push({ from, to });
  }
  return redirects.sort((a, b) => compareText(a.from, b.from));
}

function isDefaultNextUpstream(policy: NextUpstreamPolicy): boolean {
  const defaults = DEFAULT_NEXT_UPSTREAM;
  return policy.tries === defaults.tries && policy.timeoutMs === defaults.timeoutMs && policy.conditions.join(' ') === defaults.conditions.join(' ');
}

/**
 * Step 8: server-alias, as ingress-nginx's server_name: an alias routes as its host does, and its
 * host's certificate answers the alias's SNI. An alias that is a rule host (or another host's
 * alias) is ignored with a warning.
 */
function aliasesByHost(context: Context): Map<string, string[]> {
  const byHost = new Map<string, string[]>();
  for (const [alias, { host, ingress }] of context.aliases) {
    if (context.virtualHosts.has(alias) || context.wwwRedirects.has(alias)) {
      ingress.warn('AliasConflict', `server-alias ${alias} is a host of its own (an Ingress rule names it), so it is not an alias of ${host}; ignored`);
      continue;
    }
    byHost.set(host, [...(byHost.get(host) ?? []), alias]);
  }
  return byHost;
}

/** The TLS hosts with each alias given its host's certificate, unless a certificate names the alias itself. */
function tlsHostsWithAliases(hosts: readonly TlsHostSpec[], aliases: ReadonlyMap<string, readonly string[]>): readonly TlsHostSpec[] {
  if (aliases.size === 0) return hosts;
  const certificateOf = new Map(hosts.map((entry) => [entry.host, entry.certificate]));
  const added = [...aliases].flatMap(([host, names]) => {
    const certificate = certificateOf.get(host);
    return certificate === undefined ? [] : names.filter((alias) => !certificateOf.has(alias)).map((alias) => ({ host: alias, certificate }));
  });
  return added.length === 0 ? hosts : [...hosts, ...added].sort((a, b) => compareText(a.host, b.host));
}

/** One partition's share of the result, each list sorted as the whole result is. */
export interface Partition {
  readonly virtualHosts: readonly VirtualHostSpec[];
  readonly upstreams: readonly UpstreamSpec[];
  readonly warnings: readonly RouteWarning[];
  readonly served: readonly ObjectRef[];
  readonly ignored: readonly ObjectRef[];
  /** The oldest spec.defaultBackend among the partition's Ingresses, for unknown hosts. */
  readonly defaultBackend: FallbackSpec | null;
  readonly hostRedirects: readonly HostRedirectSpec[];
  readonly passthrough: readonly PassthroughSpec[];
  readonly tlsHosts: readonly TlsHostSpec[];
  readonly certificates: readonly CertificateSpec[];
  readonly certificatesChangeAt: number | null;
  readonly tlsFallbacks: readonly TlsFallback[];
}

/**
 * The keys that link an Ingress to every other Ingress it can affect: a host of its rules, of its
 * spec.tls or of its server-alias (two Ingresses naming one host share its routes, certificate,
 * redirect or alias); the host's www pair (from-to-www-redirect yields to a served host); and
 * spec.defaultBackend (the oldest one takes unknown hosts). Ingresses that share no key can be
 * computed apart. Whether a host is served over TLS is asked of every partition's spec.tls
 * (SharedInputs.isTlsHost), so a wildcard certificate links nothing.
 */
export function linkKeysOf(ingress: Ingress, annotations: IngressAnnotations): string[] {
  const keys = new Set<string>();
  for (const rule of ingress.spec.rules ?? []) {
    const host = checkHost(rule.host);
    if (!host.ok) continue;
    keys.add(`host:${host.value}`);
    if (host.value !== '' && !host.value.startsWith('*.')) keys.add(`www:${host.value.startsWith('www.') ? host.value.slice(4) : host.value}`);
  }
  for (const host of tlsHostsOf(ingress)) keys.add(`host:${host}`);
  for (const alias of annotations.serverAlias.aliases) keys.add(`host:${alias}`);
  if (ingress.spec.defaultBackend) keys.add('defaultBackend');
  return [...keys];
}

/** The routes of these Ingresses (all of a linked set: see linkKeysOf), given what is shared. */
export function computePartition(snapshot: Snapshot, ingresses: Iterable<Ingress>, shared: SharedInputs): Partition {
  const warnings: RouteWarning[] = [];
  const { served, ignored } = partitionByOwnership(ingresses, shared, warnings);
  const tls = readTls(snapshot, shared, served, warnings);
  const context: Context = { snapshot, shared, warnings, upstreams: new Map(), virtualHosts: new Map(), defaultBackend: null, wwwRedirects: new Map(), aliases: new Map(), canaries: [], passthrough: [] };
  for (const ingress of served) translateIngress(context, ingress, shared.annotationCache);
  attachCanaries(context);
  applyRegexMode(context);
  const aliases = aliasesByHost(context);
  const virtualHosts: VirtualHostSpec[] = [...context.virtualHosts.values()]
    .sort((a, b) => compareText(a.host, b.host))
    .map((draft) => ({ host: draft.host, ...(aliases.has(draft.host) ? { aliases: (aliases.get(draft.host) as string[]).sort() } : {}), routes: draft.routes.sort(routeOrder), fallback: draft.fallback }));
  const redirects = hostRedirects(context);
  const passthrough = passthroughHosts(context);
  return {
    virtualHosts,
    upstreams: [...context.upstreams.values()],
    warnings,
    served: served.map(refOf),
    ignored,
    defaultBackend: context.defaultBackend,
    hostRedirects: redirects,
    passthrough,
    tlsHosts: tlsHostsWithAliases(tls.spec.hosts, aliases),
    certificates: tls.spec.certificates,
    certificatesChangeAt: tls.certificatesChangeAt,
    tlsFallbacks: tls.fallbacks,
  };
}

/** What the shared objects add to the result, apart from any Ingress. */
export interface SharedPart {
  readonly settings: ControllerSettings;
  /** About the controller ConfigMap, the default certificate and the TCP/UDP services ConfigMaps. */
  readonly warnings: readonly RouteWarning[];
  readonly defaultCertificate: CertificateSpec | null;
  readonly certificatesChangeAt: number | null;
  readonly streams: readonly StreamSpec[];
  /** The streams' upstreams. */
  readonly upstreams: readonly UpstreamSpec[];
  /** --default-backend-service, for unknown hosts when no Ingress's spec.defaultBackend takes them. */
  readonly controllerFallback: { readonly fallback: FallbackSpec; readonly upstream: UpstreamSpec; readonly warnings: readonly RouteWarning[] } | null;
}

/** The IngressClasses that are ours and the controller ConfigMap's settings (with a warning per bad key). */
export function readSharedSettings(snapshot: Snapshot, options: RouteOptions): { classes: ClassIndex; settings: ControllerSettings; warnings: RouteWarning[] } {
  const configMap = options.configMap ? snapshot.configMaps.get(describeRef(options.configMap)) : undefined;
  const { settings, problems } = controllerSettings(configMap);
  const warnings: RouteWarning[] = problems.map((problem) => ({ kind: 'ConfigMap', namespace: options.configMap?.namespace, name: options.configMap?.name ?? '', reason: 'InvalidConfigMap', message: problem }));
  return { classes: indexClasses(snapshot.ingressClasses, options.controllerClass), settings, warnings };
}

/** The TCP and UDP services ConfigMaps; a problem is a warning on the ConfigMap. */
function streams(snapshot: Snapshot, options: RouteOptions, warnings: RouteWarning[]): { streams: StreamSpec[]; upstreams: UpstreamSpec[] } {
  const reservedPorts = new Set(options.reservedPorts ?? []);
  const all: StreamSpec[] = [];
  const upstreams: UpstreamSpec[] = [];
  for (const [protocol, ref] of [['TCP', options.tcpServicesConfigMap], ['UDP', options.udpServicesConfigMap]] as const) {
    if (!ref) continue;
    const result = streamServices(snapshot, { protocol, configMap: ref, reservedPorts });
    upstreams.push(...result.upstreams);
    for (const problem of result.problems) warnings.push({ kind: 'ConfigMap', namespace: ref.namespace, name: ref.name, reason: 'InvalidConfigMap', message: problem });
    all.push(...result.streams);
  }
  return { streams: all, upstreams };
}

/** --default-backend-service, on the Service's first port as ingress-nginx takes it. */
function controllerFallback(snapshot: Snapshot, options: RouteOptions): SharedPart['controllerFallback'] {
  if (!options.defaultBackendService) return null;
  const { namespace, name } = options.defaultBackendService;
  const port = firstPortOf(snapshot, namespace, name);
  const resolved = resolveServiceBackend(snapshot, namespace, name, port ?? { number: 0 });
  const problem = resolved.problem || !port
    ? [{ kind: 'Service', namespace, name, reason: resolved.problem?.reason ?? 'ServicePortNotFound', message: `--default-backend-service: ${resolved.problem?.message ?? `Service ${namespace}/${name} has no ports`}` } satisfies RouteWarning]
    : [];
  return { fallback: { upstream: resolved.upstream.id, ingress: null }, upstream: resolved.upstream, warnings: problem };
}

/** The shared part: settings (read by readSharedSettings), the default certificate, the controller's default backend, the streams. */
export function computeSharedPart(snapshot: Snapshot, options: RouteOptions, settings: { settings: ControllerSettings; warnings: readonly RouteWarning[] }, certificateCache: CertificateCache): SharedPart {
  const warnings: RouteWarning[] = [...settings.warnings];
  const { defaultSslCertificate = null } = options;
  const defaultCertificate = resolveDefaultCertificate(snapshot, defaultSslCertificate, options.now, certificateCache);
  if (defaultCertificate.problem) warnings.push({ kind: 'Secret', namespace: defaultSslCertificate?.namespace ?? '', name: defaultSslCertificate?.name ?? '', ...defaultCertificate.problem });
  const streamsPart = streams(snapshot, options, warnings);
  return {
    settings: settings.settings,
    warnings,
    defaultCertificate: defaultCertificate.certificate,
    certificatesChangeAt: defaultCertificate.changesAt,
    streams: streamsPart.streams,
    upstreams: streamsPart.upstreams,
    controllerFallback: controllerFallback(snapshot, options),
  };
}

/** The parts of a result that come from partitions, each list already sorted and whole. */
export type PartitionLists = Omit<Partition, 'served'> & { readonly statuses: readonly IngressStatus[] };

/** One partition's lists, sorted as assemble takes them. */
export function partitionLists(partition: Partition): PartitionLists {
  const { served, ...lists } = partition;
  return {
    ...lists,
    upstreams: [...partition.upstreams].sort((a, b) => compareText(a.id, b.id)),
    statuses: [...served].sort(compareRefs).map((ingress) => ({ ingress })),
    ignored: [...partition.ignored].sort(compareRefs),
    warnings: [...partition.warnings].sort(compareWarnings),
    tlsFallbacks: [...partition.tlsFallbacks].sort((a, b) => compareRefs(a.ingress, b.ingress)),
  };
}

/** The sorted warnings with a few more put in their places (each after those of its object already there). */
function withWarnings(sorted: readonly RouteWarning[], extra: readonly RouteWarning[]): RouteWarning[] {
  const result = sorted.slice();
  for (const warning of extra) {
    let low = 0;
    let high = result.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareWarnings(result[middle] as RouteWarning, warning) > 0) high = middle;
      else low = middle + 1;
    }
    result.splice(low, 0, warning);
  }
  return result;
}

/** The whole result from the shared part and the partitions' lists. */
export function assemble(shared: SharedPart, lists: PartitionLists): RouteComputation {
  const { settings } = shared;
  // --default-backend-service takes unknown hosts only when no Ingress's spec.defaultBackend does.
  const controller = lists.defaultBackend === null ? shared.controllerFallback : null;
  const sharedUpstreams = [...shared.upstreams, ...(controller ? [controller.upstream] : [])];
  const sharedWarnings = [...shared.warnings, ...(controller?.warnings ?? [])];
  const certificateId = (certificate: CertificateSpec): string => certificate.id;
  const { defaultCertificate } = shared;
  const certificates = defaultCertificate ? withSorted(lists.certificates, [preferredCertificate(findSorted(lists.certificates, defaultCertificate.id, certificateId), defaultCertificate)], certificateId) : lists.certificates;
  return {
    table: {
      virtualHosts: lists.virtualHosts,
      defaultBackend: lists.defaultBackend ?? controller?.fallback ?? null,
      upstreams: withSorted(lists.upstreams, sharedUpstreams, (upstream) => upstream.id),
      tls: { certificates, hosts: lists.tlsHosts, defaultCertificate: shared.defaultCertificate?.id ?? null },
      https: settings.https,
      ...(settings.underscoresInHeaders ? { underscoresInHeaders: true } : {}),
      ...(settings.useForwardedHeaders ? { useForwardedHeaders: true } : {}),
      ...(settings.bodySizeLimit !== DEFAULT_BODY_SIZE_LIMIT ? { bodySizeLimit: settings.bodySizeLimit } : {}),
      ...(lists.hostRedirects.length > 0 ? { hostRedirects: lists.hostRedirects } : {}),
      ...(Object.keys(settings.timeouts).length > 0 ? { timeouts: settings.timeouts } : {}),
      ...(isDefaultNextUpstream(settings.nextUpstream) ? {} : { nextUpstream: settings.nextUpstream }),
      ...(settings.realIpFrom ? { realIpFrom: settings.realIpFrom } : {}),
      ...(shared.streams.length > 0 ? { streams: shared.streams, ...(settings.streamTimeoutMs !== DEFAULT_STREAM_TIMEOUT_MS ? { streamTimeoutMs: settings.streamTimeoutMs } : {}) } : {}),
      ...(lists.passthrough.length > 0 ? { passthrough: lists.passthrough } : {}),
    },
    statuses: lists.statuses,
    ignored: lists.ignored,
    warnings: sharedWarnings.length === 0 ? lists.warnings : withWarnings(lists.warnings, sharedWarnings),
    certificatesChangeAt: earlier(lists.certificatesChangeAt, shared.certificatesChangeAt),
    tlsFallbacks: lists.tlsFallbacks,
  };
}

export function computeRoutes(snapshot: Snapshot, options: RouteOptions): RouteComputation {
  const read = readSharedSettings(snapshot, options);
  const certificateCache = options.certificateCache ?? new CertificateCache();
  const annotationCache = options.annotationCache ?? new AnnotationCache();
  const shared: SharedInputs = { options, classes: read.classes, settings: read.settings, isTlsHost: () => false, annotationCache, certificateCache };
  const served = snapshot.ingresses.filter((ingress) => ownership(ingress, read.classes, options).ours);
  const tlsHosts = new Set(served.flatMap(tlsHostsOf));
  const partition = computePartition(snapshot, snapshot.ingresses, { ...shared, isTlsHost: (name) => tlsHosts.has(name) });
  return assemble(computeSharedPart(snapshot, options, read, certificateCache), partitionLists(partition));
}

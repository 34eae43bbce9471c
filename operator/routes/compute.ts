// computeRoutes: Kubernetes objects in, route table, statuses and warnings out. Pure and
// deterministic: no clock, no I/O, and the same snapshot always gives the same result.
// It runs named steps in order over one context: ownership, settings, TLS, the translation of each
// Ingress (annotations, its default backend, its rules with their claims and conflicts), the
// controller-wide default backend, and the output.
import type { Ingress, IngressBackend } from '../model.ts';
import type { Snapshot } from '../store.ts';
import { AnnotationCache, type IngressAnnotations } from '../annotations/registry.ts';
import { firstPortOf, portRefOf, resolveServiceBackend } from './backends.ts';
import { indexClasses, ownership } from './ownership.ts';
import type {
  FallbackSpec,
  MatchKind,
  ObjectRef,
  RouteComputation,
  RouteOptions,
  RouteSpec,
  RouteWarning,
  TlsSpec,
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
import { CertificateCache, resolveTls, type ResolvedTls } from './tls.ts';
import { controllerSettings, definedOnly, type ControllerSettings } from './https-settings.ts';

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

/** What the steps share: the inputs, and the output as it is built. */
interface Context {
  readonly snapshot: Snapshot;
  readonly options: RouteOptions;
  readonly warnings: RouteWarning[];
  readonly upstreams: Map<string, UpstreamSpec>;
  readonly virtualHosts: Map<string, VirtualHostDraft>;
  readonly settings: ControllerSettings;
  readonly tls: ResolvedTls;
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
function partitionByOwnership(snapshot: Snapshot, options: RouteOptions, warnings: RouteWarning[]): { served: Ingress[]; ignored: ObjectRef[] } {
  const served: Ingress[] = [];
  const ignored: ObjectRef[] = [];
  const classes = indexClasses(snapshot.ingressClasses, options.controllerClass);
  for (const ingress of snapshot.ingresses) {
    const owner = ownership(ingress, classes, options);
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

/** Step 2: the controller ConfigMap's settings, with a warning per bad key. */
function readSettings(snapshot: Snapshot, options: RouteOptions, warnings: RouteWarning[]): ControllerSettings {
  const configMap = options.configMap ? snapshot.configMaps.get(describeRef(options.configMap)) : undefined;
  const { settings, problems } = controllerSettings(configMap);
  for (const problem of problems) {
    warnings.push({ kind: 'ConfigMap', namespace: options.configMap?.namespace, name: options.configMap?.name ?? '', reason: 'InvalidConfigMap', message: problem });
  }
  return settings;
}

/** Step 3: certificates by host, for the served Ingresses. */
function readTls(snapshot: Snapshot, options: RouteOptions, served: readonly Ingress[], warnings: RouteWarning[]): ResolvedTls {
  const defaultSslCertificate = options.defaultSslCertificate ?? null;
  return resolveTls({
    snapshot,
    served,
    defaultSslCertificate,
    now: options.now,
    cache: options.certificateCache ?? new CertificateCache(),
    warn: (ingress, reason, message) => {
      const where = ingress ?? { namespace: defaultSslCertificate?.namespace ?? '', name: defaultSslCertificate?.name ?? '' };
      warnings.push({ kind: ingress ? 'Ingress' : 'Secret', ...where, reason, message });
    },
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
  return locationPolicy({ annotations: ing.annotations, settings: context.settings, path, httpsRedirect: redirectsToHttps(context, ing, hosts), errorBackend: () => errorBackendOf(context, ing), guard: ing.guard, zone: describeRef(ing.ref) });
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
  const global = context.options.defaultBackendService;
  return global ? (firstPortUpstream(context, global.namespace, global.name)?.id ?? null) : null;
}

/** As nginx does per location: always when forced, else when the host has TLS and ssl-redirect isn't off. */
function redirectsToHttps(context: Context, ing: IngressContext, hosts: readonly string[]): boolean {
  const { sslRedirect, forceSslRedirect } = ing.annotations.tlsRedirect;
  if (forceSslRedirect ?? context.settings.forceSslRedirect) return true;
  return (sslRedirect ?? context.settings.sslRedirect) && hosts.some((host) => context.tls.hasTls(host));
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
  const crossNamespace = context.settings.crossNamespaceResources;
  const basic = resolveBasicAuth(context.snapshot, ref.namespace, annotations.basicAuth, crossNamespace);
  if ('closed' in basic && basic.warning) warn('AuthSecretInvalid', basic.warning);
  const auth = annotations.externalAuth;
  const setHeaders = auth.url === undefined || auth.proxySetHeaders === undefined
    ? { headers: [] }
    : resolveAuthProxySetHeaders(context.snapshot, ref.namespace, auth.proxySetHeaders, { crossNamespace, configMapsReadable: context.options.configMapsReadable ?? true });
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
  const { config, problems, unsupportedGuards } = annotationCache.read(ingress, context.options.annotationsPrefix);
  for (const problem of problems) warn(problem.reason, problem.message);
  if (config.canary.enabled) {
    // A canary serves nothing itself (ingress-nginx sets it aside too); step 5 attaches its paths.
    context.canaries.push({ ingress, ref, annotations: config, warn, reportedUpstreams: new Set(), guard: {} });
    return;
  }
  const ing: IngressContext = { ingress, ref, annotations: config, warn, reportedUpstreams: new Set(), guard: guardOf(context, ref, config, unsupportedGuards, warn) };
  const ownFallback = ingressFallback(context, ing);
  if (config.sslPassthrough.enabled) {
    if (context.options.sslPassthrough) context.passthrough.push(ing);
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

/** Step 9: the TCP and UDP services ConfigMaps; a problem is a warning on the ConfigMap. */
function streams(context: Context): StreamSpec[] {
  const reservedPorts = new Set(context.options.reservedPorts ?? []);
  const all: StreamSpec[] = [];
  for (const [protocol, ref] of [['TCP', context.options.tcpServicesConfigMap], ['UDP', context.options.udpServicesConfigMap]] as const) {
    if (!ref) continue;
    const result = streamServices(context.snapshot, { protocol, configMap: ref, reservedPorts });
    for (const upstream of result.upstreams) context.upstreams.set(upstream.id, upstream);
    for (const problem of result.problems) context.warnings.push({ kind: 'ConfigMap', namespace: ref.namespace, name: ref.name, reason: 'InvalidConfigMap', message: problem });
    all.push(...result.streams);
  }
  return all;
}

/** Step 5b: --default-backend-service, when no Ingress's spec.defaultBackend took unknown hosts. */
function controllerDefaultBackend(context: Context): void {
  if (context.defaultBackend !== null || !context.options.defaultBackendService) return;
  const { namespace, name } = context.options.defaultBackendService;
  const port = firstPortOf(context.snapshot, namespace, name);
  const resolved = resolveServiceBackend(context.snapshot, namespace, name, port ?? { number: 0 });
  context.upstreams.set(resolved.upstream.id, resolved.upstream);
  if (resolved.problem || !port) {
    context.warnings.push({
      kind: 'Service',
      namespace,
      name,
      reason: resolved.problem?.reason ?? 'ServicePortNotFound',
      message: `--default-backend-service: ${resolved.problem?.message ?? `Service ${namespace}/${name} has no ports`}`,
    });
  }
  context.defaultBackend = { upstream: resolved.upstream.id, ingress: null };
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
  return redirects.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
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
function tlsWithAliases(tls: TlsSpec, aliases: ReadonlyMap<string, readonly string[]>): TlsSpec {
  if (aliases.size === 0) return tls;
  const certificateOf = new Map(tls.hosts.map((entry) => [entry.host, entry.certificate]));
  const added = [...aliases].flatMap(([host, names]) => {
    const certificate = certificateOf.get(host);
    return certificate === undefined ? [] : names.filter((alias) => !certificateOf.has(alias)).map((alias) => ({ host: alias, certificate }));
  });
  return added.length === 0 ? tls : { ...tls, hosts: [...tls.hosts, ...added].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)) };
}

/** Step 9: the sorted, serializable result. */
function output(context: Context, served: readonly Ingress[], ignored: readonly ObjectRef[]): RouteComputation {
  const aliases = aliasesByHost(context);
  const hosts: VirtualHostSpec[] = [...context.virtualHosts.values()]
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    .map((draft) => ({ host: draft.host, ...(aliases.has(draft.host) ? { aliases: (aliases.get(draft.host) as string[]).sort() } : {}), routes: draft.routes.sort(routeOrder), fallback: draft.fallback }));
  const redirects = hostRedirects(context);
  const passthrough = passthroughHosts(context);
  const streamSpecs = streams(context);
  const { settings } = context;
  return {
    table: {
      virtualHosts: hosts,
      defaultBackend: context.defaultBackend,
      upstreams: [...context.upstreams.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      tls: tlsWithAliases(context.tls.spec, aliases),
      https: context.settings.https,
      ...(settings.underscoresInHeaders ? { underscoresInHeaders: true } : {}),
      ...(settings.useForwardedHeaders ? { useForwardedHeaders: true } : {}),
      ...(settings.bodySizeLimit !== DEFAULT_BODY_SIZE_LIMIT ? { bodySizeLimit: settings.bodySizeLimit } : {}),
      ...(redirects.length > 0 ? { hostRedirects: redirects } : {}),
      ...(Object.keys(settings.timeouts).length > 0 ? { timeouts: settings.timeouts } : {}),
      ...(isDefaultNextUpstream(settings.nextUpstream) ? {} : { nextUpstream: settings.nextUpstream }),
      ...(settings.realIpFrom ? { realIpFrom: settings.realIpFrom } : {}),
      ...(streamSpecs.length > 0 ? { streams: streamSpecs, ...(settings.streamTimeoutMs !== DEFAULT_STREAM_TIMEOUT_MS ? { streamTimeoutMs: settings.streamTimeoutMs } : {}) } : {}),
      ...(passthrough.length > 0 ? { passthrough } : {}),
    },
    statuses: served.map((ingress) => ({ ingress: refOf(ingress) })),
    ignored,
    warnings: context.warnings,
    certificatesChangeAt: context.tls.certificatesChangeAt,
    tlsFallbacks: context.tls.fallbacks,
  };
}

export function computeRoutes(snapshot: Snapshot, options: RouteOptions): RouteComputation {
  const warnings: RouteWarning[] = [];
  const { served, ignored } = partitionByOwnership(snapshot, options, warnings);
  const settings = readSettings(snapshot, options, warnings);
  const tls = readTls(snapshot, options, served, warnings);
  const context: Context = { snapshot, options, warnings, upstreams: new Map(), virtualHosts: new Map(), settings, tls, defaultBackend: null, wwwRedirects: new Map(), aliases: new Map(), canaries: [], passthrough: [] };
  const annotationCache = options.annotationCache ?? new AnnotationCache();
  for (const ingress of served) translateIngress(context, ingress, annotationCache);
  attachCanaries(context);
  controllerDefaultBackend(context);
  applyRegexMode(context);
  return output(context, served, ignored);
}

// The compiled route table: a RouteTableSpec turned into lookup structures. Hosts are found by
// hash (exact, then wildcard by parent domain, then the catch-all), and paths within a host by a
// hash for Exact, a segment trie for Prefix, and an ordered list for regular expressions. Lookup
// cost depends on the request, never on how many Ingresses exist. A table built with the previous
// one takes over its compiled hosts whose specs are the same objects, and derives its lookup maps
// from the previous table's with only the hosts that changed, so a change costs what changed.
import type { BlockList } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { compilePathRegex, type PathRegex } from './path-regex.ts';
import { ShardedMap, type ShardedMapBuilder } from './sharded-map.ts';
import { ShardedIndex } from './sharded-index.ts';
import { isStrictlySorted, sortedChanges, type Change } from './sorted-changes.ts';
import { blockListOf } from './source-ranges.ts';
import type { HeaderPolicy } from './headers.ts';
import type { BackendProtocol, WireProtocol, Endpoint, FallbackSpec, HttpsSettings, LocationPolicy, NextUpstreamPolicy, ObjectRef, RouteSpec, RouteTableSpec, TimeoutPolicy, UpstreamSpec, VirtualHostSpec } from './route-spec.ts';
import { DEFAULT_BODY_SIZE_LIMIT, DEFAULT_HTTPS_SETTINGS, DEFAULT_NEXT_UPSTREAM, prefixKey } from './route-spec.ts';
import { compileBalance, EwmaScores, type Balance } from './balancing.ts';
import { NO_RESPONSE_STAGES, NO_STAGES, hstsStage, type AuthCheck, type RequestStage, type ResponseStage } from './pipeline.ts';

/**
 * A Service port with its ready endpoints, and where round-robin is. Its endpoints can be replaced
 * in place (endpoint churn changes nothing else in the table); a request reads them once, as one
 * array, and keeps that array for its retries. Routes reach it in clear or over TLS, by their
 * backend protocol, so it keeps each endpoint's origin both ways.
 */
export class Upstream {
  readonly spec: Omit<UpstreamSpec, 'endpoints'>;
  /** The endpoints now routed to (the spec's until setEndpoints replaces them). */
  #endpoints: readonly Endpoint[];
  /** `http://address:port` for each endpoint, made once here rather than per request... */
  #clearOrigins: readonly string[];
  /** ...and `https://address:port`, for HTTPS and GRPCS routes. */
  #tlsOrigins: readonly string[];
  #next = 0;
  /** load-balance ewma's response-time averages, kept with the upstream across swaps. */
  readonly ewma = new EwmaScores();

  constructor(spec: UpstreamSpec) {
    this.spec = spec;
    this.#endpoints = spec.endpoints;
    this.#clearOrigins = spec.endpoints.map((endpoint) => originOf('http', endpoint));
    this.#tlsOrigins = spec.endpoints.map((endpoint) => originOf('https', endpoint));
  }

  /** The endpoints' origins for a request speaking `protocol`. */
  originsFor(protocol: WireProtocol): readonly string[] {
    return protocol === 'HTTPS' || protocol === 'GRPCS' ? this.#tlsOrigins : this.#clearOrigins;
  }

  get endpoints(): readonly Endpoint[] {
    return this.#endpoints;
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.#endpoints = endpoints;
    this.#clearOrigins = endpoints.map((endpoint) => originOf('http', endpoint));
    this.#tlsOrigins = endpoints.map((endpoint) => originOf('https', endpoint));
    this.ewma.retain([...this.#clearOrigins, ...this.#tlsOrigins]);
  }

  /** The next of `origins` (this upstream's, as a request read them) in round-robin order. */
  pick(origins: readonly string[]): string {
    const origin = origins[this.#next % origins.length] as string;
    this.#next = (this.#next + 1) % origins.length;
    return origin;
  }
}

/** True when both lists name the same addresses and ports in the same order. */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((endpoint, index) => endpoint.address === b[index]?.address && endpoint.port === b[index]?.port);
}

function originOf(scheme: string, endpoint: Endpoint): string {
  const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  return `${scheme}://${host}:${endpoint.port}`;
}

/** What a request is sent to, with the labels its metrics carry. */
export interface Target {
  readonly upstream: Upstream;
  /** The matched route, or null when a default backend took the request. */
  readonly route: RouteSpec | null;
  readonly ingress: ObjectRef | null;
  /** How requests reach the upstream (the route's backend protocol). */
  readonly protocol: BackendProtocol;
  readonly labels: { readonly namespace: string; readonly ingress: string; readonly service: string };
  /** What runs before forwarding (pipeline.ts), in order; empty for a route with no policy. */
  readonly stages: readonly RequestStage[];
  /** What changes every response head on this route: the table's (HSTS), then the route's own. */
  readonly responseStages: readonly ResponseStage[];
  /** The most request body bytes forwarded (proxy-body-size); 0 for no limit. */
  readonly bodySizeLimit: number;
  /** The route's and the table's timeouts (route first), or null when neither sets any: the proxy's flags. */
  readonly timeouts: TimeoutPolicy | null;
  /** When a failed attempt goes to the next endpoint (proxy-next-upstream). */
  readonly nextUpstream: NextUpstreamPolicy;
  /** custom-http-errors: the statuses replaced by the error backend's answer (null upstream: the built-in 404). */
  readonly errorPages: { readonly codes: ReadonlySet<number>; readonly upstream: Upstream | null } | null;
  /** auth-url: asked after the request stages, before forwarding (external-auth.ts), or null. */
  readonly externalAuth: AuthCheck | null;
  /** How the upstream and endpoint are chosen beyond round-robin (canary, affinity, hashing, ewma), or null. */
  readonly balance: Balance | null;
}

/** What a target's stages are compiled from. */
export interface TargetPolicy {
  /** The route, or null for a default backend. */
  readonly route: RouteSpec | null;
  readonly policy: LocationPolicy;
}

/** The table-wide settings stages read. */
export interface TableSettings {
  readonly https: HttpsSettings;
  readonly useForwardedHeaders: boolean;
}

export interface CompiledStages {
  readonly request: readonly RequestStage[];
  readonly response: readonly ResponseStage[];
  /** auth-url's sub-request, or null. */
  readonly externalAuth: AuthCheck | null;
}

/** Builds a target's stages from its policy and the table's settings; the proxy server supplies it. */
export type StageCompiler = (target: TargetPolicy, settings: TableSettings) => CompiledStages;

const NO_COMPILED_STAGES: CompiledStages = { request: NO_STAGES, response: NO_RESPONSE_STAGES, externalAuth: null };
const NO_STAGE_COMPILER: StageCompiler = () => NO_COMPILED_STAGES;

function makeTarget(upstream: Upstream, route: RouteSpec | null, from: RouteSpec | FallbackSpec, table: TableStages): Target {
  const ingress = from.ingress;
  const compiled = table.compile({ route, policy: from });
  return {
    upstream,
    route,
    ingress,
    protocol: from.protocol ?? 'HTTP',
    labels: { namespace: upstream.spec.namespace, ingress: ingress?.name ?? '', service: upstream.spec.service },
    stages: compiled.request,
    responseStages: compiled.response.length === 0 ? table.responseStages : [...table.responseStages, ...compiled.response],
    bodySizeLimit: from.bodySizeLimit ?? table.bodySizeLimit,
    timeouts: from.timeouts ? { ...table.timeouts, ...from.timeouts } : table.timeouts,
    nextUpstream: from.nextUpstream ?? table.nextUpstream,
    externalAuth: compiled.externalAuth,
    balance: compileBalance(from, upstream, from.canary ? table.upstreamOf(from.canary.upstream) : null),
    errorPages: from.customErrors ? { codes: new Set(from.customErrors.codes), upstream: from.customErrors.upstream === null ? null : table.upstreamOf(from.customErrors.upstream) } : null,
  };
}

/** What every target of one table shares: how to compile its stages, the table's response stages, the body limit. */
interface TableStages {
  readonly compile: (target: TargetPolicy) => CompiledStages;
  readonly responseStages: readonly ResponseStage[];
  readonly bodySizeLimit: number;
  readonly timeouts: TimeoutPolicy | null;
  readonly nextUpstream: NextUpstreamPolicy;
  readonly upstreamOf: (id: string) => Upstream;
}

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  target: Target | null;
}

interface RegexRoute {
  readonly pattern: PathRegex;
  readonly length: number;
  readonly target: Target;
}

class CompiledHost {
  /** What it was compiled from: a next table takes it over only for this very object. */
  readonly spec: VirtualHostSpec;
  readonly #exact = new Map<string, Target>();
  readonly #prefixes: TrieNode = { children: new Map(), target: null };
  readonly #regexes: RegexRoute[] = [];
  readonly fallback: Target | null;
  /** The upstreams its targets hold, by the id they were looked up by: a next table reuses this host only if it has the same ones. */
  readonly upstreams: ReadonlyMap<string, Upstream>;

  constructor(spec: VirtualHostSpec, fallback: Target | null, targetFor: (route: RouteSpec) => Target, upstreams: ReadonlyMap<string, Upstream>) {
    this.spec = spec;
    this.fallback = fallback;
    this.upstreams = upstreams;
    for (const route of spec.routes) {
      const target = targetFor(route);
      if (route.match === 'exact') {
        if (!this.#exact.has(route.path)) this.#exact.set(route.path, target);
      } else if (route.match === 'prefix') {
        this.#insertPrefix(prefixKey(route.path), target);
      } else {
        const compiled = compilePathRegex(route.path);
        if (!compiled.ok) throw new Error(`regex path "${route.path}": ${compiled.error}`);
        this.#regexes.push({ pattern: compiled.regex, length: route.path.length, target });
      }
    }
    this.#regexes.sort((a, b) => b.length - a.length);
  }

  #insertPrefix(key: string, target: Target): void {
    let node = this.#prefixes;
    for (const segment of key === '' ? [] : key.slice(1).split('/')) {
      let child = node.children.get(segment);
      if (!child) {
        child = { children: new Map(), target: null };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.target ??= target;
  }

  /** Longest match wins; on equal length Exact beats Prefix beats regex. */
  match(path: string): Target | null {
    const exact = this.#exact.get(path);
    if (exact) return exact;

    let node = this.#prefixes;
    let best = node.target;
    let bestLength = 0;
    let start = 1;
    while (start <= path.length) {
      const slash = path.indexOf('/', start);
      const end = slash === -1 ? path.length : slash;
      const child = node.children.get(path.slice(start, end));
      if (!child) break;
      node = child;
      if (node.target) {
        best = node.target;
        bestLength = end;
      }
      start = end + 1;
    }
    for (const regex of this.#regexes) {
      if (best && regex.length <= bestLength) break;
      if (regex.pattern.test(path)) return regex.target;
    }
    return best;
  }
}

/**
 * A virtual host's routes and fallback compiled, recording which upstream each id it looks up
 * resolved to (route, fallback, canary, error pages).
 */
function compileHost(virtualHost: VirtualHostSpec, table: TableStages): CompiledHost {
  const used = new Map<string, Upstream>();
  const upstreamOf = (id: string): Upstream => {
    const upstream = table.upstreamOf(id);
    used.set(id, upstream);
    return upstream;
  };
  const recording: TableStages = { ...table, upstreamOf };
  const fallback = virtualHost.fallback ? makeTarget(upstreamOf(virtualHost.fallback.upstream), null, virtualHost.fallback, recording) : null;
  return new CompiledHost(virtualHost, fallback, (route) => makeTarget(upstreamOf(route.upstream), route, route, recording), used);
}

/** True when every upstream `host`'s targets hold is still the one `byId` has for its id. */
function holdsSameUpstreams(host: CompiledHost, byId: ReadonlyMap<string, Upstream>): boolean {
  for (const [id, upstream] of host.upstreams) {
    if (byId.get(id) !== upstream) return false;
  }
  return true;
}

/**
 * What a target is built from besides its own route (or fallback) and its upstreams: when two
 * tables have equal ones, a host compiled for one is what the other would compile.
 */
interface TargetInputs {
  readonly compileStages: StageCompiler;
  readonly settings: {
    readonly https: HttpsSettings;
    readonly useForwardedHeaders: boolean;
    readonly bodySizeLimit: number;
    readonly timeouts: TimeoutPolicy | null;
    readonly nextUpstream: NextUpstreamPolicy;
  };
}

function sameTargetInputs(a: TargetInputs, b: TargetInputs): boolean {
  return a.compileStages === b.compileStages && (a.settings === b.settings || isDeepStrictEqual(a.settings, b.settings));
}

/**
 * Upstreams by id as UpstreamPools prepares them for a table: `base` is the map they were prepared
 * from (the one the table being replaced routes to), `replaced` the ids whose Upstream is not
 * base's (added or removed), or null when that is not known.
 */
export interface UpstreamsSince {
  readonly byId: ReadonlyMap<string, Upstream>;
  readonly base: ReadonlyMap<string, Upstream>;
  readonly replaced: readonly string[] | null;
}

/** How a table finds its compiled hosts, kept so that the next table can derive its own from it. */
interface HostLookup {
  /** Each compiled host by its spec's name. */
  readonly byName: ShardedMap<CompiledHost>;
  /** Exact names (hosts and aliases) to the host that has them. */
  readonly exact: ShardedMap<CompiledHost>;
  /** Wildcard names keyed by the domain after `*.`: `*.foo.com` is found under `foo.com`. */
  readonly wildcard: ShardedMap<CompiledHost>;
  readonly catchAll: CompiledHost | null;
  /** The names of the hosts that list each alias: when several hosts have a name, the last in order wins. */
  readonly aliasClaims: ShardedMap<readonly string[]>;
  /** The names of the hosts whose targets hold each upstream id's Upstream, to compile again when it is replaced. */
  readonly upstreamUsers: ShardedIndex;
  /** Whether the spec's hosts were strictly sorted by name: only then can the next table walk them. */
  readonly sorted: boolean;
}

const hostName = (virtualHost: VirtualHostSpec): string => virtualHost.host;

type LookupBuilder = ShardedMapBuilder<CompiledHost>;

/** Puts a host under one of its names (exact or wildcard; the catch-all's '' is no name). */
function placeName(name: string, compiled: CompiledHost | undefined, exact: LookupBuilder, wildcard: LookupBuilder): void {
  const isWildcard = name.startsWith('*.');
  if (!isWildcard && name === '') return;
  const map = isWildcard ? wildcard : exact;
  const key = isWildcard ? name.slice(2) : name;
  if (compiled === undefined) map.delete(key);
  else map.set(key, compiled);
}

function addClaim(claims: ShardedMapBuilder<readonly string[]>, alias: string, host: string): void {
  const claimants = claims.get(alias) ?? [];
  if (!claimants.includes(host)) claims.set(alias, [...claimants, host]);
}

function removeClaim(claims: ShardedMapBuilder<readonly string[]>, alias: string, host: string): void {
  const claimants = claims.get(alias);
  if (claimants === undefined) return;
  const rest = claimants.filter((claimant) => claimant !== host);
  if (rest.length === 0) claims.delete(alias);
  else claims.set(alias, rest);
}

/**
 * The lookup for these hosts, each compiled or taken over from `lent` (the previous table's, when
 * its target inputs are this table's) when it has the very spec object and the same upstreams.
 * A name several hosts have goes to the last of them in the list.
 */
function lookupFromScratch(virtualHosts: readonly VirtualHostSpec[], compile: (virtualHost: VirtualHostSpec) => CompiledHost, lent: HostLookup | null, byId: ReadonlyMap<string, Upstream>): HostLookup {
  const byName = ShardedMap.empty<CompiledHost>().builder();
  const exact = ShardedMap.empty<CompiledHost>().builder();
  const wildcard = ShardedMap.empty<CompiledHost>().builder();
  const aliasClaims = ShardedMap.empty<readonly string[]>().builder();
  const upstreamUsers = ShardedIndex.empty().builder();
  let catchAll: CompiledHost | null = null;
  for (const virtualHost of virtualHosts) {
    const inherited = lent?.byName.get(virtualHost.host);
    const compiled = inherited !== undefined && inherited.spec === virtualHost && holdsSameUpstreams(inherited, byId) ? inherited : compile(virtualHost);
    byName.set(virtualHost.host, compiled);
    if (virtualHost.host === '') catchAll = compiled;
    placeName(virtualHost.host, compiled, exact, wildcard);
    for (const alias of virtualHost.aliases ?? []) {
      placeName(alias, compiled, exact, wildcard);
      addClaim(aliasClaims, alias, virtualHost.host);
    }
    for (const id of compiled.upstreams.keys()) upstreamUsers.add(id, virtualHost.host);
  }
  return { byName: byName.build(), exact: exact.build(), wildcard: wildcard.build(), catchAll, aliasClaims: aliasClaims.build(), upstreamUsers: upstreamUsers.build(), sorted: isStrictlySorted(virtualHosts, hostName) };
}

/**
 * `previous` (a lookup of hosts sorted by name) with these hosts changed, and the hosts whose
 * Upstreams were replaced compiled again; everything else is shared with it. With the hosts sorted,
 * the last of the hosts that have a name is the one with the greatest name.
 */
function lookupFromChanges(previous: HostLookup, changes: readonly Change<VirtualHostSpec>[], replaced: readonly string[], byId: ReadonlyMap<string, Upstream>, compile: (virtualHost: VirtualHostSpec) => CompiledHost): HostLookup {
  /** Each host to compile: its spec, or null when it is gone. */
  const touched = new Map<string, VirtualHostSpec | null>();
  for (const change of changes) touched.set(change.key, change.after ?? null);
  for (const id of replaced) {
    for (const name of previous.upstreamUsers.membersOf(id)) {
      const compiled = previous.byName.get(name);
      if (compiled !== undefined && !touched.has(name) && !holdsSameUpstreams(compiled, byId)) touched.set(name, compiled.spec);
    }
  }
  if (touched.size === 0) return previous;

  const byName = previous.byName.builder();
  const aliasClaims = previous.aliasClaims.builder();
  const upstreamUsers = previous.upstreamUsers.builder();
  /** The names whose host may have changed. */
  const names = new Set<string>();
  for (const [name, spec] of touched) {
    const before = previous.byName.get(name);
    const after = spec === null ? undefined : compile(spec);
    names.add(name);
    if (after === undefined) byName.delete(name);
    else byName.set(name, after);
    for (const alias of before?.spec.aliases ?? []) {
      names.add(alias);
      removeClaim(aliasClaims, alias, name);
    }
    for (const alias of spec?.aliases ?? []) {
      names.add(alias);
      addClaim(aliasClaims, alias, name);
    }
    for (const id of before?.upstreams.keys() ?? []) {
      if (!after?.upstreams.has(id)) upstreamUsers.delete(id, name);
    }
    for (const id of after?.upstreams.keys() ?? []) {
      if (!before?.upstreams.has(id)) upstreamUsers.add(id, name);
    }
  }

  const exact = previous.exact.builder();
  const wildcard = previous.wildcard.builder();
  for (const name of names) {
    let winner = byName.has(name) ? name : undefined;
    for (const claimant of aliasClaims.get(name) ?? []) {
      if (winner === undefined || claimant > winner) winner = claimant;
    }
    placeName(name, winner === undefined ? undefined : byName.get(winner), exact, wildcard);
  }
  return { byName: byName.build(), exact: exact.build(), wildcard: wildcard.build(), catchAll: byName.get('') ?? null, aliasClaims: aliasClaims.build(), upstreamUsers: upstreamUsers.build(), sorted: true };
}

/**
 * Throws what compiling these hosts would throw (a regex path RE2 refuses), without compiling them:
 * for a process that only passes tables on (the workers' primary).
 */
export function validateHosts(virtualHosts: readonly VirtualHostSpec[]): void {
  for (const virtualHost of virtualHosts) {
    for (const route of virtualHost.routes) {
      if (route.match !== 'regex') continue;
      const compiled = compilePathRegex(route.path);
      if (!compiled.ok) throw new Error(`regex path "${route.path}": ${compiled.error}`);
    }
  }
}

export class RouteTable {
  readonly spec: RouteTableSpec;
  readonly https: HttpsSettings;
  /** What changes every response head, whichever route (or none) answers: HSTS on HTTPS. */
  readonly responseStages: readonly ResponseStage[];
  /** How client headers are rewritten for requests that don't change the Host (see headers.ts). */
  readonly headerPolicy: HeaderPolicy;
  /** ConfigMap use-forwarded-headers. */
  readonly useForwardedHeaders: boolean;
  /** The peers trusted to name the client in X-Forwarded-For (proxy-real-ip-cidr), or null. */
  readonly realIpFrom: BlockList | null;
  readonly #hosts: HostLookup;
  readonly #defaultTarget: Target | null;
  readonly #upstreams: ReadonlyMap<string, Upstream>;
  /** from-to-www-redirect: host redirected from, to host redirected to. */
  readonly #hostRedirects: ReadonlyMap<string, string>;
  readonly #targetInputs: TargetInputs;

  /**
   * `upstreams` are the ones to route to, by id (UpstreamPools, so balancer state outlives the
   * swap); absent, the table makes its own from the spec. `previous`, the table this one replaces,
   * lends its compiled hosts: a host whose spec is the very object `previous` compiled, whose
   * upstreams are the same Upstream objects and whose table-wide inputs (settings, stage compiler)
   * are equal, is taken over as it is instead of compiled again. Anything else compiles. When both
   * tables' hosts are sorted by name and the upstreams say which of them were replaced since
   * `previous` (UpstreamsSince), only the hosts that differ are looked at: the lookup maps are
   * `previous`'s with those changes.
   */
  constructor(spec: RouteTableSpec, compileStages: StageCompiler = NO_STAGE_COMPILER, upstreams?: ReadonlyMap<string, Upstream> | UpstreamsSince, previous: RouteTable | null = null) {
    this.spec = spec;
    this.https = spec.https ?? DEFAULT_HTTPS_SETTINGS;
    this.useForwardedHeaders = spec.useForwardedHeaders ?? false;
    this.realIpFrom = spec.realIpFrom ? (previous?.spec.realIpFrom === spec.realIpFrom ? previous.realIpFrom : blockListOf(spec.realIpFrom)) : null;
    const settings: TableSettings = { https: this.https, useForwardedHeaders: this.useForwardedHeaders };
    this.responseStages = this.https.hsts ? [hstsStage(this.https.hsts)] : NO_RESPONSE_STAGES;
    const since = upstreams !== undefined && 'replaced' in upstreams ? upstreams : null;
    const byId: ReadonlyMap<string, Upstream> = since?.byId ?? (upstreams as ReadonlyMap<string, Upstream> | undefined) ?? new Map(spec.upstreams.map((upstream) => [upstream.id, new Upstream(upstream)]));
    const upstreamOf = (id: string): Upstream => byId.get(id) ?? new Upstream({ id, namespace: '', service: '', servicePort: '', endpoints: [] });
    const table: TableStages = {
      compile: (target) => compileStages(target, settings),
      responseStages: this.responseStages,
      bodySizeLimit: spec.bodySizeLimit ?? DEFAULT_BODY_SIZE_LIMIT,
      timeouts: spec.timeouts ?? null,
      nextUpstream: spec.nextUpstream ?? DEFAULT_NEXT_UPSTREAM,
      upstreamOf,
    };
    this.#targetInputs = {
      compileStages,
      settings: { https: this.https, useForwardedHeaders: this.useForwardedHeaders, bodySizeLimit: table.bodySizeLimit, timeouts: table.timeouts, nextUpstream: table.nextUpstream },
    };
    this.headerPolicy = { hostFromTarget: null, underscoresInHeaders: spec.underscoresInHeaders ?? false };
    this.#hostRedirects = previous !== null && previous.spec.hostRedirects === spec.hostRedirects ? previous.#hostRedirects : new Map((spec.hostRedirects ?? []).map((redirect) => [redirect.from, redirect.to]));
    this.#upstreams = byId;

    this.#defaultTarget = spec.defaultBackend ? makeTarget(upstreamOf(spec.defaultBackend.upstream), null, spec.defaultBackend, table) : null;
    const lender = previous !== null && sameTargetInputs(previous.#targetInputs, this.#targetInputs) ? previous : null;
    const compile = (virtualHost: VirtualHostSpec): CompiledHost => compileHost(virtualHost, table);
    // `replaced` tells what changed for the lender's hosts only if the upstreams were prepared from the ones it routes to.
    const replaced = lender !== null && since !== null && since.base === lender.#upstreams ? since.replaced : null;
    const changes = lender !== null && replaced !== null && lender.#hosts.sorted ? sortedChanges(lender.spec.virtualHosts, spec.virtualHosts, hostName) : null;
    this.#hosts =
      lender !== null && replaced !== null && changes !== null ? lookupFromChanges(lender.#hosts, changes, replaced, byId, compile) : lookupFromScratch(spec.virtualHosts, compile, lender === null ? null : lender.#hosts, byId);
  }

  /** The host a from-to-www-redirect sends this host to, or undefined. */
  hostRedirectFor(host: string): string | undefined {
    return this.#hostRedirects.size === 0 ? undefined : this.#hostRedirects.get(host);
  }

  /**
   * Gives these upstreams their new endpoints, in place: routes, hosts and certificates stay as
   * compiled. False, changing nothing, when one of them is not in this table (then swap instead).
   */
  updateEndpoints(upstreams: readonly UpstreamSpec[]): boolean {
    if (!upstreams.every((upstream) => this.#upstreams.has(upstream.id))) return false;
    for (const upstream of upstreams) this.#upstreams.get(upstream.id)?.setEndpoints(upstream.endpoints);
    return true;
  }

  static empty(): RouteTable {
    return new RouteTable({ virtualHosts: [], defaultBackend: null, upstreams: [] });
  }

  #hostFor(host: string): CompiledHost | undefined {
    const exact = this.#hosts.exact.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    // A wildcard covers exactly one extra label, so only the first label is stripped.
    return dot > 0 ? this.#hosts.wildcard.get(host.slice(dot + 1)) : undefined;
  }

  /** True when a rule names this host (exactly or by wildcard), so it isn't the default server's. */
  hasNamedHost(host: string): boolean {
    return this.#hostFor(host) !== undefined;
  }

  /**
   * Where a request goes, or null for the built-in 404. `host` and `path` must already be
   * normalized (hostForMatching, pathForMatching).
   */
  match(host: string, path: string): Target | null {
    const compiled = this.#hostFor(host) ?? this.#hosts.catchAll;
    if (!compiled) return this.#defaultTarget;
    return compiled.match(path) ?? compiled.fallback ?? this.#defaultTarget;
  }
}

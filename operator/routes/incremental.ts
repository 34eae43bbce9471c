// The incremental route computation: the result computeRoutes would give for each snapshot, at a
// cost in proportion to what changed rather than to what exists. Ingresses are kept in partitions,
// the sets that linkKeysOf links (usually one Ingress, or the few that share a host). Each
// partition remembers what it read besides its Ingresses: Services, EndpointSlices, Secrets and
// ConfigMaps by key, and which names it asked were TLS hosts. A change recomputes the partitions of
// the Ingresses it touched and those that read a changed object; the rest keep their results,
// object for object, which lets the proxy keep their compiled hosts. A change to what every
// partition reads (the IngressClasses, the controller ConfigMap) computes everything again.
// computeRoutes stays the reference: test/routes/incremental.test.ts holds the two to one result.
import { isDeepStrictEqual } from 'node:util';
import type { Ingress } from '../model.ts';
import type { Snapshot } from '../store.ts';
import { AnnotationCache } from '../annotations/registry.ts';
import { readyPortNames, refreshUpstream } from './backends.ts';
import { assemble, computePartition, computeSharedPart, linkKeysOf, readSharedSettings, type Partition, type PartitionLists, type SharedInputs } from './compute.ts';
import { refKey, warningKey } from './compare.ts';
import { ownership } from './ownership.ts';
import { SortedEntries } from './sorted-entries.ts';
import { CertificateCache, earlier, preferredCertificate, tlsHostsOf } from './tls.ts';
import type { CertificateSpec, FallbackSpec, IngressStatus, ObjectRef, RouteComputation, RouteOptions, RouteWarning, TlsFallback, UpstreamSpec } from './types.ts';

interface PartitionEntry {
  /** Its Ingresses, by `namespace/name`. */
  readonly members: readonly string[];
  readonly result: Partition;
  /** What it read: `svc:`, `eps:`, `secret:`, `cm:` and a key, or `tls:` and a host name. */
  readonly reads: readonly string[];
}

function refused(): never {
  throw new Error('a partition reads objects by key, never the whole of a kind');
}

/** A map that notes every key asked of it, and refuses to be listed (a partition must not depend on everything). */
class RecordingMap<V> implements ReadonlyMap<string, V> {
  readonly #inner: ReadonlyMap<string, V>;
  readonly #prefix: string;
  readonly #reads: Set<string>;

  constructor(inner: ReadonlyMap<string, V>, prefix: string, reads: Set<string>) {
    this.#inner = inner;
    this.#prefix = prefix;
    this.#reads = reads;
  }

  get(key: string): V | undefined {
    this.#reads.add(this.#prefix + key);
    return this.#inner.get(key);
  }

  has(key: string): boolean {
    this.#reads.add(this.#prefix + key);
    return this.#inner.has(key);
  }

  get size(): number {
    return refused();
  }

  forEach(): void {
    refused();
  }

  entries(): MapIterator<[string, V]> {
    return refused();
  }

  keys(): MapIterator<string> {
    return refused();
  }

  values(): MapIterator<V> {
    return refused();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return refused();
  }
}

/** The snapshot as a partition sees it: objects by key, each read noted in `reads`. */
function recordingSnapshot(snapshot: Snapshot, reads: Set<string>): Snapshot {
  return {
    revision: snapshot.revision,
    get ingresses(): never {
      return refused();
    },
    get ingressesByKey(): never {
      return refused();
    },
    get ingressClasses(): never {
      return refused();
    },
    services: new RecordingMap(snapshot.services, 'svc:', reads),
    endpointSlicesByService: new RecordingMap(snapshot.endpointSlicesByService, 'eps:', reads),
    secrets: new RecordingMap(snapshot.secrets, 'secret:', reads),
    configMaps: new RecordingMap(snapshot.configMaps, 'cm:', reads),
  };
}

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

/** The partitions' lists, joined and kept sorted as partitions come and go. */
class JoinedLists {
  readonly #virtualHosts = new SortedEntries<Partition['virtualHosts'][number]>();
  readonly #upstreams = new SortedEntries<UpstreamSpec>();
  /** How many partitions use each upstream. */
  readonly #upstreamUsers = new Map<string, number>();
  /** Upstream ids by the Service (`namespace/name`) whose endpoints they carry. */
  readonly #upstreamsOfService = new Map<string, Set<string>>();
  readonly #warnings = new SortedEntries<readonly RouteWarning[]>();
  readonly #statuses = new SortedEntries<IngressStatus>();
  readonly #ignored = new SortedEntries<ObjectRef>();
  readonly #defaultBackends = new Set<PartitionEntry>();
  readonly #hostRedirects = new SortedEntries<Partition['hostRedirects'][number]>();
  readonly #passthrough = new SortedEntries<Partition['passthrough'][number]>();
  readonly #tlsHosts = new SortedEntries<Partition['tlsHosts'][number]>();
  /** Each certificate id with every partition's spec of it (one is used, see preferredCertificate). */
  readonly #certificateSpecs = new Map<string, CertificateSpec[]>();
  readonly #certificates = new SortedEntries<CertificateSpec>();
  readonly #changingCertificates = new Set<PartitionEntry>();
  readonly #tlsFallbacks = new SortedEntries<readonly TlsFallback[]>();
  /** The flattened lists of the last lists(), kept while their groups are unchanged. */
  #flatWarnings = flatOnce<RouteWarning>();
  #flatFallbacks = flatOnce<TlsFallback>();

  add(entry: PartitionEntry): void {
    const result = entry.result;
    for (const host of result.virtualHosts) this.#virtualHosts.set(host.host, host);
    for (const upstream of result.upstreams) {
      this.#upstreamUsers.set(upstream.id, (this.#upstreamUsers.get(upstream.id) ?? 0) + 1);
      addTo(this.#upstreamsOfService, `${upstream.namespace}/${upstream.service}`, upstream.id);
      // The newest spec: computed from the snapshot now, where an older partition's may be from before.
      this.#upstreams.set(upstream.id, upstream);
    }
    for (const [key, warnings] of groupBy(result.warnings, warningKey)) this.#warnings.set(key, warnings);
    for (const ref of result.served) this.#statuses.set(refKey(ref), { ingress: ref });
    for (const ref of result.ignored) this.#ignored.set(refKey(ref), ref);
    if (result.defaultBackend) this.#defaultBackends.add(entry);
    for (const redirect of result.hostRedirects) this.#hostRedirects.set(redirect.from, redirect);
    for (const passthrough of result.passthrough) this.#passthrough.set(passthrough.host, passthrough);
    for (const tlsHost of result.tlsHosts) this.#tlsHosts.set(tlsHost.host, tlsHost);
    for (const certificate of result.certificates) {
      const specs = [...(this.#certificateSpecs.get(certificate.id) ?? []), certificate];
      this.#certificateSpecs.set(certificate.id, specs);
      this.#certificates.set(certificate.id, specs.reduce<CertificateSpec | undefined>(preferredCertificate, undefined) as CertificateSpec);
    }
    if (result.certificatesChangeAt !== null) this.#changingCertificates.add(entry);
    for (const [key, fallbacks] of groupBy(result.tlsFallbacks, (fallback) => refKey(fallback.ingress))) this.#tlsFallbacks.set(key, fallbacks);
  }

  remove(entry: PartitionEntry): void {
    const result = entry.result;
    for (const host of result.virtualHosts) this.#virtualHosts.delete(host.host);
    for (const upstream of result.upstreams) {
      const users = (this.#upstreamUsers.get(upstream.id) ?? 1) - 1;
      if (users > 0) {
        this.#upstreamUsers.set(upstream.id, users);
        continue;
      }
      this.#upstreamUsers.delete(upstream.id);
      this.#upstreams.delete(upstream.id);
      removeFrom(this.#upstreamsOfService, `${upstream.namespace}/${upstream.service}`, upstream.id);
    }
    for (const warning of result.warnings) this.#warnings.delete(warningKey(warning));
    for (const ref of result.served) this.#statuses.delete(refKey(ref));
    for (const ref of result.ignored) this.#ignored.delete(refKey(ref));
    this.#defaultBackends.delete(entry);
    for (const redirect of result.hostRedirects) this.#hostRedirects.delete(redirect.from);
    for (const passthrough of result.passthrough) this.#passthrough.delete(passthrough.host);
    for (const tlsHost of result.tlsHosts) this.#tlsHosts.delete(tlsHost.host);
    for (const certificate of result.certificates) {
      const specs = (this.#certificateSpecs.get(certificate.id) ?? []).filter((spec) => spec !== certificate);
      if (specs.length > 0) {
        this.#certificateSpecs.set(certificate.id, specs);
        this.#certificates.set(certificate.id, specs.reduce<CertificateSpec | undefined>(preferredCertificate, undefined) as CertificateSpec);
      } else {
        this.#certificateSpecs.delete(certificate.id);
        this.#certificates.delete(certificate.id);
      }
    }
    this.#changingCertificates.delete(entry);
    for (const fallback of result.tlsFallbacks) this.#tlsFallbacks.delete(refKey(fallback.ingress));
  }

  /** Partitions with a certificate that expires or becomes valid at some instant. */
  get changingCertificates(): ReadonlySet<PartitionEntry> {
    return this.#changingCertificates;
  }

  upstreamsOfService(service: string): readonly UpstreamSpec[] {
    return [...(this.#upstreamsOfService.get(service) ?? [])].map((id) => this.#upstreams.get(id) as UpstreamSpec);
  }

  /** New endpoints for an upstream the partitions use (nothing else about it changed). */
  replaceUpstream(upstream: UpstreamSpec): void {
    if (this.#upstreams.get(upstream.id) !== undefined) this.#upstreams.set(upstream.id, upstream);
  }

  lists(): PartitionLists {
    let defaultBackend: FallbackSpec | null = null;
    for (const entry of this.#defaultBackends) defaultBackend = entry.result.defaultBackend;
    let certificatesChangeAt: number | null = null;
    for (const entry of this.#changingCertificates) certificatesChangeAt = earlier(certificatesChangeAt, entry.result.certificatesChangeAt);
    return {
      virtualHosts: this.#virtualHosts.list(),
      upstreams: this.#upstreams.list(),
      warnings: this.#flatWarnings(this.#warnings.list()),
      statuses: this.#statuses.list(),
      ignored: this.#ignored.list(),
      defaultBackend,
      hostRedirects: this.#hostRedirects.list(),
      passthrough: this.#passthrough.list(),
      tlsHosts: this.#tlsHosts.list(),
      certificates: this.#certificates.list(),
      certificatesChangeAt,
      tlsFallbacks: this.#flatFallbacks(this.#tlsFallbacks.list()),
    };
  }
}

/** Flattens a list of groups, giving the same array again while the list is the same. */
function flatOnce<T>(): (groups: readonly (readonly T[])[]) => readonly T[] {
  let last: readonly (readonly T[])[] | null = null;
  let flat: readonly T[] = [];
  return (groups) => {
    if (groups !== last) {
      last = groups;
      flat = groups.flat();
    }
    return flat;
  };
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** The options that stay the same from one computation to the next (the clock is given to each). */
export type IncrementalOptions = Omit<RouteOptions, 'now' | 'annotationCache' | 'certificateCache'>;

/** Everything one run of computations keeps; a new one is started when what every partition reads changes. */
class State {
  readonly settings: ReturnType<typeof readSharedSettings>;
  /** The link keys of each served Ingress, and the Ingresses under each key. */
  readonly links = new Map<string, readonly string[]>();
  readonly linked = new Map<string, Set<string>>();
  /** The TLS hosts each served Ingress lists, and how many list each. */
  readonly tlsHostsOf = new Map<string, readonly string[]>();
  readonly tlsHostCounts = new Map<string, number>();
  readonly partitionOf = new Map<string, PartitionEntry>();
  /** The partitions that read each key. */
  readonly readers = new Map<string, Set<PartitionEntry>>();
  readonly joined = new JoinedLists();

  constructor(settings: ReturnType<typeof readSharedSettings>) {
    this.settings = settings;
  }
}

export class IncrementalRoutes {
  readonly #options: IncrementalOptions;
  readonly #annotationCache = new AnnotationCache();
  readonly #certificateCache = new CertificateCache();
  #state: State | null = null;
  #previous: Snapshot | null = null;
  #lastScope: 'all' | 'changes' = 'all';

  constructor(options: IncrementalOptions) {
    this.#options = options;
  }

  /** Whether the last update computed every Ingress (a first snapshot, a snapshot of another store, IngressClasses or the controller ConfigMap changed) or only what changed. */
  get lastScope(): 'all' | 'changes' {
    return this.#lastScope;
  }

  /** The routes for this snapshot, as computeRoutes(snapshot, { ...options, now }) gives them. */
  update(snapshot: Snapshot, now?: number): RouteComputation {
    const options: RouteOptions = { ...this.#options, ...(now !== undefined ? { now } : {}) };
    const previous = this.#previous;
    this.#previous = snapshot;
    const changes = snapshot.changes;
    const configMapKey = options.configMap ? `${options.configMap.namespace}/${options.configMap.name}` : null;
    const state = this.#state;
    if (state === null || previous === null || changes === undefined || changes.since !== previous.revision || changes.keys.IngressClass.size > 0 || (configMapKey !== null && changes.keys.ConfigMap.has(configMapKey))) {
      this.#lastScope = 'all';
      return this.#rebuild(snapshot, options);
    }
    this.#lastScope = 'changes';
    const keys = changes.keys;
    const dirty = new Set<PartitionEntry>();
    const readersOf = (read: string): void => {
      for (const entry of state.readers.get(read) ?? []) dirty.add(entry);
    };
    for (const key of keys.Service) readersOf(`svc:${key}`);
    for (const key of keys.ConfigMap) readersOf(`cm:${key}`);
    for (const key of keys.Secret) {
      readersOf(`secret:${key}`);
      if (!snapshot.secrets.has(key)) this.#certificateCache.forget(key);
    }
    // Endpoints that moved while the same ports stay ready change upstreams only, not a single route.
    const movedOnly: string[] = [];
    for (const service of keys.EndpointSlice) {
      if (sameReadyPorts(previous, snapshot, service)) movedOnly.push(service);
      else readersOf(`eps:${service}`);
    }
    if (now !== undefined) {
      for (const entry of state.joined.changingCertificates) if ((entry.result.certificatesChangeAt as number) <= now) dirty.add(entry);
    }
    // An Ingress whose routing fields are as they were (its status was written, say) changes no route.
    const changedIngresses = [...keys.Ingress].filter((key) => !sameRouting(previous.ingressesByKey.get(key), snapshot.ingressesByKey.get(key)));
    for (const key of changedIngresses) {
      for (const name of this.#index(state, options, key, snapshot.ingressesByKey.get(key))) readersOf(`tls:${name}`);
    }
    this.#recompute(state, snapshot, options, changedIngresses, dirty);
    for (const service of movedOnly) {
      for (const upstream of state.joined.upstreamsOfService(service)) state.joined.replaceUpstream(refreshUpstream(snapshot, upstream));
    }
    return this.#output(state, snapshot, options);
  }

  #rebuild(snapshot: Snapshot, options: RouteOptions): RouteComputation {
    const state = new State(readSharedSettings(snapshot, options));
    this.#state = state;
    for (const [key, ingress] of snapshot.ingressesByKey) this.#index(state, options, key, ingress);
    this.#recompute(state, snapshot, options, snapshot.ingressesByKey.keys(), new Set());
    return this.#output(state, snapshot, options);
  }

  #output(state: State, snapshot: Snapshot, options: RouteOptions): RouteComputation {
    return assemble(computeSharedPart(snapshot, options, state.settings, this.#certificateCache), state.joined.lists());
  }

  /** Re-reads one Ingress's links and TLS hosts (none when it is gone or not ours); returns the TLS host names that appeared or disappeared. */
  #index(state: State, options: RouteOptions, key: string, ingress: Ingress | undefined): string[] {
    for (const link of state.links.get(key) ?? []) removeFrom(state.linked, link, key);
    state.links.delete(key);
    const flipped: string[] = [];
    for (const name of state.tlsHostsOf.get(key) ?? []) {
      const count = (state.tlsHostCounts.get(name) ?? 1) - 1;
      if (count > 0) state.tlsHostCounts.set(name, count);
      else {
        state.tlsHostCounts.delete(name);
        flipped.push(name);
      }
    }
    state.tlsHostsOf.delete(key);
    if (!ingress || !ownership(ingress, state.settings.classes, options).ours) return flipped;
    const links = linkKeysOf(ingress, this.#annotationCache.read(ingress, options.annotationsPrefix).config);
    state.links.set(key, links);
    for (const link of links) addTo(state.linked, link, key);
    const tlsHosts = [...new Set(tlsHostsOf(ingress))];
    state.tlsHostsOf.set(key, tlsHosts);
    for (const name of tlsHosts) {
      const count = state.tlsHostCounts.get(name) ?? 0;
      state.tlsHostCounts.set(name, count + 1);
      if (count === 0) flipped.push(name);
    }
    return flipped;
  }

  /**
   * Computes again the partitions of these Ingresses and these partitions: first everything they
   * reach (their old partitions, and whatever their links reach now), then the linked sets in it.
   */
  #recompute(state: State, snapshot: Snapshot, options: RouteOptions, ingresses: Iterable<string>, partitions: ReadonlySet<PartitionEntry>): void {
    const reached: string[] = [];
    const seen = new Set<string>();
    const removed = new Set<PartitionEntry>();
    const reach = (key: string): void => {
      if (seen.has(key)) return;
      seen.add(key);
      reached.push(key);
    };
    const takeApart = (entry: PartitionEntry): void => {
      if (removed.has(entry)) return;
      removed.add(entry);
      for (const member of entry.members) reach(member);
    };
    for (const key of ingresses) reach(key);
    for (const entry of partitions) takeApart(entry);
    for (let index = 0; index < reached.length; index++) {
      const key = reached[index] as string;
      const old = state.partitionOf.get(key);
      if (old) takeApart(old);
      for (const link of state.links.get(key) ?? []) for (const other of state.linked.get(link) ?? []) reach(other);
    }

    for (const entry of removed) {
      state.joined.remove(entry);
      for (const read of entry.reads) removeFrom(state.readers, read, entry);
      for (const member of entry.members) if (state.partitionOf.get(member) === entry) state.partitionOf.delete(member);
    }

    const placed = new Set<string>();
    for (const key of reached) {
      if (placed.has(key) || !snapshot.ingressesByKey.has(key)) continue;
      const members = [key];
      placed.add(key);
      for (let index = 0; index < members.length; index++) {
        for (const link of state.links.get(members[index] as string) ?? []) {
          for (const other of state.linked.get(link) ?? []) {
            if (placed.has(other)) continue;
            placed.add(other);
            members.push(other);
          }
        }
      }
      this.#computePartition(state, snapshot, options, members);
    }
  }

  #computePartition(state: State, snapshot: Snapshot, options: RouteOptions, members: readonly string[]): void {
    const reads = new Set<string>();
    const shared: SharedInputs = {
      options,
      classes: state.settings.classes,
      settings: state.settings.settings,
      isTlsHost: (name) => {
        reads.add(`tls:${name}`);
        return state.tlsHostCounts.has(name);
      },
      annotationCache: this.#annotationCache,
      certificateCache: this.#certificateCache,
    };
    const ingresses = members.map((key) => snapshot.ingressesByKey.get(key) as Ingress);
    const result = computePartition(recordingSnapshot(snapshot, reads), ingresses, shared);
    const entry: PartitionEntry = { members, result, reads: [...reads] };
    for (const member of members) state.partitionOf.set(member, entry);
    for (const read of entry.reads) addTo(state.readers, read, entry);
    state.joined.add(entry);
  }
}

/** True when both are the same Ingress with the same fields a computation reads (all but status and bookkeeping metadata). */
function sameRouting(before: Ingress | undefined, after: Ingress | undefined): boolean {
  if (before === after) return true;
  if (before === undefined || after === undefined) return false;
  return before.metadata.creationTimestamp === after.metadata.creationTimestamp && isDeepStrictEqual(before.metadata.annotations, after.metadata.annotations) && isDeepStrictEqual(before.spec, after.spec);
}

/** True when the Service has ready endpoints on the same ports in both snapshots. */
function sameReadyPorts(before: Snapshot, after: Snapshot, service: string): boolean {
  const was = readyPortNames(before.endpointSlicesByService.get(service) ?? []);
  const is = readyPortNames(after.endpointSlicesByService.get(service) ?? []);
  return was.size === is.size && [...was].every((name) => is.has(name));
}

// What changed between two route tables, small enough to send to every proxy worker instead of the
// whole table (a structured clone of megabytes at 10,000 Ingresses), and how a worker rebuilds the
// new table from the one it has. The lists kept sorted by a unique key (hosts by name, upstreams
// by id, certificates by id, TLS hosts by name) travel as the entries added or changed and the
// keys removed; every other field travels whole, and only when it changed. Entries that did not
// change stay the receiver's own objects, so its RouteTable can take their compiled hosts over.
import { isDeepStrictEqual } from 'node:util';
import type { CertificateSpec, RouteTableSpec, TlsHostSpec, TlsSpec, UpstreamSpec, VirtualHostSpec } from './route-spec.ts';

/** A sorted, keyed list's changes; or, when either list is not sorted by a unique key, the new list whole. */
export type ListDelta<T> = { readonly upserted: readonly T[]; readonly removed: readonly string[] } | { readonly whole: readonly T[] };

/** A TLS spec's changes, when both tables have one. */
export interface TlsDelta {
  readonly certificates: ListDelta<CertificateSpec>;
  readonly hosts: ListDelta<TlsHostSpec>;
  /** Its other fields (the default certificate), whole. */
  readonly rest: Omit<TlsSpec, 'certificates' | 'hosts'>;
}

/** The table's fields besides its keyed lists. */
type OtherFields = Omit<RouteTableSpec, 'virtualHosts' | 'upstreams'>;

export interface RouteTableDelta {
  readonly virtualHosts: ListDelta<VirtualHostSpec>;
  readonly upstreams: ListDelta<UpstreamSpec>;
  /** Set when both tables have TLS and it changed (then `tls` is in neither `changed` nor `cleared`). */
  readonly tls?: TlsDelta;
  /** The new value of every other field that changed or appeared. */
  readonly changed: Partial<OtherFields>;
  /** The fields the new table no longer has. */
  readonly cleared: readonly (keyof OtherFields)[];
}

const hostName = (virtualHost: VirtualHostSpec): string => virtualHost.host;
const upstreamId = (upstream: UpstreamSpec): string => upstream.id;
const certificateId = (certificate: CertificateSpec): string => certificate.id;
const tlsHostName = (host: TlsHostSpec): string => host.host;

/** Equal as data: the same object, or the same structure (class instances such as KeyMaterial by their fields, which JSON would hide). */
function sameData(a: unknown, b: unknown): boolean {
  return a === b || isDeepStrictEqual(a, b);
}

/** The operator's order: by UTF-16 code units, as `<` compares strings. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function strictlySorted<T>(items: readonly T[], keyOf: (item: T) => string): boolean {
  for (let index = 1; index < items.length; index++) {
    if (compareKeys(keyOf(items[index - 1] as T), keyOf(items[index] as T)) >= 0) return false;
  }
  return true;
}

export function listDelta<T>(previous: readonly T[], next: readonly T[], keyOf: (item: T) => string): ListDelta<T> {
  if (previous === next) return { upserted: [], removed: [] };
  if (!strictlySorted(previous, keyOf) || !strictlySorted(next, keyOf)) return { whole: next };
  const upserted: T[] = [];
  const removed: string[] = [];
  let before = 0;
  let after = 0;
  // One walk over both sorted lists: a key in only one of them was removed or added.
  while (before < previous.length || after < next.length) {
    const old = previous[before];
    const now = next[after];
    const order = old === undefined ? 1 : now === undefined ? -1 : compareKeys(keyOf(old), keyOf(now));
    if (order < 0) {
      removed.push(keyOf(old as T));
      before++;
    } else if (order > 0) {
      upserted.push(now as T);
      after++;
    } else {
      if (!sameData(old, now)) upserted.push(now as T);
      before++;
      after++;
    }
  }
  return { upserted, removed };
}

export function applyListDelta<T>(current: readonly T[], delta: ListDelta<T>, keyOf: (item: T) => string): readonly T[] {
  if ('whole' in delta) return delta.whole;
  if (delta.upserted.length === 0 && delta.removed.length === 0) return current;
  const removed = new Set(delta.removed);
  const result: T[] = [];
  let index = 0;
  const keepUntil = (key: string | null): void => {
    for (; index < current.length; index++) {
      const item = current[index] as T;
      const order = key === null ? -1 : compareKeys(keyOf(item), key);
      if (order > 0) return;
      // An entry with the upserted key is replaced by it.
      if (order === 0) {
        index++;
        return;
      }
      if (!removed.has(keyOf(item))) result.push(item);
    }
  };
  for (const item of delta.upserted) {
    keepUntil(keyOf(item));
    result.push(item);
  }
  keepUntil(null);
  return result;
}

/** What turns `previous` into `next` with applyTableDelta. */
export function tableDelta(previous: RouteTableSpec, next: RouteTableSpec): RouteTableDelta {
  const changed: Record<string, unknown> = {};
  const cleared: (keyof OtherFields)[] = [];
  let tls: TlsDelta | undefined;
  const fields = new Set([...Object.keys(previous), ...Object.keys(next)]) as Set<keyof RouteTableSpec>;
  for (const field of fields) {
    if (field === 'virtualHosts' || field === 'upstreams') continue;
    if (!Object.hasOwn(next, field)) {
      cleared.push(field);
      continue;
    }
    if (Object.hasOwn(previous, field) && sameData(previous[field], next[field])) continue;
    if (field === 'tls' && previous.tls && next.tls) tls = tlsDelta(previous.tls, next.tls);
    else changed[field] = next[field];
  }
  return {
    virtualHosts: listDelta(previous.virtualHosts, next.virtualHosts, hostName),
    upstreams: listDelta(previous.upstreams, next.upstreams, upstreamId),
    ...(tls ? { tls } : {}),
    changed: changed as Partial<OtherFields>,
    cleared,
  };
}

function tlsDelta(previous: TlsSpec, next: TlsSpec): TlsDelta {
  const { certificates, hosts, ...rest } = next;
  return { certificates: listDelta(previous.certificates, certificates, certificateId), hosts: listDelta(previous.hosts, hosts, tlsHostName), rest };
}

/** `current` (the table the delta was computed from) with the delta applied; its unchanged entries stay its own objects. */
export function applyTableDelta(current: RouteTableSpec, delta: RouteTableDelta): RouteTableSpec {
  const result: Record<string, unknown> = { ...current, ...delta.changed };
  for (const field of delta.cleared) delete result[field];
  if (delta.tls && current.tls) {
    const { certificates, hosts, rest } = delta.tls;
    result.tls = { ...rest, certificates: applyListDelta(current.tls.certificates, certificates, certificateId), hosts: applyListDelta(current.tls.hosts, hosts, tlsHostName) };
  }
  result.virtualHosts = applyListDelta(current.virtualHosts, delta.virtualHosts, hostName);
  result.upstreams = applyListDelta(current.upstreams, delta.upstreams, upstreamId);
  return result as unknown as RouteTableSpec;
}

/** The hosts a receiver compiles anew: the added and changed ones. */
export function changedHosts(delta: RouteTableDelta): readonly VirtualHostSpec[] {
  return 'whole' in delta.virtualHosts ? delta.virtualHosts.whole : delta.virtualHosts.upserted;
}

/** `spec` with these upstreams' endpoints replaced, by id (what an endpoint update does to the table). */
export function withEndpointUpdates(spec: RouteTableSpec, upstreams: readonly UpstreamSpec[]): RouteTableSpec {
  const updated = new Map(upstreams.map((upstream) => [upstream.id, upstream]));
  return { ...spec, upstreams: spec.upstreams.map((upstream) => updated.get(upstream.id) ?? upstream) };
}

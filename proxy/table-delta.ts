// What changed between two route tables, small enough to send to every proxy worker instead of the
// whole table (a structured clone of megabytes at 10,000 Ingresses), and how a worker rebuilds the
// new table from the one it has. The lists kept sorted by a unique key (hosts by name, upstreams
// by id, certificates by id, TLS hosts by name) travel as the entries added or changed and the
// keys removed; every other field travels whole, and only when it changed. Entries that did not
// change stay the receiver's own objects, so its RouteTable can take their compiled hosts over.
// Both sides cost what changed: the sender walks the lists comparing objects by identity (the
// operator shares unchanged entries between tables), and the receiver places each change by
// binary search, copying the runs between them.
import { isDeepStrictEqual } from 'node:util';
import type { CertificateSpec, RouteTableSpec, TlsHostSpec, TlsSpec, UpstreamSpec, VirtualHostSpec } from './route-spec.ts';
import { indexOfKey, isStrictlySorted, lowerBound, sortedChanges } from './sorted-changes.ts';

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

/**
 * Which of a table's keyed lists are strictly sorted by key (an absent TLS spec's lists are empty,
 * so sorted): a delta from that table walks those without checking them again.
 */
export interface SortedLists {
  readonly virtualHosts: boolean;
  readonly upstreams: boolean;
  readonly certificates: boolean;
  readonly tlsHosts: boolean;
}

const hostName = (virtualHost: VirtualHostSpec): string => virtualHost.host;
const upstreamId = (upstream: UpstreamSpec): string => upstream.id;
const certificateId = (certificate: CertificateSpec): string => certificate.id;
const tlsHostName = (host: TlsHostSpec): string => host.host;

const NO_LIST_CHANGES = { upserted: [], removed: [] } as const;

/** Equal as data: the same object, or the same structure (class instances such as KeyMaterial by their fields, which JSON would hide). */
function sameData(a: unknown, b: unknown): boolean {
  return a === b || isDeepStrictEqual(a, b);
}

/** Checks every list of `spec` (once, for a table no delta has walked yet). */
export function sortedListsOf(spec: RouteTableSpec): SortedLists {
  return {
    virtualHosts: isStrictlySorted(spec.virtualHosts, hostName),
    upstreams: isStrictlySorted(spec.upstreams, upstreamId),
    certificates: isStrictlySorted(spec.tls?.certificates ?? [], certificateId),
    tlsHosts: isStrictlySorted(spec.tls?.hosts ?? [], tlsHostName),
  };
}

/** A list's delta, and whether `next` is sorted. */
interface WalkedList<T> {
  readonly delta: ListDelta<T>;
  readonly sorted: boolean;
}

function walkList<T>(previous: readonly T[], previousSorted: boolean, next: readonly T[], keyOf: (item: T) => string): WalkedList<T> {
  if (previous === next) return { delta: NO_LIST_CHANGES, sorted: previousSorted };
  const changes = previousSorted ? sortedChanges(previous, next, keyOf) : null;
  // Null from the walk means `next` is not sorted; an unsorted `previous` says nothing about it.
  if (changes === null) return { delta: { whole: next }, sorted: previousSorted ? false : isStrictlySorted(next, keyOf) };
  const upserted: T[] = [];
  const removed: string[] = [];
  for (const { key, before, after } of changes) {
    if (after === undefined) removed.push(key);
    else if (before === undefined || !sameData(before, after)) upserted.push(after);
  }
  return { delta: { upserted, removed }, sorted: true };
}

function isEmptyDelta<T>(delta: ListDelta<T>, previous: readonly T[]): boolean {
  return 'whole' in delta ? sameData(previous, delta.whole) : delta.upserted.length === 0 && delta.removed.length === 0;
}

/** What turns `previous` into `next` with applyListDelta; `previousSorted` when known spares checking it. */
export function listDelta<T>(previous: readonly T[], next: readonly T[], keyOf: (item: T) => string, previousSorted: boolean = isStrictlySorted(previous, keyOf)): ListDelta<T> {
  return walkList(previous, previousSorted, next, keyOf).delta;
}


/** Up to this many changes are spliced into a copy of the list (a copy is a memcpy); more are merged entry by entry. */
const SPLICE_LIMIT = 16;

export function applyListDelta<T>(current: readonly T[], delta: ListDelta<T>, keyOf: (item: T) => string): readonly T[] {
  if ('whole' in delta) return delta.whole;
  const { upserted, removed } = delta;
  if (upserted.length === 0 && removed.length === 0) return current;
  // `current`, `upserted` and `removed` are all in key order (the delta was walked from sorted
  // lists): each change is placed by binary search, after the one before it.
  const splicing = upserted.length + removed.length <= SPLICE_LIMIT;
  const result: T[] = splicing ? current.slice() : [];
  /** Splicing: where the next change's search starts in `result`. Merging: the entries of `current` placed so far. */
  let from = 0;
  let upsertIndex = 0;
  let removeIndex = 0;
  while (upsertIndex < upserted.length || removeIndex < removed.length) {
    const upsert = upserted[upsertIndex];
    const upsertKey = upsert === undefined ? undefined : keyOf(upsert);
    const removeKey = removed[removeIndex];
    const isUpsert = upsertKey !== undefined && (removeKey === undefined || upsertKey < removeKey);
    const key = (isUpsert ? upsertKey : removeKey) as string;
    const list = splicing ? result : current;
    const position = lowerBound(list, key, keyOf, from);
    // An entry with the key is replaced (upsert) or dropped (removal).
    const present = position < list.length && keyOf(list[position] as T) === key;
    if (splicing) {
      if (isUpsert) result.splice(position, present ? 1 : 0, upsert as T);
      else if (present) result.splice(position, 1);
      from = isUpsert ? position + 1 : position;
    } else {
      for (let index = from; index < position; index++) result.push(current[index] as T);
      if (isUpsert) result.push(upsert as T);
      from = present ? position + 1 : position;
    }
    if (isUpsert) upsertIndex++;
    else removeIndex++;
  }
  if (!splicing) for (let index = from; index < current.length; index++) result.push(current[index] as T);
  return result;
}

/** A delta, and which lists of the new table are sorted (what the delta after it starts from). */
export interface DeltaFrom {
  readonly delta: RouteTableDelta;
  readonly sorted: SortedLists;
}

/** What turns `previous` into `next` with applyTableDelta. */
export function tableDelta(previous: RouteTableSpec, next: RouteTableSpec): RouteTableDelta {
  return tableDeltaFrom(previous, sortedListsOf(previous), next).delta;
}

/**
 * What turns `previous`, whose lists are sorted as `previousSorted` says, into `next`: the lists
 * are walked by identity, comparing keys only where entries differ, and `next`'s sortedness is
 * found on the way (for the delta after this one).
 */
export function tableDeltaFrom(previous: RouteTableSpec, previousSorted: SortedLists, next: RouteTableSpec): DeltaFrom {
  const changed: Record<string, unknown> = {};
  const cleared: (keyof OtherFields)[] = [];
  let tls: TlsDelta | undefined;
  let tlsSorted = { certificates: previousSorted.certificates, tlsHosts: previousSorted.tlsHosts };
  const fields = new Set([...Object.keys(previous), ...Object.keys(next)]) as Set<keyof RouteTableSpec>;
  for (const field of fields) {
    if (field === 'virtualHosts' || field === 'upstreams') continue;
    if (!Object.hasOwn(next, field)) {
      cleared.push(field);
      continue;
    }
    if (field === 'tls' && previous.tls && next.tls) {
      // Walked rather than compared whole: the operator makes a new TLS spec for every table.
      const walked = walkTls(previous.tls, tlsSorted, next.tls);
      tls = walked.delta ?? undefined;
      tlsSorted = walked.sorted;
      continue;
    }
    if (Object.hasOwn(previous, field) && sameData(previous[field], next[field])) continue;
    changed[field] = next[field];
    if (field === 'tls') tlsSorted = { certificates: isStrictlySorted(next.tls?.certificates ?? [], certificateId), tlsHosts: isStrictlySorted(next.tls?.hosts ?? [], tlsHostName) };
  }
  const virtualHosts = walkList(previous.virtualHosts, previousSorted.virtualHosts, next.virtualHosts, hostName);
  const upstreams = walkList(previous.upstreams, previousSorted.upstreams, next.upstreams, upstreamId);
  return {
    delta: {
      virtualHosts: virtualHosts.delta,
      upstreams: upstreams.delta,
      ...(tls ? { tls } : {}),
      changed: changed as Partial<OtherFields>,
      cleared,
    },
    sorted: { virtualHosts: virtualHosts.sorted, upstreams: upstreams.sorted, ...tlsSorted },
  };
}

/** The TLS spec's delta, or null when nothing in it changed; and whether `next`'s lists are sorted. */
function walkTls(previous: TlsSpec, previousSorted: { readonly certificates: boolean; readonly tlsHosts: boolean }, next: TlsSpec): { delta: TlsDelta | null; sorted: { certificates: boolean; tlsHosts: boolean } } {
  const { certificates: previousCertificates, hosts: previousHosts, ...previousRest } = previous;
  const { certificates, hosts, ...rest } = next;
  const walkedCertificates = walkList(previousCertificates, previousSorted.certificates, certificates, certificateId);
  const walkedHosts = walkList(previousHosts, previousSorted.tlsHosts, hosts, tlsHostName);
  const sorted = { certificates: walkedCertificates.sorted, tlsHosts: walkedHosts.sorted };
  const unchanged = isEmptyDelta(walkedCertificates.delta, previousCertificates) && isEmptyDelta(walkedHosts.delta, previousHosts) && sameData(previousRest, rest);
  return { delta: unchanged ? null : { certificates: walkedCertificates.delta, hosts: walkedHosts.delta, rest }, sorted };
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

/** Where the upstream with this id is in the spec's list (sorted by id, else searched in full), or -1. */
function upstreamIndex(upstreams: readonly UpstreamSpec[], id: string): number {
  const index = indexOfKey(upstreams, id, upstreamId);
  return index !== -1 ? index : upstreams.findIndex((upstream) => upstream.id === id);
}

/** True when the spec has an upstream of each of these ids. */
export function hasUpstreams(spec: RouteTableSpec, upstreams: readonly UpstreamSpec[]): boolean {
  return upstreams.every((upstream) => upstreamIndex(spec.upstreams, upstream.id) !== -1);
}

/** `spec` with these upstreams' endpoints replaced, by id (what an endpoint update does to the table). */
export function withEndpointUpdates(spec: RouteTableSpec, upstreams: readonly UpstreamSpec[]): RouteTableSpec {
  const list = spec.upstreams.slice();
  for (const upstream of upstreams) {
    const index = upstreamIndex(list, upstream.id);
    if (index !== -1) list[index] = upstream;
  }
  return { ...spec, upstreams: list };
}

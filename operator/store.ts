// The store: typed maps of the objects a source has seen, keyed by namespace/name. Sources write
// to it; everything downstream reads a frozen Snapshot of it, never the live maps. A snapshot's
// maps are versions of the store's (ShardedMap: the next version shares what a change didn't
// touch), and it says what changed since the snapshot before it, so a change costs work in
// proportion to what it touched, not to how many objects there are.
import { KINDS, objectKey, type Kind, type KubeObject, type ObjectOf } from './model.ts';
import { ShardedMap, type ShardedMapBuilder } from '../proxy/sharded-map.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Keys that changed between two snapshots, by kind; EndpointSlices by the `namespace/service` they belong to. */
export type ChangedKeys = { readonly [K in Kind]: ReadonlySet<string> };

export interface SnapshotChanges {
  /** The `revision` of the snapshot these changes are relative to. */
  readonly since: symbol;
  readonly keys: ChangedKeys;
}

export interface Snapshot {
  /** Tells this snapshot apart from every other (a token, so snapshots don't keep each other alive). */
  readonly revision: symbol;
  /** Every Ingress (built on first use: most changes don't need the whole list). */
  readonly ingresses: readonly ObjectOf<'Ingress'>[];
  readonly ingressesByKey: ReadonlyMap<string, ObjectOf<'Ingress'>>;
  readonly ingressClasses: readonly ObjectOf<'IngressClass'>[];
  readonly services: ReadonlyMap<string, ObjectOf<'Service'>>;
  /** EndpointSlices grouped by the `namespace/service` their service-name label names. */
  readonly endpointSlicesByService: ReadonlyMap<string, readonly ObjectOf<'EndpointSlice'>[]>;
  readonly secrets: ReadonlyMap<string, ObjectOf<'Secret'>>;
  readonly configMaps: ReadonlyMap<string, ObjectOf<'ConfigMap'>>;
  /** What changed since the previous snapshot of the same store; absent for the first. */
  readonly changes?: SnapshotChanges;
}

type Maps = { [K in Kind]: ShardedMapBuilder<ObjectOf<K>> };
type Slice = ObjectOf<'EndpointSlice'>;

function serviceKeyOf(slice: Slice): string | null {
  const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return service ? `${slice.metadata.namespace}/${service}` : null;
}

/** The same object, or the same version of it (a relist brings equal objects anew). */
function isSame(before: KubeObject | undefined, after: KubeObject): boolean {
  if (before === after) return true;
  const version = after.metadata.resourceVersion;
  return before !== undefined && version !== undefined && before.metadata.resourceVersion === version;
}

function emptyChanges(): { [K in Kind]: Set<string> } {
  return Object.fromEntries(KINDS.map((kind) => [kind, new Set<string>()])) as unknown as { [K in Kind]: Set<string> };
}

export class Store {
  readonly #maps: Maps = Object.fromEntries(KINDS.map((kind) => [kind, ShardedMap.empty().builder()])) as unknown as Maps;
  readonly #slicesByService = ShardedMap.empty<readonly Slice[]>().builder();
  #changes = emptyChanges();
  #lastRevision: symbol | null = null;

  static fromObjects(objects: Iterable<KubeObject>): Store {
    const store = new Store();
    for (const object of objects) store.set(object);
    return store;
  }

  set(object: KubeObject): void {
    const key = objectKey(object.metadata);
    const map = this.#maps[object.kind] as ShardedMapBuilder<KubeObject>;
    if (object.kind === 'EndpointSlice') this.#moveSlice(map.get(key) as Slice | undefined, object);
    map.set(key, object);
    if (object.kind !== 'EndpointSlice') this.#changes[object.kind].add(key);
  }

  delete(kind: Kind, key: string): void {
    const map = this.#maps[kind] as ShardedMapBuilder<KubeObject>;
    const previous = map.get(key);
    if (previous === undefined) return;
    if (kind === 'EndpointSlice') this.#moveSlice(previous as Slice, undefined);
    map.delete(key);
    if (kind !== 'EndpointSlice') this.#changes[kind].add(key);
  }

  get<K extends Kind>(kind: K, key: string): ObjectOf<K> | undefined {
    return this.#maps[kind].get(key) as ObjectOf<K> | undefined;
  }

  /** Replaces every object of one kind (or only those `owns` picks, for a watch that sees part of it), as a relist does. */
  replaceKind<K extends Kind>(kind: K, objects: Iterable<ObjectOf<K>>, owns?: (object: ObjectOf<K>) => boolean): void {
    const fresh = new Map<string, ObjectOf<K>>();
    for (const object of objects) fresh.set(objectKey(object.metadata), object);
    for (const [key, object] of this.#maps[kind].build()) {
      if (!fresh.has(key) && (owns === undefined || owns(object))) this.delete(kind, key);
    }
    for (const [key, object] of fresh) if (!isSame(this.#maps[kind].get(key), object)) this.set(object as KubeObject);
  }

  /** Keeps the by-Service index of EndpointSlices in step, and notes both Services a relabelled slice touches. */
  #moveSlice(before: Slice | undefined, after: Slice | undefined): void {
    const from = before ? serviceKeyOf(before) : null;
    const to = after ? serviceKeyOf(after) : null;
    if (from !== null) {
      const rest = (this.#slicesByService.get(from) ?? []).filter((slice) => slice !== before);
      if (rest.length > 0) this.#slicesByService.set(from, rest);
      else this.#slicesByService.delete(from);
      this.#changes.EndpointSlice.add(from);
    }
    if (to !== null && after) {
      this.#slicesByService.set(to, [...(this.#slicesByService.get(to) ?? []).filter((slice) => slice !== before), after]);
      this.#changes.EndpointSlice.add(to);
    }
  }

  /**
   * A frozen view of the store now, with what changed since the previous one. The objects and
   * maps are shared, so nothing may mutate them.
   */
  snapshot(): Snapshot {
    const ingressesByKey = this.#maps.Ingress.build();
    let ingresses: readonly ObjectOf<'Ingress'>[] | null = null;
    const changes: ChangedKeys = { ...this.#changes };
    const revision = Symbol('snapshot');
    const snapshot: Snapshot = Object.freeze({
      revision,
      get ingresses() {
        ingresses ??= Object.freeze([...ingressesByKey.values()]);
        return ingresses;
      },
      ingressesByKey,
      ingressClasses: Object.freeze([...this.#maps.IngressClass.build().values()]),
      services: this.#maps.Service.build(),
      endpointSlicesByService: this.#slicesByService.build(),
      secrets: this.#maps.Secret.build(),
      configMaps: this.#maps.ConfigMap.build(),
      ...(this.#lastRevision ? { changes: { since: this.#lastRevision, keys: changes } } : {}),
    });
    this.#changes = emptyChanges();
    this.#lastRevision = revision;
    return snapshot;
  }
}

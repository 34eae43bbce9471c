// The store: typed maps of the objects a source has seen, keyed by namespace/name. Sources write
// to it; everything downstream reads a frozen Snapshot of it, never the live maps.
import { KINDS, objectKey, type Kind, type KubeObject, type ObjectOf } from './model.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface Snapshot {
  readonly ingresses: readonly ObjectOf<'Ingress'>[];
  readonly ingressClasses: readonly ObjectOf<'IngressClass'>[];
  readonly services: ReadonlyMap<string, ObjectOf<'Service'>>;
  /** EndpointSlices grouped by the `namespace/service` their service-name label names. */
  readonly endpointSlicesByService: ReadonlyMap<string, readonly ObjectOf<'EndpointSlice'>[]>;
  readonly secrets: ReadonlyMap<string, ObjectOf<'Secret'>>;
  readonly configMaps: ReadonlyMap<string, ObjectOf<'ConfigMap'>>;
}

type Maps = { [K in Kind]: Map<string, ObjectOf<K>> };

export class Store {
  readonly #maps: Maps = Object.fromEntries(KINDS.map((kind) => [kind, new Map()])) as unknown as Maps;

  static fromObjects(objects: Iterable<KubeObject>): Store {
    const store = new Store();
    for (const object of objects) store.set(object);
    return store;
  }

  set(object: KubeObject): void {
    (this.#maps[object.kind] as Map<string, KubeObject>).set(objectKey(object.metadata), object);
  }

  delete(kind: Kind, key: string): void {
    this.#maps[kind].delete(key);
  }

  get<K extends Kind>(kind: K, key: string): ObjectOf<K> | undefined {
    return this.#maps[kind].get(key) as ObjectOf<K> | undefined;
  }

  /** Replaces every object of one kind (or only those `owns` picks, for a watch that sees part of it), as a relist does. */
  replaceKind<K extends Kind>(kind: K, objects: Iterable<ObjectOf<K>>, owns?: (object: ObjectOf<K>) => boolean): void {
    const map = this.#maps[kind] as Map<string, ObjectOf<K>>;
    if (owns === undefined) map.clear();
    else for (const [key, object] of map) if (owns(object)) map.delete(key);
    for (const object of objects) map.set(objectKey(object.metadata), object);
  }

  /** A frozen view of the store now. The objects are shared, so nothing may mutate them. */
  snapshot(): Snapshot {
    const slicesByService = new Map<string, ObjectOf<'EndpointSlice'>[]>();
    for (const slice of this.#maps.EndpointSlice.values()) {
      const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!service) continue;
      const key = `${slice.metadata.namespace}/${service}`;
      const list = slicesByService.get(key);
      if (list) list.push(slice);
      else slicesByService.set(key, [slice]);
    }
    return Object.freeze({
      ingresses: Object.freeze([...this.#maps.Ingress.values()]),
      ingressClasses: Object.freeze([...this.#maps.IngressClass.values()]),
      services: new Map(this.#maps.Service),
      endpointSlicesByService: slicesByService,
      secrets: new Map(this.#maps.Secret),
      configMaps: new Map(this.#maps.ConfigMap),
    });
  }
}

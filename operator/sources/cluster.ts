// The cluster source: one client-node informer (ListWatch) per kind Pier reads, feeding the store.
// client-node's ListWatch relists by itself on 410 Gone but stops on any other error, so each one
// is restarted here with backoff. A 403 is reported as the exact permission that is missing.
import {
  CoreV1Api,
  DiscoveryV1Api,
  ListWatch,
  NetworkingV1Api,
  Watch,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { objectKey, parseObject, type Kind, type KubeObject } from '../model.ts';
import type { Store } from '../store.ts';
import type { Logger } from '../../proxy/log.ts';
import { isForbidden, missingPermissionMessage, apiMessageOf, type Permission } from '../kube/api-errors.ts';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/**
 * Secret types Pier never reads, left out by the API server's field selector: Helm's release
 * records (large, and many), ServiceAccount and bootstrap tokens, image pull credentials.
 */
const SECRET_TYPES_NEVER_READ = ['helm.sh/release.v1', 'kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token', 'kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg'];

/**
 * A Watch that a stop reaches even mid-setup. ListWatch.stop() aborts only a watch whose request it
 * already holds; one still connecting (or one started right after a list that was under way) would
 * stay open and keep the process alive. This one aborts such a watch as soon as it exists.
 */
class StoppableWatch extends Watch {
  #stopped = false;

  stop(): void {
    this.#stopped = true;
  }

  override async watch(...args: Parameters<Watch['watch']>): Promise<AbortController> {
    if (this.#stopped) {
      const never = new AbortController();
      never.abort();
      return never;
    }
    const request = await super.watch(...args);
    if (this.#stopped) request.abort();
    return request;
  }
}

interface ListResult {
  metadata?: { resourceVersion?: string };
  items: KubernetesObject[];
}

interface WatchedKind {
  /** Tells watches of one kind apart (ConfigMaps are watched one name at a time). */
  readonly id: string;
  readonly kind: Kind;
  readonly apiVersion: string;
  /** Plural resource name with its group, as RBAC names it. */
  readonly resource: string;
  /** The watch path, namespaced when the watch is. */
  readonly path: string;
  /** Undefined for the cluster scope. */
  readonly namespace: string | undefined;
  readonly fieldSelector: string | undefined;
  readonly list: () => Promise<ListResult>;
  /** For a watch that sees part of its kind: whether a stored object is one of its own (a relist replaces only those). */
  readonly owns?: (object: KubeObject) => boolean;
}

export interface ClusterSourceOptions {
  /** Only this namespace, or all when undefined. */
  readonly watchNamespace: string | undefined;
  /** The ConfigMaps the flags name (--configmap, --tcp-services-configmap, --udp-services-configmap), each watched by name. */
  readonly configMaps: readonly { readonly namespace: string; readonly name: string }[];
  /** --enable-auth-proxy-set-headers: every ConfigMap of the watched namespaces (the controller's among them). */
  readonly allConfigMaps?: boolean;
  /** Objects per list page (`limit`); absent: 500, as client-go's informers ask. */
  readonly listPageSize?: number;
}

const DEFAULT_LIST_PAGE_SIZE = 500;

/** One page of a list call: the typed client's answer, with its continue token. */
interface ListPage {
  metadata?: { resourceVersion?: string; _continue?: string };
  items: KubernetesObject[];
}

/**
 * A whole collection, read page by page (`limit`, `continue`) so neither the API server nor Pier
 * holds one huge response for a cluster of 50,000 objects. The pages form one consistent
 * snapshot; the list's resourceVersion, where the watch starts, is the first page's.
 */
export async function listInPages(listPage: (page: { limit: number; _continue?: string }) => Promise<ListPage>, pageSize: number): Promise<ListResult> {
  const items: KubernetesObject[] = [];
  let resourceVersion: string | undefined;
  let token: string | undefined;
  do {
    const page = await listPage(token === undefined ? { limit: pageSize } : { limit: pageSize, _continue: token });
    resourceVersion ??= page.metadata?.resourceVersion;
    items.push(...page.items);
    token = page.metadata?._continue || undefined;
  } while (token !== undefined);
  return { metadata: { resourceVersion }, items };
}

/** The ConfigMaps the flags name, each once. */
export function configMapsNamed(flags: { readonly configmap?: { namespace: string; name: string } | undefined; readonly 'tcp-services-configmap'?: { namespace: string; name: string } | undefined; readonly 'udp-services-configmap'?: { namespace: string; name: string } | undefined }): { namespace: string; name: string }[] {
  return [flags.configmap, flags['tcp-services-configmap'], flags['udp-services-configmap']].filter((ref) => ref !== undefined);
}

export interface ClusterSourceEvents {
  /** Objects of this kind changed in the store. */
  onChange(kind: Kind): void;
  /** A kind's permission is missing (message) or works again (null). */
  onPermission(kind: Kind, problem: string | null): void;
}

/** The API path of a collection: core types under /api/v1, the rest under /apis/<group>/v1. */
function collectionPath(group: string, resource: string, namespace: string | undefined): string {
  const base = group === '' ? '/api/v1' : `/apis/${group}/v1`;
  return namespace ? `${base}/namespaces/${namespace}/${resource}` : `${base}/${resource}`;
}

function watchedKinds(kc: KubeConfig, options: ClusterSourceOptions): WatchedKind[] {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const ns = options.watchNamespace;
  const readableSecrets = SECRET_TYPES_NEVER_READ.map((type) => `type!=${type}`).join(',');
  const pageSize = options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
  const paged = (listPage: (page: { limit: number; _continue?: string }) => Promise<ListPage>) => () => listInPages(listPage, pageSize);
  const kinds: WatchedKind[] = [
    {
      id: 'Ingress', kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', resource: 'ingresses.networking.k8s.io', namespace: ns, fieldSelector: undefined,
      path: collectionPath('networking.k8s.io', 'ingresses', ns),
      list: paged((page) => (ns ? networking.listNamespacedIngress({ namespace: ns, ...page }) : networking.listIngressForAllNamespaces(page))),
    },
    {
      id: 'IngressClass', kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', resource: 'ingressclasses.networking.k8s.io', namespace: undefined, fieldSelector: undefined,
      path: collectionPath('networking.k8s.io', 'ingressclasses', undefined),
      list: paged((page) => networking.listIngressClass(page)),
    },
    {
      id: 'Service', kind: 'Service', apiVersion: 'v1', resource: 'services', namespace: ns, fieldSelector: undefined,
      path: collectionPath('', 'services', ns),
      list: paged((page) => (ns ? core.listNamespacedService({ namespace: ns, ...page }) : core.listServiceForAllNamespaces(page))),
    },
    {
      id: 'EndpointSlice', kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', resource: 'endpointslices.discovery.k8s.io', namespace: ns, fieldSelector: undefined,
      path: collectionPath('discovery.k8s.io', 'endpointslices', ns),
      list: paged((page) => (ns ? discovery.listNamespacedEndpointSlice({ namespace: ns, ...page }) : discovery.listEndpointSliceForAllNamespaces(page))),
    },
    {
      // TLS Secrets and the Opaque ones basic auth reads; the server leaves out the types Pier never reads.
      id: 'Secret', kind: 'Secret', apiVersion: 'v1', resource: 'secrets', namespace: ns, fieldSelector: readableSecrets,
      path: collectionPath('', 'secrets', ns),
      list: paged((page) => (ns ? core.listNamespacedSecret({ namespace: ns, fieldSelector: readableSecrets, ...page }) : core.listSecretForAllNamespaces({ fieldSelector: readableSecrets, ...page }))),
    },
  ];
  if (options.allConfigMaps) {
    // The controller's ConfigMaps must be in the watch too: one namespace only when they all are in that one.
    const namespace = ns !== undefined && options.configMaps.every((ref) => ref.namespace === ns) ? ns : undefined;
    kinds.push({
      id: 'ConfigMap', kind: 'ConfigMap', apiVersion: 'v1', resource: 'configmaps', namespace, fieldSelector: undefined,
      path: collectionPath('', 'configmaps', namespace),
      list: paged((page) => (namespace ? core.listNamespacedConfigMap({ namespace, ...page }) : core.listConfigMapForAllNamespaces(page))),
    });
  } else {
    // Each ConfigMap the flags name, by name: nothing else is read.
    const unique = new Map(options.configMaps.map((ref) => [`${ref.namespace}/${ref.name}`, ref]));
    for (const [key, { namespace, name }] of unique) {
      const byName = `metadata.name=${name}`;
      kinds.push({
        id: `ConfigMap ${key}`, kind: 'ConfigMap', apiVersion: 'v1', resource: 'configmaps', namespace, fieldSelector: byName,
        path: collectionPath('', 'configmaps', namespace),
        list: () => core.listNamespacedConfigMap({ namespace, fieldSelector: byName }),
        owns: (object) => object.metadata.namespace === namespace && object.metadata.name === name,
      });
    }
  }
  return kinds;
}

/**
 * Typed list calls give Date objects and no kind; watch events give wire JSON. Both become wire
 * JSON with kind, apiVersion and a canonical creationTimestamp, so ages compare correctly.
 */
export function toWireObject(object: KubernetesObject, kind: string, apiVersion: string): Record<string, unknown> {
  const wire = JSON.parse(JSON.stringify(object)) as Record<string, unknown> & { metadata?: Record<string, unknown> };
  wire.kind = kind;
  wire.apiVersion = apiVersion;
  const created = wire.metadata?.creationTimestamp;
  if (wire.metadata && typeof created === 'string') wire.metadata.creationTimestamp = new Date(created).toISOString();
  return wire;
}

/** True for an Ingress update that left spec, labels and annotations as they were. */
export function onlyStatusChanged(before: KubeObject, after: KubeObject): boolean {
  if (before.kind !== 'Ingress' || after.kind !== 'Ingress') return false;
  return (
    JSON.stringify(before.spec) === JSON.stringify(after.spec) &&
    JSON.stringify(before.metadata.annotations ?? {}) === JSON.stringify(after.metadata.annotations ?? {}) &&
    JSON.stringify(before.metadata.labels ?? {}) === JSON.stringify(after.metadata.labels ?? {})
  );
}

export class ClusterSource {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #events: ClusterSourceEvents;
  readonly #kinds: WatchedKind[];
  readonly #informers = new Map<string, ListWatch<KubernetesObject>>();
  /** Each kind's current watch; a kind restarts only after its last watch has ended. */
  readonly #watches = new Map<string, StoppableWatch>();
  readonly #synced = new Set<string>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  /** The next retry delay per kind: doubles while a kind keeps failing, back to the first after a list works. */
  readonly #retryMs = new Map<string, number>();
  readonly #kc: KubeConfig;
  #stopped = false;
  #onSynced: (() => void) | null = null;

  constructor(kc: KubeConfig, store: Store, options: ClusterSourceOptions, events: ClusterSourceEvents, log: Logger) {
    this.#kc = kc;
    this.#store = store;
    this.#events = events;
    this.#log = log;
    this.#kinds = watchedKinds(kc, options);
  }

  /** What Pier needs to list and watch, for the missing-permission checks. */
  get permissions(): Permission[] {
    return this.#kinds.flatMap((watched) => ['list', 'watch'].map((verb) => ({ verb, resource: watched.resource, namespace: watched.namespace })));
  }

  /** Starts every informer; resolves once each kind has been listed once. */
  start(): Promise<void> {
    const synced = new Promise<void>((resolve) => {
      this.#onSynced = resolve;
    });
    for (const watched of this.#kinds) this.#startKind(watched);
    return synced;
  }

  get synced(): boolean {
    return this.#synced.size === this.#kinds.length;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    for (const watch of this.#watches.values()) watch.stop();
    await Promise.all([...this.#informers.values()].map((informer) => informer.stop()));
  }

  #startKind(watched: WatchedKind): void {
    const { kind, id } = watched;
    const listFn = async (): Promise<ListResult> => {
      let list: ListResult;
      try {
        list = await watched.list();
      } catch (error) {
        throw Object.assign(error as Error, { pierVerb: 'list' });
      }
      // The list worked: permission is fine, and the kind counts as synced once its items are in.
      this.#events.onPermission(kind, null);
      this.#retryMs.delete(id);
      const items = list.items.map((item) => toWireObject(item, kind, watched.apiVersion) as KubernetesObject);
      this.#replaceAll(watched, items);
      setImmediate(() => this.#markSynced(id));
      return { metadata: list.metadata, items };
    };
    const watch = new StoppableWatch(this.#kc);
    this.#watches.set(id, watch);
    const informer = new ListWatch<KubernetesObject>(watched.path, watch, listFn, false, undefined, watched.fieldSelector);
    this.#informers.set(id, informer);
    const upsert = (object: KubernetesObject): void => this.#upsert(watched, object);
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', (object) => {
      this.#store.delete(kind, objectKey({ namespace: object.metadata?.namespace, name: object.metadata?.name ?? '' }));
      this.#events.onChange(kind);
    });
    informer.on('error', (error: unknown) => {
      if (this.#stopped) return;
      const verb = (error as { pierVerb?: string }).pierVerb ?? 'watch';
      const retryMs = this.#retryMs.get(id) ?? FIRST_RETRY_MS;
      this.#retryMs.set(id, Math.min(retryMs * 2, MAX_RETRY_MS));
      if (isForbidden(error)) {
        const message = missingPermissionMessage({ verb, resource: watched.resource, namespace: watched.namespace }, error);
        this.#log.error(message);
        this.#events.onPermission(kind, message);
      } else {
        this.#log.warn(`${verb} ${watched.resource} failed; retrying in ${retryMs} ms`, { error: apiMessageOf(error) });
      }
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        if (!this.#stopped) this.#startKind(watched);
      }, retryMs);
      this.#retryTimers.add(timer);
    });
    informer.on('connect', () => {
      this.#log.debug(`watching ${watched.resource}`, { namespace: watched.namespace });
    });
    informer.start().catch((error: unknown) => this.#log.error(`starting the ${kind} informer failed: ${apiMessageOf(error)}`));
  }

  /**
   * A (re)list is the whole truth for its kind: every informer restart starts with an empty cache,
   * so objects deleted while the watch was down would otherwise never leave the store.
   */
  #replaceAll(watched: WatchedKind, items: KubernetesObject[]): void {
    const fresh = [];
    for (const item of items) {
      const parsed = this.#parse(watched, item);
      const kept = parsed ?? this.#store.get(watched.kind, objectKey({ namespace: item.metadata?.namespace, name: item.metadata?.name ?? '' }));
      if (kept) fresh.push(kept);
    }
    this.#store.replaceKind(watched.kind, fresh, watched.owns);
    this.#events.onChange(watched.kind);
  }

  /** The checked object, or null (logged) when it fails its schema and its last good version stays. */
  #parse(watched: WatchedKind, object: KubernetesObject): KubeObject | null {
    const wire = object.kind ? object : toWireObject(object, watched.kind, watched.apiVersion);
    const parsed = parseObject(wire, watched.kind);
    if (parsed.ok) return parsed.object;
    const name = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    this.#log.warn(`${watched.kind} ${name} is invalid and ignored; its last good version stays in force: ${parsed.error}`);
    return null;
  }

  #upsert(watched: WatchedKind, object: KubernetesObject): void {
    const key = objectKey({ namespace: object.metadata?.namespace, name: object.metadata?.name ?? '' });
    // The list's items come through here too, right after #replaceAll stored them.
    const stored = this.#store.get(watched.kind, key);
    if (stored && object.metadata?.resourceVersion && stored.metadata.resourceVersion === object.metadata.resourceVersion) return;
    const parsed = this.#parse(watched, object);
    if (!parsed) return;
    this.#store.set(parsed);
    // The leader's own status writes come back as updates; they change no route, so they don't
    // cost a recomputation (the stored status is still current for the next status sync).
    if (stored && onlyStatusChanged(stored, parsed)) return;
    this.#events.onChange(watched.kind);
  }

  #markSynced(id: string): void {
    if (this.#synced.has(id)) return;
    this.#synced.add(id);
    if (this.synced) this.#onSynced?.();
  }
}

// Keeps the status addresses current: fixed ones from --publish-status-address, or those of the
// --publish-service Service, falling back to the addresses of the nodes that run the controller.
// With neither flag, the nodes of the controller's own pods (found from POD_NAME), as ingress-nginx does.
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Config } from '../config.ts';
import type { LoadBalancerIngress } from '../model.ts';
import type { Snapshot } from '../store.ts';
import type { Logger } from '../../proxy/log.ts';
import { addressesOfService, parseStatusAddresses, publishedNodeAddress, sameAddresses } from '../addresses.ts';
import { apiMessageOf, isForbidden, missingPermissionMessage } from './api-errors.ts';

/** How often node addresses are looked up again; ingress-nginx syncs status every 60 s. */
const NODE_REFRESH_MS = 30_000;

export interface PublishedAddressEvents {
  onChange(): void;
  onPermission(problem: string | null): void;
}

export class PublishedAddresses {
  readonly #fixed: LoadBalancerIngress[] | null;
  readonly #service: { namespace: string; name: string } | undefined;
  /** The controller's own pod, when it runs in one: its labels find its sibling pods. */
  readonly #ownPod: { namespace: string; name: string } | undefined;
  readonly #core: CoreV1Api;
  readonly #events: PublishedAddressEvents;
  readonly #log: Logger;
  #nodeAddresses: LoadBalancerIngress[] = [];
  /** Pods whose nodes are published: a label selector, or null for the controller's own pod's labels. */
  #nodeSelector: string | null = null;
  #podNamespace = 'default';
  #nodeTarget = '';
  #timer: NodeJS.Timeout | null = null;

  constructor(flags: Config['flags'], ownPod: { namespace: string; name: string } | undefined, core: CoreV1Api, events: PublishedAddressEvents, log: Logger) {
    const fixed = flags['publish-status-address'];
    this.#fixed = fixed ? parseStatusAddresses(fixed) : null;
    this.#service = flags['publish-service'];
    this.#ownPod = ownPod;
    this.#core = core;
    this.#events = events;
    this.#log = log;
  }

  /** The addresses for status now. Starts the node lookup the first time the Service needs it. */
  current(snapshot: Snapshot): LoadBalancerIngress[] {
    if (this.#fixed) return this.#fixed;
    if (!this.#service) {
      // Neither flag: the nodes of the controller's own pods, when it runs in one.
      if (!this.#ownPod) return [];
      this.#watchNodesOf(this.#ownPod.namespace, null);
      return this.#nodeAddresses;
    }
    const service = snapshot.services.get(`${this.#service.namespace}/${this.#service.name}`);
    if (!service) return [];
    const fromService = addressesOfService(service);
    if (fromService.kind === 'addresses') return fromService.addresses;
    const selector = Object.entries(service.spec.selector ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    this.#watchNodesOf(this.#service.namespace, selector);
    return this.#nodeAddresses;
  }

  /** Starts (or retargets) the periodic node lookup for pods in `namespace` matching `selector`. */
  #watchNodesOf(namespace: string, selector: string | null): void {
    const target = `${namespace}|${selector ?? '(own pod)'}`;
    if (target === this.#nodeTarget) return;
    this.#nodeTarget = target;
    this.#podNamespace = namespace;
    this.#nodeSelector = selector;
    void this.#refreshNodes();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #refreshNodes(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    const namespace = this.#podNamespace;
    try {
      const selector = this.#nodeSelector ?? (await this.#ownPodSelector(namespace));
      const addresses = selector === null ? [] : await this.#lookUpNodes(namespace, selector);
      this.#events.onPermission(null);
      if (!sameAddresses(addresses, this.#nodeAddresses)) {
        this.#nodeAddresses = addresses;
        this.#events.onChange();
      }
    } catch (error) {
      if (isForbidden(error)) {
        const { verb, resource, scope } = (error as { pierPermission?: { verb: string; resource: string; scope: string | undefined } }).pierPermission ?? { verb: 'list', resource: 'pods', scope: namespace };
        const message = missingPermissionMessage({ verb, resource, namespace: scope }, error);
        this.#log.error(message);
        this.#events.onPermission(message);
      } else {
        this.#log.warn('looking up the addresses of the controller nodes failed', { error: apiMessageOf(error) });
      }
    }
    this.#timer = setTimeout(() => void this.#refreshNodes(), NODE_REFRESH_MS);
    this.#timer.unref();
  }

  /** The label selector of the controller's own pod, found by name among the pods of its namespace. */
  async #ownPodSelector(namespace: string): Promise<string | null> {
    const pods = await this.#core.listNamespacedPod({ namespace }).catch((error: unknown) => {
      throw Object.assign(error as Error, { pierPermission: { verb: 'list', resource: 'pods', scope: namespace } });
    });
    const own = pods.items.find((pod) => pod.metadata?.name === this.#ownPod?.name);
    const labels = Object.entries(own?.metadata?.labels ?? {});
    if (labels.length === 0) return null;
    return labels.map(([key, value]) => `${key}=${value}`).join(',');
  }

  /** ExternalIP (else InternalIP) of each node that runs a Pod of the published Service. */
  async #lookUpNodes(namespace: string, labelSelector: string): Promise<LoadBalancerIngress[]> {
    const pods = await this.#core.listNamespacedPod({ namespace, labelSelector }).catch((error: unknown) => {
      throw Object.assign(error as Error, { pierPermission: { verb: 'list', resource: 'pods', scope: namespace } });
    });
    const nodeNames = [...new Set(pods.items.map((pod) => pod.spec?.nodeName).filter((name): name is string => Boolean(name)))].sort();
    const addresses: LoadBalancerIngress[] = [];
    for (const name of nodeNames) {
      const node = await this.#core.readNode({ name }).catch((error: unknown) => {
        throw Object.assign(error as Error, { pierPermission: { verb: 'get', resource: 'nodes', scope: undefined } });
      });
      const address = publishedNodeAddress(node.status?.addresses ?? []);
      if (address) addresses.push({ ip: address });
    }
    return addresses;
  }
}

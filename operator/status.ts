// The one module that writes Ingress status, and only on the leader: it makes each served
// Ingress's status.loadBalancer.ingress what computeRoutes says, writing only what differs, and
// clears it on Ingresses that stopped being Pier's.
import { PatchStrategy, setHeaderOptions, type NetworkingV1Api } from '@kubernetes/client-node';
import type { LoadBalancerIngress } from './model.ts';
import type { RouteComputation, ObjectRef } from './routes/types.ts';
import type { Snapshot } from './store.ts';
import type { Logger } from '../proxy/log.ts';
import { sameAddresses } from './addresses.ts';
import { apiMessageOf, HTTP_NOT_FOUND, httpStatusOf, isForbidden, missingPermissionMessage } from './kube/api-errors.ts';

/** Writes in flight at once: enough to publish 1,000 Ingresses quickly without flooding the API server. */
const WRITE_CONCURRENCY = 8;

export interface StatusWriteResult {
  readonly written: number;
  readonly failed: number;
  /** Set when RBAC denied the write. */
  readonly permissionProblem: string | null;
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface StatusWrite {
  readonly ingress: ObjectRef;
  readonly addresses: readonly LoadBalancerIngress[];
}

export class StatusWriter {
  readonly #api: NetworkingV1Api;
  readonly #log: Logger;
  /** Ingresses this writer published, so it knows whose status to clear when they stop being ours. */
  #published = new Set<string>();

  constructor(api: NetworkingV1Api, log: Logger) {
    this.#api = api;
    this.#log = log;
  }

  /**
   * The writes that would give every Ingress Pier serves these addresses, and clear those that
   * stopped being ours. Pure apart from reading #published. The addresses come apart from the
   * computation, so a change of addresses (or of who leads) needs no new one.
   */
  plan(result: RouteComputation, snapshot: Snapshot, addresses: readonly LoadBalancerIngress[]): StatusWrite[] {
    const current = (ref: ObjectRef) => snapshot.ingressesByKey.get(`${ref.namespace}/${ref.name}`)?.status?.loadBalancer?.ingress ?? [];
    const writes: StatusWrite[] = [];
    for (const status of result.statuses) {
      if (!sameAddresses(current(status.ingress), addresses)) writes.push({ ingress: status.ingress, addresses });
    }
    for (const ref of result.ignored) {
      if (this.#published.has(`${ref.namespace}/${ref.name}`) && current(ref).length > 0) writes.push({ ingress: ref, addresses: [] });
    }
    return writes;
  }

  async sync(result: RouteComputation, snapshot: Snapshot, addresses: readonly LoadBalancerIngress[]): Promise<StatusWriteResult> {
    const writes = this.plan(result, snapshot, addresses);
    let written = 0;
    let failed = 0;
    let permissionProblem: string | null = null;
    await inParallel(writes, WRITE_CONCURRENCY, async (write) => {
      try {
        await this.#write(write);
        written++;
      } catch (error) {
        if (httpStatusOf(error) === HTTP_NOT_FOUND) return; // deleted meanwhile
        failed++;
        if (isForbidden(error)) {
          permissionProblem = missingPermissionMessage({ verb: 'patch', resource: 'ingresses/status (networking.k8s.io)', namespace: write.ingress.namespace }, error);
          this.#log.error(permissionProblem);
        } else {
          this.#log.warn('writing Ingress status failed', { ingress: `${write.ingress.namespace}/${write.ingress.name}`, error: apiMessageOf(error) });
        }
      }
    });
    this.#published = new Set(result.statuses.map((status) => `${status.ingress.namespace}/${status.ingress.name}`));
    if (written > 0) this.#log.info('status written', { ingresses: written });
    return { written, failed, permissionProblem };
  }

  async #write(write: StatusWrite): Promise<void> {
    // A merge patch of status alone. Not a PUT of a partial object: through /status the API server
    // still applies metadata, so a PUT without the Ingress's annotations and labels erased them.
    const body = { status: { loadBalancer: { ingress: write.addresses.map((address) => ({ ...address })) } } };
    await this.#api.patchNamespacedIngressStatus({ name: write.ingress.name, namespace: write.ingress.namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
}

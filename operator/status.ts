// The one module that writes Ingress status, and only on the leader: it makes each served
// Ingress's status.loadBalancer.ingress what computeRoutes says, writing only what differs, and
// clears it on Ingresses that stopped being Pier's.
import { PatchStrategy, setHeaderOptions, type NetworkingV1Api } from '@kubernetes/client-node';
import type { LoadBalancerIngress } from './model.ts';
import type { RouteComputation, ObjectRef } from './routes/types.ts';
import type { Snapshot } from './store.ts';
import type { Logger } from '../proxy/log.ts';
import { sameAddresses } from './addresses.ts';
import { compareRefs } from './routes/compare.ts';
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

/**
 * Which Ingresses may need a write: all of them, or those with these keys (`namespace/name`): the
 * Ingresses that changed since the last sync. Whether an Ingress is Pier's depends on it and the
 * IngressClasses alone, so when neither the classes nor the addresses changed, no other can.
 */
export type StatusCandidates = 'all' | ReadonlySet<string>;

/** True when computeRoutes serves this Ingress (its statuses are sorted by namespace, then name). */
function isServed(result: RouteComputation, ref: ObjectRef): boolean {
  let low = 0;
  let high = result.statuses.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const order = compareRefs((result.statuses[middle] as RouteComputation['statuses'][number]).ingress, ref);
    if (order === 0) return true;
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return false;
}

function refOfKey(key: string): ObjectRef {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class StatusWriter {
  readonly #api: NetworkingV1Api;
  readonly #log: Logger;
  /** Ingresses this writer published, so it knows whose status to clear when they stop being ours. */
  #published = new Set<string>();
  /** The addresses of the last sync: new ones mean every Ingress is a candidate. */
  #lastAddresses: string | null = null;
  /** Ingresses whose write failed, tried again at the next sync. */
  #failed = new Set<string>();

  constructor(api: NetworkingV1Api, log: Logger) {
    this.#api = api;
    this.#log = log;
  }

  /**
   * The writes that would give every Ingress Pier serves these addresses, and clear those that
   * stopped being ours, looking only at the candidates. Pure apart from reading #published. The
   * addresses come apart from the computation, so a change of addresses (or of who leads) needs no
   * new one.
   */
  plan(result: RouteComputation, snapshot: Snapshot, addresses: readonly LoadBalancerIngress[], candidates: StatusCandidates = 'all'): StatusWrite[] {
    const current = (ref: ObjectRef) => snapshot.ingressesByKey.get(`${ref.namespace}/${ref.name}`)?.status?.loadBalancer?.ingress ?? [];
    const writes: StatusWrite[] = [];
    const consider = (ref: ObjectRef, served: boolean): void => {
      if (served) {
        if (!sameAddresses(current(ref), addresses)) writes.push({ ingress: ref, addresses });
      } else if (this.#published.has(`${ref.namespace}/${ref.name}`) && current(ref).length > 0) {
        writes.push({ ingress: ref, addresses: [] });
      }
    };
    if (candidates === 'all') {
      for (const status of result.statuses) consider(status.ingress, true);
      for (const ref of result.ignored) consider(ref, false);
      return writes;
    }
    for (const key of candidates) {
      if (!snapshot.ingressesByKey.has(key)) continue;
      const ref = refOfKey(key);
      consider(ref, isServed(result, ref));
    }
    return writes;
  }

  /** Writes what plan() finds for the candidates (and the writes that failed last time); every Ingress when the addresses changed. */
  async sync(result: RouteComputation, snapshot: Snapshot, addresses: readonly LoadBalancerIngress[], candidates: StatusCandidates = 'all'): Promise<StatusWriteResult> {
    const addressesText = JSON.stringify(addresses);
    const all = candidates === 'all' || addressesText !== this.#lastAddresses;
    const considered = all ? 'all' : new Set([...candidates, ...this.#failed]);
    const writes = this.plan(result, snapshot, addresses, considered);
    this.#lastAddresses = addressesText;
    const failedNow = new Set<string>();
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
        failedNow.add(`${write.ingress.namespace}/${write.ingress.name}`);
        if (isForbidden(error)) {
          permissionProblem = missingPermissionMessage({ verb: 'patch', resource: 'ingresses/status (networking.k8s.io)', namespace: write.ingress.namespace }, error);
          this.#log.error(permissionProblem);
        } else {
          this.#log.warn('writing Ingress status failed', { ingress: `${write.ingress.namespace}/${write.ingress.name}`, error: apiMessageOf(error) });
        }
      }
    });
    this.#failed = failedNow;
    if (considered === 'all') this.#published = new Set(result.statuses.map((status) => `${status.ingress.namespace}/${status.ingress.name}`));
    else {
      for (const key of considered) {
        if (snapshot.ingressesByKey.has(key) && isServed(result, refOfKey(key))) this.#published.add(key);
        else this.#published.delete(key);
      }
    }
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

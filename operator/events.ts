// Route-engine warnings about Ingresses become Kubernetes Events on them, so `kubectl describe
// ingress` shows them. A warning is recorded when it appears, not again while it persists.
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { Ingress } from './model.ts';
import type { RouteWarning } from './routes/types.ts';
import type { Snapshot } from './store.ts';
import type { Logger } from '../proxy/log.ts';
import { apiMessageOf, isForbidden, missingPermissionMessage } from './kube/api-errors.ts';

/** A burst of broken Ingresses records this many Events at most per sync; the log has the rest. */
const MAX_EVENTS_PER_SYNC = 100;
export const EVENT_SOURCE = 'pier';

function warningKey(warning: RouteWarning): string {
  return `${warning.namespace}/${warning.name}\n${warning.reason}\n${warning.message}`;
}

export function eventFor(warning: RouteWarning, ingress: Ingress, reportingInstance: string, now: Date): CoreV1Event {
  return {
    metadata: { generateName: `${ingress.metadata.name}.`, namespace: ingress.metadata.namespace },
    involvedObject: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      name: ingress.metadata.name,
      namespace: ingress.metadata.namespace,
      uid: ingress.metadata.uid,
      resourceVersion: ingress.metadata.resourceVersion,
    },
    reason: warning.reason,
    message: warning.message,
    type: 'Warning',
    source: { component: EVENT_SOURCE },
    reportingComponent: EVENT_SOURCE,
    reportingInstance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

export class EventRecorder {
  readonly #api: CoreV1Api;
  readonly #identity: string;
  readonly #log: Logger;
  /** Warnings present at the last sync: only new ones become Events. */
  #present = new Set<string>();
  #lastWarnings: readonly RouteWarning[] | null = null;

  constructor(api: CoreV1Api, identity: string, log: Logger) {
    this.#api = api;
    this.#identity = identity;
    this.#log = log;
  }

  /** Records Events for new Ingress warnings. Returns a permission problem when RBAC denied it. */
  async sync(warnings: readonly RouteWarning[], snapshot: Snapshot): Promise<string | null> {
    // The same list as last time, all recorded (nothing about warnings changed): nothing new to record.
    if (warnings === this.#lastWarnings) return null;
    this.#lastWarnings = warnings;
    const present = new Set<string>();
    const fresh: { warning: RouteWarning; ingress: Ingress }[] = [];
    for (const warning of warnings) {
      if (warning.kind !== 'Ingress') continue;
      const key = warningKey(warning);
      present.add(key);
      const ingress = snapshot.ingressesByKey.get(`${warning.namespace}/${warning.name}`);
      if (!this.#present.has(key) && ingress) fresh.push({ warning, ingress });
    }
    this.#present = present;
    let permissionProblem: string | null = null;
    const now = new Date();
    const toRecord = fresh.slice(0, MAX_EVENTS_PER_SYNC);
    for (const [index, { warning, ingress }] of toRecord.entries()) {
      try {
        await this.#api.createNamespacedEvent({ namespace: ingress.metadata.namespace ?? 'default', body: eventFor(warning, ingress, this.#identity, now) });
      } catch (error) {
        if (isForbidden(error)) {
          permissionProblem = missingPermissionMessage({ verb: 'create', resource: 'events', namespace: ingress.metadata.namespace }, error);
          this.#log.error(permissionProblem);
          // Forget the unrecorded ones, so they are recorded once the permission is there.
          for (const unrecorded of toRecord.slice(index)) this.#present.delete(warningKey(unrecorded.warning));
          break;
        }
        this.#log.warn('recording an Event failed', { ingress: `${warning.namespace}/${warning.name}`, error: apiMessageOf(error) });
      }
    }
    // Denied: the same list must be tried again next time.
    if (permissionProblem !== null) this.#lastWarnings = null;
    return permissionProblem;
  }
}

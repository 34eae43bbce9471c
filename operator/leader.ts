// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// every retry period; another replica takes the Lease once it has seen no renewal for a whole
// lease duration (timed by its own clock, so clock skew between nodes doesn't matter).
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../proxy/log.ts';
import { apiMessageOf, HTTP_CONFLICT, HTTP_NOT_FOUND, httpStatusOf, isForbidden, missingPermissionMessage } from './kube/api-errors.ts';

export interface LeaseTiming {
  /** How long a Lease stays valid without renewal. */
  readonly leaseDurationMs: number;
  /** How often the holder renews and the others look. */
  readonly retryPeriodMs: number;
  /** A holder that could not renew for this long steps down, before anyone else may take over. */
  readonly renewDeadlineMs: number;
}

/** Leadership moves within about leaseDuration + retryPeriod (12 s) after a leader dies. */
export const DEFAULT_LEASE_TIMING: LeaseTiming = { leaseDurationMs: 10_000, retryPeriodMs: 2_000, renewDeadlineMs: 7_000 };

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
  /** RBAC denied a Lease call (message) or works again (null). */
  onPermission(problem: string | null): void;
}

/** MicroTime as the API server parses it: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #timing: LeaseTiming;
  readonly #callbacks: LeaderCallbacks;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #leading = false;
  #stopped = false;
  #lastRenewed = 0;
  /** The holder and renewTime last seen, and when (monotonic ms) they were first seen. */
  #observed: { record: string; at: number } = { record: '', at: 0 };

  constructor(api: CoordinationV1Api, lease: { namespace: string; name: string; identity: string }, timing: LeaseTiming, callbacks: LeaderCallbacks, log: Logger) {
    this.#api = api;
    this.#namespace = lease.namespace;
    this.#name = lease.name;
    this.#identity = lease.identity;
    this.#timing = timing;
    this.#callbacks = callbacks;
    this.#log = log;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    void this.#tick();
  }

  /** Stops trying; a leader releases the Lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace });
      if (lease.spec?.holderIdentity !== this.#identity) return;
      await this.#api.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) as unknown as Date } },
      });
      this.#log.info('released the leader Lease', { lease: `${this.#namespace}/${this.#name}` });
    } catch (error) {
      this.#log.warn('releasing the leader Lease failed', { error: apiMessageOf(error) });
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#tryAcquireOrRenew();
      this.#callbacks.onPermission(null);
    } catch (error) {
      if (isForbidden(error)) {
        const verb = (error as { pierVerb?: string }).pierVerb ?? 'get';
        const message = missingPermissionMessage({ verb, resource: 'leases.coordination.k8s.io', namespace: this.#namespace }, error);
        this.#log.error(message);
        this.#callbacks.onPermission(message);
      } else if (httpStatusOf(error) !== HTTP_CONFLICT) {
        this.#log.warn('leader election failed this round', { error: apiMessageOf(error) });
      }
      if (this.#leading && performance.now() - this.#lastRenewed > this.#timing.renewDeadlineMs) {
        this.#log.warn('could not renew the leader Lease in time; stepping down');
        this.#setLeading(false);
      }
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#timing.retryPeriodMs);
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const now = new Date();
    const leaseSeconds = Math.ceil(this.#timing.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace });
    } catch (error) {
      if (httpStatusOf(error) !== HTTP_NOT_FOUND) throw Object.assign(error as Error, { pierVerb: 'get' });
      await this.#call('create', () =>
        this.#api.createNamespacedLease({
          namespace: this.#namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.#name, namespace: this.#namespace },
            spec: { holderIdentity: this.#identity, leaseDurationSeconds: leaseSeconds, acquireTime: microTime(now) as unknown as Date, renewTime: microTime(now) as unknown as Date, leaseTransitions: 0 },
          },
        }),
      );
      this.#renewed();
      return;
    }

    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}|${String(spec.renewTime ?? '')}`;
    const monotonicNow = performance.now();
    if (record !== this.#observed.record) this.#observed = { record, at: monotonicNow };
    const heldBySomeoneElse = holder !== '' && holder !== this.#identity;
    const theirDurationMs = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
    if (heldBySomeoneElse && monotonicNow - this.#observed.at < theirDurationMs) {
      if (this.#leading) this.#setLeading(false);
      return;
    }
    const takingOver = holder !== this.#identity;
    await this.#call('update', () =>
      this.#api.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: this.#identity,
            leaseDurationSeconds: leaseSeconds,
            renewTime: microTime(now) as unknown as Date,
            ...(takingOver ? { acquireTime: microTime(now) as unknown as Date, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
          },
        },
      }),
    );
    this.#renewed();
  }

  async #call<T>(verb: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw Object.assign(error as Error, { pierVerb: verb });
    }
  }

  #renewed(): void {
    this.#lastRenewed = performance.now();
    if (!this.#leading) this.#setLeading(true);
  }

  #setLeading(leading: boolean): void {
    if (this.#leading === leading) return;
    this.#leading = leading;
    this.#log.info(leading ? 'became the leader' : 'stopped leading', { lease: `${this.#namespace}/${this.#name}`, identity: this.#identity });
    if (leading) this.#callbacks.onStartedLeading();
    else this.#callbacks.onStoppedLeading();
  }
}

// --workers=N (N > 1): N proxy processes (node:cluster) share the HTTP, HTTPS and default-server
// ports, each running a ProxyServer. This process, the primary, keeps everything else (sources,
// store, computeRoutes, leader election, status, the health port) and sends every route table to
// every worker over IPC: as what changed since the table before (table-delta.ts), which every
// started worker has, so a change of one host costs one host's worth of IPC. A worker that starts
// or restarts gets the whole current table before it binds, so it never answers from an older one.
// Crashed workers are restarted with a backoff, hung ones (no heartbeat answer) killed and
// restarted; the others keep serving meanwhile. The primary also makes the TLS state the workers
// share (the fake certificate, the session-ticket keys) and rotates the keys for all of them at once.
import cluster, { type Worker } from 'node:cluster';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Counter, type Registry } from 'prom-client';
import type { Logger, LogLevel } from './log.ts';
import type { RouteTableSpec, UpstreamSpec } from './route-spec.ts';
import type { DataPlane } from './data-plane.ts';
import { validateHosts } from './route-table.ts';
import { changedHosts, hasUpstreams, sortedListsOf, tableDeltaFrom, withEndpointUpdates, type RouteTableDelta, type SortedLists } from './table-delta.ts';
import { DEFAULT_TICKET_KEY_ROTATION_MS, newTicketKeys, type BoundPorts, type ProxyOptions, type SharedTls } from './server.ts';
import { makeFakeCertificate } from './tls-fake-certificate.ts';

export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Messages from the primary to a worker. */
export type PrimaryMessage =
  | { readonly type: 'start'; readonly options: ProxyOptions; readonly spec: RouteTableSpec | null; readonly drainMs: number; readonly logLevel: LogLevel }
  | { readonly type: 'swap'; readonly spec: RouteTableSpec }
  /** The next table, as changes to the one the worker was last sent (in 'start', 'swap', 'delta' or 'endpoints'). */
  | { readonly type: 'delta'; readonly delta: RouteTableDelta }
  | { readonly type: 'ticketKeys'; readonly keys: Uint8Array }
  | { readonly type: 'endpoints'; readonly upstreams: readonly UpstreamSpec[] }
  | { readonly type: 'ping'; readonly id: number }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'stop'; readonly drainMs: number };

/** Messages from a worker to the primary. */
export type WorkerMessage =
  | { readonly type: 'hello' }
  | { readonly type: 'ready'; readonly ports: BoundPorts }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'pong'; readonly id: number }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: MetricsJson };

/**
 * The worker's entry point, beside this module and in the same form: `.ts` from the sources, `.js`
 * in the image's compiled build (tsc rewrites import specifiers, not this URL).
 */
const WORKER_MAIN = fileURLToPath(new URL(`./worker-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
/** How often each worker is asked to answer... */
const HEARTBEAT_INTERVAL_MS = 1_000;
/** ...and how long it may go without answering anything before it counts as hung and is killed. */
const HANG_TIMEOUT_MS = 10_000;
/** The first restart after a crash waits this long, doubling per crash in a row... */
const RESTART_DELAY_MIN_MS = 100;
/** ...up to this. */
const RESTART_DELAY_MAX_MS = 5_000;
/** A worker that ran this long before exiting was not crash-looping: its next restart is quick. */
const STABLE_UPTIME_MS = 10_000;
/** A worker that has not answered a metrics request by then is left out of that scrape. */
const METRICS_TIMEOUT_MS = 2_000;
/**
 * A worker that crashes while the pool starts is retried this many times before start-up fails: a
 * rare crash shouldn't stop Pier, and one that recurs (a broken install, say) should, not loop.
 */
const START_ATTEMPTS = 3;
/** After the grace period, workers still draining get this long to exit before SIGKILL. */
const STOP_MARGIN_MS = 5_000;

export interface WorkerPoolOptions {
  readonly count: number;
  readonly proxy: ProxyOptions;
  /** --shutdown-grace-period: also how long an orphaned worker drains when its primary dies. */
  readonly drainMs: number;
  readonly logLevel: LogLevel;
}

/** One worker position; its process is replaced on restart, the slot (and its `worker` label) stays. */
interface Slot {
  readonly index: number;
  worker: Worker | null;
  /** Whether it has been sent 'start' (it said hello): from then on it gets swaps and heartbeats. */
  started: boolean;
  ready: boolean;
  /** performance.now() (a monotonic clock: a wall-clock step must not make every worker look hung). */
  startedAt: number;
  lastAnswerAt: number;
  /** Crashes in a row (a worker that ran STABLE_UPTIME_MS resets it), for the backoff. */
  crashes: number;
  /** Why the primary killed this worker, for the restart log line. */
  killedBecause: string | null;
  restartTimer: NodeJS.Timeout | null;
}

interface Pending {
  readonly resolve: (message: WorkerMessage) => void;
  readonly timer: NodeJS.Timeout;
}

export class WorkerPool implements DataPlane {
  readonly #options: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #slots: Slot[];
  readonly #restarts: Counter<'reason'>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** The last table sent, endpoint updates included: every started worker has it. */
  #spec: RouteTableSpec | null = null;
  /** Which of its lists are sorted by key, so the next delta walks them without checking them again. */
  #sorted: SortedLists | null = null;
  #ports: BoundPorts | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  /** Made here and given to every worker, restarted ones included; the keys are rotated from here. */
  #sharedTls: SharedTls = { fakeCertificate: makeFakeCertificate(new Date()), ticketKeys: newTicketKeys() };
  #ticketKeyTimer: NodeJS.Timeout | null = null;
  /** While starting, a worker that can't bind fails start-up, and one that crashes is retried (START_ATTEMPTS). */
  #state: 'idle' | 'starting' | 'running' | 'failed' | 'stopping' = 'idle';
  #started: { readonly resolve: (ports: BoundPorts) => void; readonly reject: (error: Error) => void } | null = null;

  constructor(options: WorkerPoolOptions, registry: Registry, log: Logger) {
    this.#options = options;
    this.#log = log;
    this.#slots = Array.from({ length: options.count }, (_, index) => ({ index, worker: null, started: false, ready: false, startedAt: 0, lastAnswerAt: 0, crashes: 0, killedBecause: null, restartTimer: null }));
    this.#restarts = new Counter({
      name: 'pier_worker_restarts_total',
      help: 'Proxy worker processes restarted, by reason (crash or hang).',
      labelNames: ['reason'],
      registers: [registry],
    });
  }

  get readyCount(): number {
    return this.#slots.filter((slot) => slot.ready).length;
  }

  swap(spec: RouteTableSpec): readonly string[] {
    const previous = this.#spec;
    const computed = previous === null || this.#sorted === null ? null : tableDeltaFrom(previous, this.#sorted, spec);
    const delta = computed === null ? null : computed.delta;
    // Throws on a bad spec before any worker sees it, as ProxyServer.swap would; nothing is compiled
    // here. The hosts the delta leaves out were checked when their table was swapped in.
    validateHosts(delta === null ? spec.virtualHosts : changedHosts(delta));
    this.#spec = spec;
    this.#sorted = computed === null ? sortedListsOf(spec) : computed.sorted;
    // One message for all workers: each of them has `previous`.
    const message: PrimaryMessage = delta === null ? { type: 'swap', spec } : { type: 'delta', delta };
    for (const slot of this.#slots) {
      // A worker that hasn't been sent 'start' yet gets this table with it.
      if (slot.started) this.#send(slot, message);
    }
    // Each worker compiles its own certificates, and logs and counts what its TLS library refuses.
    return [];
  }

  updateEndpoints(upstreams: readonly UpstreamSpec[]): boolean {
    const spec = this.#spec;
    if (!spec) return false;
    if (!hasUpstreams(spec, upstreams)) return false;
    // The table a (re)started worker gets carries the new endpoints too, and so does the one the
    // next delta is computed from: each worker applies the same update to its own copy.
    // The same ids in the same order: #sorted still holds.
    this.#spec = withEndpointUpdates(spec, upstreams);
    for (const slot of this.#slots) {
      if (slot.started) this.#send(slot, { type: 'endpoints', upstreams });
    }
    return true;
  }

  /** Starts every worker; resolves with the ports once all of them are serving the current table. */
  listen(): Promise<BoundPorts> {
    // The kernel spreads connections over the workers accepting on the shared sockets, rather than
    // the primary accepting each one and passing its handle on (round-robin's extra hop).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    // 'advanced' (structured clone) carries the certificates' PEM, which KeyMaterial hides from JSON.
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], serialization: 'advanced' });
    return new Promise<BoundPorts>((resolve, reject) => {
      this.#state = 'starting';
      this.#started = { resolve, reject };
      for (const slot of this.#slots) this.#fork(slot);
      this.#heartbeat = setInterval(() => this.#checkHeartbeats(), HEARTBEAT_INTERVAL_MS);
      this.#heartbeat.unref();
      this.#ticketKeyTimer = setInterval(() => this.rotateTicketKeys(), this.#options.proxy.ticketKeyRotationMs ?? DEFAULT_TICKET_KEY_ROTATION_MS);
      this.#ticketKeyTimer.unref();
    });
  }

  /** New session-ticket keys for every worker at once, so a ticket from one still resumes on the others. */
  rotateTicketKeys(): void {
    const keys = newTicketKeys();
    this.#sharedTls = { ...this.#sharedTls, ticketKeys: keys };
    for (const slot of this.#slots) {
      // A worker not yet sent 'start' gets the new keys with it.
      if (slot.started) this.#send(slot, { type: 'ticketKeys', keys });
    }
  }

  async close(drainMs: number): Promise<void> {
    this.#state = 'stopping';
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#ticketKeyTimer) clearInterval(this.#ticketKeyTimer);
    for (const slot of this.#slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
    }
    const running = this.#slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
    const exited = running.map((worker) => (worker.isDead() ? Promise.resolve() : new Promise<void>((resolve) => worker.once('exit', () => resolve()))));
    for (const worker of running) {
      if (!worker.isDead() && worker.isConnected()) worker.send({ type: 'stop', drainMs } satisfies PrimaryMessage);
    }
    const overdue = setTimeout(() => {
      for (const worker of running) {
        if (!worker.isDead()) {
          this.#log.warn('proxy worker did not exit after draining; killing it', { pid: worker.process.pid });
          worker.process.kill('SIGKILL');
        }
      }
    }, drainMs + STOP_MARGIN_MS);
    await Promise.all(exited);
    clearTimeout(overdue);
  }

  /** Each ready worker's metrics (workers that don't answer in time are left out), by slot. */
  async workerMetrics(): Promise<{ readonly slot: number; readonly metrics: MetricsJson }[]> {
    const answers = await Promise.all(
      this.#slots.map(async (slot) => {
        if (!slot.ready) return null;
        const answer = await this.#request(slot, (id) => ({ type: 'metrics', id }), METRICS_TIMEOUT_MS);
        return answer?.type === 'metrics' ? { slot: slot.index, metrics: answer.metrics } : null;
      }),
    );
    return answers.filter((answer) => answer !== null);
  }

  #fork(slot: Slot): void {
    slot.restartTimer = null;
    const worker = cluster.fork();
    slot.worker = worker;
    slot.started = false;
    slot.ready = false;
    slot.killedBecause = null;
    slot.startedAt = performance.now();
    // Start-up (loading the data plane) counts against the hang timeout, from the fork.
    slot.lastAnswerAt = slot.startedAt;
    worker.on('message', (message: WorkerMessage) => this.#onMessage(slot, worker, message));
    worker.on('exit', (code, signal) => this.#onExit(slot, worker, code, signal));
    // An IPC write to a worker that just died fails here; 'exit' handles the death itself.
    worker.on('error', (error) => this.#log.debug('proxy worker IPC error', { worker: slot.index, message: error.message }));
  }

  #onMessage(slot: Slot, worker: Worker, message: WorkerMessage): void {
    if (slot.worker !== worker) return;
    slot.lastAnswerAt = performance.now();
    switch (message.type) {
      case 'hello': {
        const { proxy, drainMs, logLevel } = this.#options;
        // Any table swapped in before this is already in #spec; any after goes out as a 'swap'.
        slot.started = true;
        this.#send(slot, { type: 'start', options: { ...proxy, sharedTls: this.#sharedTls }, spec: this.#spec, drainMs, logLevel });
        return;
      }
      case 'ready': {
        slot.ready = true;
        this.#ports ??= message.ports;
        this.#log.info('proxy worker ready', { worker: slot.index, pid: worker.process.pid });
        if (this.#state === 'starting' && this.#slots.every((each) => each.ready)) {
          this.#state = 'running';
          this.#started?.resolve(this.#ports);
        }
        return;
      }
      case 'failed': {
        this.#log.error('proxy worker cannot serve', { worker: slot.index, pid: worker.process.pid, message: message.message });
        this.#failStart(new Error(message.message));
        return;
      }
      case 'pong':
      case 'metrics': {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        pending.resolve(message);
        return;
      }
    }
  }

  #onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.started = false;
    slot.ready = false;
    const reason = slot.killedBecause ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
    const uptimeMs = performance.now() - slot.startedAt;
    slot.crashes = uptimeMs >= STABLE_UPTIME_MS ? 0 : slot.crashes + 1;
    if (this.#state === 'starting' && slot.crashes >= START_ATTEMPTS) this.#failStart(new Error(`proxy worker ${slot.index} ${reason} while starting`));
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    const delayMs = slot.crashes === 0 ? 0 : Math.min(RESTART_DELAY_MIN_MS * 2 ** (slot.crashes - 1), RESTART_DELAY_MAX_MS);
    this.#restarts.inc({ reason: slot.killedBecause ? 'hung' : 'exited' });
    this.#log.warn('proxy worker restarting', { worker: slot.index, pid: worker.process.pid, reason, inMs: delayMs, ready: this.readyCount });
    slot.restartTimer = setTimeout(() => this.#fork(slot), delayMs);
  }

  #failStart(error: Error): void {
    if (this.#state !== 'starting') return;
    this.#state = 'failed';
    this.#started?.reject(error);
  }

  #checkHeartbeats(): void {
    const now = performance.now();
    const hangTimeoutMs = HANG_TIMEOUT_MS;
    for (const slot of this.#slots) {
      const worker = slot.worker;
      if (!worker || slot.killedBecause) continue;
      if (now - slot.lastAnswerAt > hangTimeoutMs) {
        slot.killedBecause = `no answer to a heartbeat within ${hangTimeoutMs} ms`;
        slot.ready = false;
        worker.process.kill('SIGKILL');
        continue;
      }
      // Any answer refreshes lastAnswerAt, in #onMessage; the pong itself needs no handling.
      if (slot.started) void this.#request(slot, (id) => ({ type: 'ping', id }), hangTimeoutMs);
    }
  }

  /** Sends a request carrying a fresh id; resolves with the answer, or null after timeoutMs. */
  #request(slot: Slot, make: (id: number) => PrimaryMessage, timeoutMs: number): Promise<WorkerMessage | null> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(null);
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, timer });
      if (!this.#send(slot, make(id))) {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(null);
      }
    });
  }

  #send(slot: Slot, message: PrimaryMessage): boolean {
    const worker = slot.worker;
    if (!worker || worker.isDead() || !worker.isConnected()) return false;
    worker.send(message);
    return true;
  }
}

/**
 * /metrics with workers: the primary's own metrics (configuration changes, its process) and every
 * worker's, merged by prom-client's aggregators (counters summed, and so on), plus
 * pier_worker_requests_total, each worker's pier_requests_total under its slot's `worker` label,
 * which shows how evenly the kernel spreads connections.
 */
export function aggregateMetrics(primary: MetricsJson, workers: readonly { readonly slot: number; readonly metrics: MetricsJson }[]): Registry {
  const perWorker = workers.flatMap(({ slot, metrics }) =>
    metrics
      .filter((metric) => metric.name === 'pier_requests_total')
      .flatMap((metric) => metric.values.map((value) => ({ value: value.value, labels: { worker: String(slot), ...value.labels } }))),
  );
  const perWorkerMetric = {
    name: 'pier_worker_requests_total',
    help: 'Requests answered, by proxy worker slot, Ingress, Service and status code.',
    type: 'counter',
    aggregator: 'sum',
    values: perWorker,
  };
  return AggregatorRegistry.aggregate([primary, ...workers.map(({ metrics }) => metrics), [perWorkerMetric]]);
}

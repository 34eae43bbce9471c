// Everything after the store, shared by `pier serve` and `pier controller`: compute the routes
// from a snapshot, swap them into the proxy, report warnings, and serve health and metrics.
import type { Server } from 'node:http';
import type { Config } from './config.ts';
import { createHealthServer, type MetricsSource } from './health.ts';
import type { Logger } from '../proxy/log.ts';
import { IncrementalRoutes, type IncrementalOptions } from './routes/incremental.ts';
import { endpointChanges } from './routes/endpoint-changes.ts';
import type { RouteComputation, RouteOptions, RouteTableSpec, RouteWarning } from './routes/types.ts';
import type { Snapshot } from './store.ts';
import { createMetrics, type PierMetrics } from '../proxy/metrics.ts';
import type { DataPlane } from '../proxy/data-plane.ts';
import { ProxyServer, type BoundPorts, type ProxyOptions } from '../proxy/server.ts';
import { WorkerPool, aggregateMetrics } from '../proxy/workers.ts';
import { dashboardHandler } from './dashboard.ts';
import type { MetricJson } from '../proxy/proxy-metrics.ts';

/** The computation's options from the flags (the clock, `now`, is given to each computation). */
export function routeOptionsFrom(flags: Config['flags']): IncrementalOptions {
  return {
    controllerClass: flags['controller-class'],
    ingressClass: flags['ingress-class'],
    watchIngressWithoutClass: flags['watch-ingress-without-class'],
    defaultBackendService: flags['default-backend-service'] ?? null,
    annotationsPrefix: flags['annotations-prefix'],
    defaultSslCertificate: flags['default-ssl-certificate'] ?? null,
    configMap: flags.configmap ?? null,
    tcpServicesConfigMap: flags['tcp-services-configmap'] ?? null,
    udpServicesConfigMap: flags['udp-services-configmap'] ?? null,
    sslPassthrough: flags['enable-ssl-passthrough'],
    reservedPorts: [flags['http-port'], flags['https-port'], flags['healthz-port'], flags['default-server-port']],
    // From files every ConfigMap is at hand; from a cluster, only with the flag (it widens the watch).
    configMapsReadable: flags.manifests !== undefined || flags['enable-auth-proxy-set-headers'],
  };
}

export function describeWarning(warning: RouteWarning): string {
  const name = warning.namespace ? `${warning.namespace}/${warning.name}` : warning.name;
  return `${warning.kind} ${name}: ${warning.message}`;
}

export interface RunningPorts extends BoundPorts {
  readonly healthz: number;
}

/** setTimeout's longest delay (about 24.8 days); a later certificate change is checked for then. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export class Runtime {
  readonly metrics: PierMetrics = createMetrics();
  /** The ProxyServer in this process (--workers=1), or the pool of proxy worker processes. */
  readonly dataPlane: DataPlane;
  /** The pool when --workers > 1, for readiness and metrics; null with one process. */
  readonly #workers: WorkerPool | null;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #health: Server;
  /** Computes each snapshot's routes from the last one's, recomputing only what a change touched. */
  readonly #routes: IncrementalRoutes;
  /** Warnings already logged, so a recomputation doesn't repeat them... */
  #reported = new Set<string>();
  /** ...the list they came in, and each warning's text. */
  #reportedWarnings: readonly RouteWarning[] | null = null;
  readonly #warningTexts = new WeakMap<RouteWarning, string>();
  #routesLoaded = false;
  #unhealthyBecause: string | null = null;
  #draining = false;
  /** Asks the owner to compute routes again: the clock alone changed a certificate's validity. */
  readonly #recompute: () => void;
  #certificateTimer: NodeJS.Timeout | null = null;
  /** The table the data plane has (endpoint updates included). */
  #table: RouteTableSpec | null = null;
  /** The last computation, for the dashboard. */
  #lastResult: RouteComputation | null = null;

  constructor(config: Config, log: Logger, recompute: () => void) {
    this.#config = config;
    this.#log = log;
    this.#recompute = recompute;
    const flags = config.flags;
    this.#routes = new IncrementalRoutes(routeOptionsFrom(flags));
    const proxyOptions: ProxyOptions = {
      bindAddress: flags['bind-address'],
      httpPort: flags['http-port'],
      httpsPort: flags['https-port'],
      defaultServerPort: flags['default-server-port'],
      timeouts: { connectMs: flags['proxy-connect-timeout'], readMs: flags['proxy-read-timeout'], sendMs: flags['proxy-send-timeout'] },
      logLevel: flags['log-level'],
    };
    if (flags.workers > 1) {
      const pool = new WorkerPool(
        { count: flags.workers, proxy: proxyOptions, drainMs: flags['shutdown-grace-period'], logLevel: flags['log-level'] },
        this.metrics.registry,
        log,
      );
      this.#workers = pool;
      this.dataPlane = pool;
    } else {
      this.#workers = null;
      this.dataPlane = new ProxyServer(proxyOptions, this.metrics);
    }
    const metricsSource = this.#metricsSource();
    const dashboard = config.flags.dashboard ? dashboardHandler({ current: () => this.#lastResult, metrics: () => metricsSource.json() }) : null;
    this.#health = createHealthServer(() => this.#healthProblem(), metricsSource, dashboard);
  }

  /** With workers, a scrape asks each of them and merges their metrics with this process's own. */
  #metricsSource(): MetricsSource & { json(): Promise<MetricJson[]> } {
    const registry = this.metrics.registry;
    const pool = this.#workers;
    if (!pool) return { contentType: registry.contentType, metrics: () => registry.metrics(), json: async () => (await registry.getMetricsAsJSON()) as MetricJson[] };
    const merged = async () => {
      const [own, workers] = await Promise.all([registry.getMetricsAsJSON(), pool.workerMetrics()]);
      return aggregateMetrics(own, workers);
    };
    return {
      contentType: registry.contentType,
      metrics: async () => (await merged()).metrics(),
      json: async () => (await (await merged()).getMetricsAsJSON()) as MetricJson[],
    };
  }

  #healthProblem(): string | null {
    if (this.#draining) return 'shutting down';
    if (this.#unhealthyBecause) return this.#unhealthyBecause;
    if (!this.#routesLoaded) return 'routes not loaded yet';
    if (this.#workers && this.#workers.readyCount === 0) return 'no proxy worker is ready';
    return null;
  }

  /** Marks the process unhealthy (a missing permission, say) or healthy again with null. */
  setUnhealthy(reason: string | null): void {
    this.#unhealthyBecause = reason;
  }

  /**
   * Computes routes from the snapshot and gives them to the data plane: the whole table, or, when
   * the caller knows that only EndpointSlices changed, just the upstreams whose endpoints moved
   * (no recompiling in the proxy). Returns the computation for status and events.
   */
  apply(snapshot: Snapshot, onlyEndpointsChanged = false): RouteComputation {
    const started = performance.now();
    const result = this.#routes.update(snapshot, Date.now());
    this.metrics.routeComputations.inc({ scope: this.#routes.lastScope });
    const moved = onlyEndpointsChanged && this.#table ? endpointChanges(this.#table, result.table) : null;
    const updatedInPlace = moved !== null && this.dataPlane.updateEndpoints(moved);
    const refused = updatedInPlace ? [] : this.dataPlane.swap(result.table);
    for (const problem of refused) this.#log.error(`the proxy serves the default certificate instead: ${problem}`);
    this.#table = result.table;
    this.#lastResult = result;
    this.#routesLoaded = true;
    this.#recomputeAt(result.certificatesChangeAt);
    this.recordChange(true);
    this.#reportWarnings(result.warnings);
    this.metrics.tlsFallbackHosts.reset();
    for (const { ingress } of result.tlsFallbacks) this.metrics.tlsFallbackHosts.inc({ namespace: ingress.namespace, ingress: ingress.name });
    this.#log.info('routes applied', {
      computed: this.#routes.lastScope,
      hosts: result.table.virtualHosts.length,
      ingresses: result.statuses.length,
      warnings: result.warnings.length,
      ...(updatedInPlace ? { endpointsUpdated: moved.length } : {}),
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return result;
  }

  /** Logs the warnings not logged for the last computation (an unchanged partition's are the same objects, described once). */
  #reportWarnings(warnings: readonly RouteWarning[]): void {
    if (warnings === this.#reportedWarnings) return;
    const current = new Set<string>();
    for (const warning of warnings) {
      let text = this.#warningTexts.get(warning);
      if (text === undefined) {
        text = describeWarning(warning);
        this.#warningTexts.set(warning, text);
      }
      current.add(text);
      if (!this.#reported.has(text)) this.#log.warn(text, { reason: warning.reason });
    }
    this.#reported = current;
    this.#reportedWarnings = warnings;
  }

  /** A certificate expires (or becomes valid) at `at`: compute again then, so its hosts fall back (or get it). */
  #recomputeAt(at: number | null): void {
    if (this.#certificateTimer) clearTimeout(this.#certificateTimer);
    this.#certificateTimer = null;
    if (at === null) return;
    this.#certificateTimer = setTimeout(() => this.#recompute(), Math.min(Math.max(0, at - Date.now()), LONGEST_TIMER_MS));
    this.#certificateTimer.unref();
  }

  recordChange(applied: boolean): void {
    this.metrics.configChanges.inc({ result: applied ? 'applied' : 'failed' });
    this.metrics.configLastChangeSuccessful.set(applied ? 1 : 0);
  }

  /** Starts listening; when a port can't be bound, logs why, closes what did open, and returns false. */
  async startOrReport(): Promise<boolean> {
    try {
      await this.start();
      return true;
    } catch (error) {
      this.#log.error(`cannot listen: ${(error as Error).message}`);
      await this.stop();
      return false;
    }
  }

  async start(): Promise<RunningPorts> {
    const ports = await this.dataPlane.listen();
    const flags = this.#config.flags;
    const healthz = await new Promise<number>((resolve, reject) => {
      this.#health.once('error', reject);
      this.#health.listen(flags['healthz-port'], flags['healthz-bind-address'], () => {
        const address = this.#health.address();
        resolve(typeof address === 'object' && address ? address.port : flags['healthz-port']);
      });
    });
    this.#log.info('listening', { http: ports.http, https: ports.https ?? undefined, defaultServer: ports.defaultServer, healthz });
    return { ...ports, healthz };
  }

  /** Fails readiness, lets requests under way finish within the grace period, then closes. */
  async stop(): Promise<void> {
    this.#draining = true;
    this.#recomputeAt(null);
    const graceMs = this.#config.flags['shutdown-grace-period'];
    this.#log.info('draining', { graceMs });
    await this.dataPlane.close(graceMs);
    await new Promise<void>((resolve) => this.#health.close(() => resolve()));
    this.#health.closeAllConnections();
  }
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

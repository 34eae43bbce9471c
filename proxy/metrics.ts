// Prometheus metrics, on a registry owned by the process that creates it (never the global one).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Upstream latency buckets in seconds, as ingress-nginx's defaults. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PierMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'namespace' | 'ingress' | 'service' | 'status'>;
  readonly upstreamLatency: Histogram<'namespace' | 'ingress' | 'service'>;
  readonly configChanges: Counter<'result'>;
  readonly configLastChangeSuccessful: Gauge;
}

export function createMetrics(): PierMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pier_' });
  return {
    registry,
    requests: new Counter({
      name: 'pier_requests_total',
      help: 'Requests answered, by Ingress, Service and status code.',
      labelNames: ['namespace', 'ingress', 'service', 'status'],
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'pier_upstream_latency_seconds',
      help: 'Time from sending a request upstream to the end of its response.',
      labelNames: ['namespace', 'ingress', 'service'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    configChanges: new Counter({
      name: 'pier_config_changes_total',
      help: 'Configuration changes, applied or failed.',
      labelNames: ['result'],
      registers: [registry],
    }),
    configLastChangeSuccessful: new Gauge({
      name: 'pier_config_last_change_successful',
      help: '1 when the last configuration change was applied, 0 when it failed.',
      registers: [registry],
    }),
  };
}

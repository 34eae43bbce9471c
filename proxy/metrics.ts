// Prometheus metrics for the primary process (or the only one, with --workers=1), on a registry
// it owns (never the global one). The data plane counts in plain numbers (proxy-metrics.ts); this
// module turns them into prom-client metrics and adds the controller's own.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric, type MetricValue } from 'prom-client';
import { LATENCY, ProxyMetrics, REQUESTS, STREAM_BYTES, STREAM_CONNECTIONS, STREAM_FAILURES, TLS_REFUSED, metricJson } from './proxy-metrics.ts';

/** A read-only metric whose values are computed when the registry is read, in the shape a worker sends its own. */
function computedMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]): Metric {
  const get = async () => metricJson(name, help, type, values());
  return { name, help, type, aggregator: 'sum', get, reset: () => undefined } as unknown as Metric;
}

export interface PierMetrics extends ProxyMetrics {
  readonly registry: Registry;
  readonly configChanges: Counter<'result'>;
  readonly routeComputations: Counter<'scope'>;
  readonly configLastChangeSuccessful: Gauge;
  readonly tlsFallbackHosts: Gauge<'namespace' | 'ingress'>;
}

export function createMetrics(): PierMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pier_' });
  const proxy = new ProxyMetrics();
  registry.registerMetric(computedMetric(REQUESTS.name, REQUESTS.help, 'counter', () => proxy.routes.requestValues()));
  registry.registerMetric(computedMetric(LATENCY.name, LATENCY.help, 'histogram', () => proxy.routes.latencyValues(LATENCY.name)));
  registry.registerMetric(computedMetric(TLS_REFUSED.name, TLS_REFUSED.help, 'counter', () => [{ labels: {}, value: proxy.tlsCertificatesRefused.value }]));
  registry.registerMetric(computedMetric(STREAM_CONNECTIONS.name, STREAM_CONNECTIONS.help, 'counter', () => proxy.streams.values('connections')));
  registry.registerMetric(computedMetric(STREAM_FAILURES.name, STREAM_FAILURES.help, 'counter', () => proxy.streams.values('failures')));
  registry.registerMetric(computedMetric(STREAM_BYTES.name, STREAM_BYTES.help, 'counter', () => proxy.streams.byteValues()));
  return {
    registry,
    routes: proxy.routes,
    streams: proxy.streams,
    tlsCertificatesRefused: proxy.tlsCertificatesRefused,
    configChanges: new Counter({
      name: 'pier_config_changes_total',
      help: 'Configuration changes, applied or failed.',
      labelNames: ['result'],
      registers: [registry],
    }),
    routeComputations: new Counter({
      name: 'pier_route_computations_total',
      help: 'Route computations, by scope: every Ingress ("all": at start, or after IngressClasses or the controller ConfigMap changed) or only what changed ("changes").',
      labelNames: ['scope'],
      registers: [registry],
    }),
    configLastChangeSuccessful: new Gauge({
      name: 'pier_config_last_change_successful',
      help: '1 when the last configuration change was applied, 0 when it failed.',
      registers: [registry],
    }),
    tlsFallbackHosts: new Gauge({
      name: 'pier_tls_fallback_hosts',
      help: "TLS hosts served the default certificate because the one their Ingress names can't be used (each has a warning), by Ingress.",
      labelNames: ['namespace', 'ingress'],
      registers: [registry],
    }),
  };
}

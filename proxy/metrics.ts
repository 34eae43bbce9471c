// Prometheus metrics, on a registry owned by the process that creates it (never the global one).
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** Upstream latency buckets in seconds, as ingress-nginx's defaults. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The labels every request metric carries; the route table makes one such object per route. */
export interface RouteLabels {
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
}

interface Series {
  readonly labels: RouteLabels;
  readonly byStatus: Map<number, number>;
  /** Observations per bucket (not cumulative); the last slot is above the largest bucket. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/**
 * Requests and upstream latency per route, counted in plain numbers on the hot path. prom-client's
 * labelled metrics validate, sort and hash their labels on every call, which cost about 15% of
 * proxy throughput here (measured); these become Prometheus values only when /metrics is read.
 */
export class RouteMetrics {
  /** Series by label object (one lookup per request), and by label values (so a swap reuses them). */
  readonly #byLabels = new WeakMap<RouteLabels, Series>();
  readonly #byKey = new Map<string, Series>();

  #series(labels: RouteLabels): Series {
    let series = this.#byLabels.get(labels);
    if (series) return series;
    const key = `${labels.namespace}\n${labels.ingress}\n${labels.service}`;
    series = this.#byKey.get(key);
    if (!series) {
      const copy = { namespace: labels.namespace, ingress: labels.ingress, service: labels.service };
      series = { labels: copy, byStatus: new Map(), buckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      this.#byKey.set(key, series);
    }
    this.#byLabels.set(labels, series);
    return series;
  }

  /** One answered request. */
  count(labels: RouteLabels, status: number): void {
    const byStatus = this.#series(labels).byStatus;
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  /** One upstream exchange's duration. */
  observe(labels: RouteLabels, seconds: number): void {
    const series = this.#series(labels);
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] as number)) bucket++;
    series.buckets[bucket] = (series.buckets[bucket] as number) + 1;
    series.sum += seconds;
    series.count++;
  }

  requestValues(): MetricValue<string>[] {
    const values: MetricValue<string>[] = [];
    for (const series of this.#byKey.values()) {
      for (const [status, value] of series.byStatus) values.push({ labels: { ...series.labels, status: String(status) }, value });
    }
    return values;
  }

  /** Values in the form prom-client's own Histogram gives them (cumulative buckets, +Inf, sum, count). */
  latencyValues(name: string): MetricValue<string>[] {
    const values: MetricValue<string>[] = [];
    for (const series of this.#byKey.values()) {
      if (series.count === 0) continue;
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, index) => {
        cumulative += series.buckets[index] as number;
        values.push({ labels: { le: bound, ...series.labels }, value: cumulative, metricName: `${name}_bucket` } as MetricValue<string>);
      });
      values.push(
        { labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: `${name}_bucket` } as MetricValue<string>,
        { labels: { ...series.labels }, value: series.sum, metricName: `${name}_sum` } as MetricValue<string>,
        { labels: { ...series.labels }, value: series.count, metricName: `${name}_count` } as MetricValue<string>,
      );
    }
    return values;
  }
}

/** A read-only metric whose values are computed when the registry is read. */
function computedMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]): Metric {
  const get = async (): Promise<MetricObjectWithValues<MetricValue<string>>> =>
    ({ name, help, type, aggregator: 'sum', values: values() }) as unknown as MetricObjectWithValues<MetricValue<string>>;
  return { name, help, type, aggregator: 'sum', get, reset: () => undefined } as unknown as Metric;
}

export interface PierMetrics {
  readonly registry: Registry;
  readonly routes: RouteMetrics;
  readonly configChanges: Counter<'result'>;
  readonly configLastChangeSuccessful: Gauge;
  readonly tlsFallbackHosts: Gauge<'namespace' | 'ingress'>;
  readonly tlsCertificatesRefused: Counter;
}

export function createMetrics(): PierMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pier_' });
  const routes = new RouteMetrics();
  registry.registerMetric(computedMetric('pier_requests_total', 'Requests answered, by Ingress, Service and status code.', 'counter', () => routes.requestValues()));
  const latencyName = 'pier_upstream_latency_seconds';
  registry.registerMetric(computedMetric(latencyName, 'Time from sending a request upstream to the end of its response.', 'histogram', () => routes.latencyValues(latencyName)));
  return {
    registry,
    routes,
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
    tlsFallbackHosts: new Gauge({
      name: 'pier_tls_fallback_hosts',
      help: "TLS hosts served the default certificate because the one their Ingress names can't be used (each has a warning), by Ingress.",
      labelNames: ['namespace', 'ingress'],
      registers: [registry],
    }),
    tlsCertificatesRefused: new Counter({
      name: 'pier_tls_certificates_refused_total',
      help: 'Certificates the TLS library refused when a route table was swapped in; their hosts get the default certificate.',
      registers: [registry],
    }),
  };
}

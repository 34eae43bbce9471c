// The data plane's own counters, in plain numbers, with no metrics library: a proxy worker keeps
// these and hands them to the primary as JSON in prom-client's shape (proxyMetricsJson), and only
// the primary loads prom-client (metrics.ts) to merge and serve them. prom-client and its
// OpenTelemetry dependency would add about 10 MiB to every worker (BENCHMARKS.md).
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** One metric as prom-client's getMetricsAsJSON() gives it, which is what AggregatorRegistry merges. */
export type MetricJson = MetricObjectWithValues<MetricValue<string>>;

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

/** A counter without labels. */
export class PlainCounter {
  value = 0;

  inc(by = 1): void {
    this.value += by;
  }
}

/** The labels of a stream port's metrics: TCP, UDP or TLS passthrough, the port, and the Service behind it. */
export interface StreamLabels {
  readonly protocol: 'TCP' | 'UDP' | 'passthrough';
  readonly port: string;
  readonly namespace: string;
  readonly service: string;
}

interface StreamSeries {
  readonly labels: StreamLabels;
  connections: number;
  failures: number;
  bytesIn: number;
  bytesOut: number;
}

/** Per stream port: connections (UDP flows), failures (no endpoint answered, a bad PROXY header), bytes each way. */
export class StreamMetrics {
  readonly #byKey = new Map<string, StreamSeries>();

  series(labels: StreamLabels): StreamSeries {
    const key = `${labels.protocol}\n${labels.port}\n${labels.namespace}\n${labels.service}`;
    let series = this.#byKey.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, connections: 0, failures: 0, bytesIn: 0, bytesOut: 0 };
      this.#byKey.set(key, series);
    }
    return series;
  }

  values(field: 'connections' | 'failures'): MetricValue<string>[] {
    return [...this.#byKey.values()].map((series) => ({ labels: { ...series.labels }, value: series[field] }));
  }

  byteValues(): MetricValue<string>[] {
    return [...this.#byKey.values()].flatMap((series) => [
      { labels: { ...series.labels, direction: 'in' }, value: series.bytesIn },
      { labels: { ...series.labels, direction: 'out' }, value: series.bytesOut },
    ]);
  }
}

/** What the proxy counts: per-route requests and latency, stream ports, and certificates the TLS library refused. */
export class ProxyMetrics {
  readonly routes = new RouteMetrics();
  readonly streams = new StreamMetrics();
  readonly tlsCertificatesRefused = new PlainCounter();
}

export const STREAM_CONNECTIONS = { name: 'pier_stream_connections_total', help: 'Connections (UDP: flows) accepted on TCP/UDP service and SSL passthrough ports, by port and Service.' } as const;
export const STREAM_FAILURES = { name: 'pier_stream_failures_total', help: 'Stream connections that reached no backend (no endpoint, none answered, or a bad PROXY header), by port and Service.' } as const;
export const STREAM_BYTES = { name: 'pier_stream_bytes_total', help: 'Bytes relayed on stream ports: in from clients, out to them.' } as const;

export const REQUESTS = { name: 'pier_requests_total', help: 'Requests answered, by Ingress, Service and status code.' } as const;
export const LATENCY = { name: 'pier_upstream_latency_seconds', help: 'Time from sending a request upstream to the end of its response.' } as const;
export const TLS_REFUSED = {
  name: 'pier_tls_certificates_refused_total',
  help: 'Certificates the TLS library refused when a route table was swapped in; their hosts get the default certificate.',
} as const;

/** One metric in the shape prom-client's registry gives and its aggregator merges. */
export function metricJson(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: MetricValue<string>[]): MetricJson {
  return { name, help, type, aggregator: 'sum', values } as unknown as MetricJson;
}

/**
 * A worker's metrics for the primary: its counters, and its process's CPU time and memory under
 * the names prom-client's default metrics use in the primary, so the merged /metrics sums them
 * over every process.
 */
export function proxyMetricsJson(metrics: ProxyMetrics): MetricJson[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return [
    metricJson(REQUESTS.name, REQUESTS.help, 'counter', metrics.routes.requestValues()),
    metricJson(LATENCY.name, LATENCY.help, 'histogram', metrics.routes.latencyValues(LATENCY.name)),
    metricJson(TLS_REFUSED.name, TLS_REFUSED.help, 'counter', [{ labels: {}, value: metrics.tlsCertificatesRefused.value }]),
    metricJson(STREAM_CONNECTIONS.name, STREAM_CONNECTIONS.help, 'counter', metrics.streams.values('connections')),
    metricJson(STREAM_FAILURES.name, STREAM_FAILURES.help, 'counter', metrics.streams.values('failures')),
    metricJson(STREAM_BYTES.name, STREAM_BYTES.help, 'counter', metrics.streams.byteValues()),
    metricJson('pier_process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', 'counter', [{ labels: {}, value: cpu.user / 1e6 }]),
    metricJson('pier_process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', 'counter', [{ labels: {}, value: cpu.system / 1e6 }]),
    metricJson('pier_process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', [{ labels: {}, value: (cpu.user + cpu.system) / 1e6 }]),
    metricJson('pier_process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', [{ labels: {}, value: memory.rss }]),
    metricJson('pier_nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', 'gauge', [{ labels: {}, value: memory.heapUsed }]),
  ];
}

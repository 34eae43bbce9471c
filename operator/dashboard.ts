// The read-only dashboard on the healthz port: `/dashboard` (one page, its CSS and JavaScript
// inline: no CDN, no build step), `/dashboard/state.json` (what the page draws, for scripts too)
// and `/dashboard/route?url=...` (which route a URL takes, by the proxy's own matcher). The state is
// the last route computation plus the request counters /metrics keeps; it never holds a Secret's
// contents (certificates show their subject, Secret name and expiry only).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteComputation, RouteWarning } from './routes/types.ts';
import type { FallbackSpec, RouteSpec, RouteTableSpec } from '../proxy/route-spec.ts';
import type { MetricJson } from '../proxy/proxy-metrics.ts';
import { RouteTable } from '../proxy/route-table.ts';
import { hostForMatching, pathForMatching } from '../proxy/request-path.ts';
import { describePolicy } from './routes-command.ts';
import { DASHBOARD_PAGE } from './dashboard-page.ts';

/** Requests answered on a route so far (cumulative; the page turns two readings into rates). */
export interface RouteTraffic {
  readonly requests: number;
  /** Answers with a 5xx status. */
  readonly errors: number;
  /** Sum and count of upstream latency observations, in seconds. */
  readonly latencySeconds: number;
  readonly latencyCount: number;
}

export interface DashboardRoute {
  readonly path: string;
  readonly pathType: string;
  readonly match: string;
  readonly ingress: string;
  readonly backend: string;
  readonly policy: string;
  readonly endpoints: readonly string[];
  readonly traffic: RouteTraffic;
}

export interface DashboardHost {
  readonly host: string;
  readonly aliases: readonly string[];
  readonly certificate: { readonly secret: string; readonly subject: string; readonly notAfter: string } | null;
  readonly routes: readonly DashboardRoute[];
}

export interface DashboardState {
  readonly generatedAt: string;
  readonly hosts: readonly DashboardHost[];
  readonly warnings: readonly RouteWarning[];
  /** TCP/UDP service ports and SSL passthrough hosts. */
  readonly streams: readonly { readonly protocol: string; readonly port: number; readonly backend: string; readonly endpoints: readonly string[] }[];
}

const NO_TRAFFIC: RouteTraffic = { requests: 0, errors: 0, latencySeconds: 0, latencyCount: 0 };

/** Traffic by `namespace/ingress/service`, from /metrics' request and latency series. */
export function trafficByRoute(metrics: readonly MetricJson[]): Map<string, RouteTraffic> {
  const traffic = new Map<string, { requests: number; errors: number; latencySeconds: number; latencyCount: number }>();
  const entry = (labels: Partial<Record<string, string | number>>) => {
    const key = `${labels.namespace}/${labels.ingress}/${labels.service}`;
    let found = traffic.get(key);
    if (found === undefined) {
      found = { ...NO_TRAFFIC };
      traffic.set(key, found);
    }
    return found;
  };
  for (const metric of metrics) {
    if (metric.name === 'pier_requests_total') {
      for (const value of metric.values) {
        const target = entry(value.labels);
        target.requests += value.value;
        if (Number(value.labels.status) >= 500) target.errors += value.value;
      }
    } else if (metric.name === 'pier_upstream_latency_seconds') {
      for (const value of metric.values as (typeof metric.values[number] & { metricName?: string })[]) {
        if (value.metricName?.endsWith('_sum')) entry(value.labels).latencySeconds += value.value;
        else if (value.metricName?.endsWith('_count')) entry(value.labels).latencyCount += value.value;
      }
    }
  }
  return traffic;
}

/** What the page shows, from the last computation and the metrics. Pure. */
export function dashboardState(result: RouteComputation, metrics: readonly MetricJson[], now: Date): DashboardState {
  const table = result.table;
  const upstreams = new Map(table.upstreams.map((upstream) => [upstream.id, upstream]));
  const traffic = trafficByRoute(metrics);
  const endpointsOf = (id: string): string[] => (upstreams.get(id)?.endpoints ?? []).map((endpoint) => `${endpoint.address}:${endpoint.port}`);
  const certificates = new Map((table.tls?.certificates ?? []).map((certificate) => [certificate.id, { secret: certificate.secret, subject: certificate.subject, notAfter: certificate.notAfter }]));
  const certificateOf = new Map((table.tls?.hosts ?? []).map((host) => [host.host, certificates.get(host.certificate) ?? null]));
  const routeOf = (spec: RouteSpec | FallbackSpec, path: string, pathType: string, match: string): DashboardRoute => {
    const upstream = upstreams.get(spec.upstream);
    const ingress = spec.ingress === null ? '-' : `${spec.ingress.namespace}/${spec.ingress.name}`;
    const key = `${upstream?.namespace ?? ''}/${spec.ingress?.name ?? ''}/${upstream?.service ?? ''}`;
    return { path, pathType, match, ingress, backend: spec.upstream, policy: describePolicy(spec, match === 'regex' ? 'regex' : null), endpoints: endpointsOf(spec.upstream), traffic: traffic.get(key) ?? NO_TRAFFIC };
  };
  const hosts = table.virtualHosts.map((virtualHost): DashboardHost => ({
    host: virtualHost.host === '' ? '(any host)' : virtualHost.host,
    aliases: virtualHost.aliases ?? [],
    certificate: certificateOf.get(virtualHost.host) ?? null,
    routes: [
      ...virtualHost.routes.map((route) => routeOf(route, route.path, route.pathType, route.match)),
      ...(virtualHost.fallback ? [routeOf(virtualHost.fallback, '(default backend)', '-', '-')] : []),
    ],
  }));
  const streams = [
    ...(table.streams ?? []).map((stream) => ({ protocol: stream.protocol, port: stream.port, backend: stream.upstream, endpoints: endpointsOf(stream.upstream) })),
    ...(table.passthrough ?? []).map((entry) => ({ protocol: `TLS passthrough ${entry.host}`, port: 0, backend: entry.upstream, endpoints: endpointsOf(entry.upstream) })),
  ];
  return { generatedAt: now.toISOString(), hosts, warnings: result.warnings, streams };
}

/** The route a URL takes (`http://host/path`), found by the proxy's matcher on the current table. */
export function routeForUrl(table: RouteTable, url: string): { readonly host: string; readonly path: string; readonly route: string | null } | { readonly error: string } {
  let parsed: URL;
  try {
    parsed = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`);
  } catch {
    return { error: 'not a URL: write it as host/path or http://host/path' };
  }
  const host = hostForMatching(parsed.host);
  const path = pathForMatching(`${parsed.pathname}${parsed.search}`);
  const target = table.match(host, path);
  if (!target) return { host, path, route: null };
  const where = target.route ? `${target.route.path} (${target.route.pathType})` : 'the default backend';
  const ingress = target.ingress ? `Ingress ${target.ingress.namespace}/${target.ingress.name}` : 'no Ingress';
  return { host, path, route: `${where} of ${ingress}, to ${target.upstream.spec.id}` };
}

export interface DashboardSource {
  /** The last route computation, or null before the first. */
  current(): RouteComputation | null;
  /** The metrics /metrics serves, as JSON. */
  metrics(): Promise<MetricJson[]>;
}

/** Serves the dashboard's three paths; false for any other path (the health server goes on). */
export function dashboardHandler(source: DashboardSource): (req: IncomingMessage, res: ServerResponse) => boolean {
  // The matcher is compiled once per computation, on first use.
  let compiled: { spec: RouteTableSpec; table: RouteTable } | null = null;
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (url.pathname === '/dashboard' || url.pathname === '/dashboard/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:", 'cache-control': 'no-store' });
      res.end(DASHBOARD_PAGE);
      return true;
    }
    if (url.pathname !== '/dashboard/state.json' && url.pathname !== '/dashboard/route') return false;
    const result = source.current();
    if (result === null) {
      json(res, 503, { error: 'routes not loaded yet' });
    } else if (url.pathname === '/dashboard/state.json') {
      source.metrics().then(
        (metrics) => json(res, 200, dashboardState(result, metrics, new Date())),
        (error: Error) => json(res, 500, { error: error.message }),
      );
    } else {
      if (compiled?.spec !== result.table) compiled = { spec: result.table, table: new RouteTable(result.table) };
      json(res, 200, routeForUrl(compiled.table, url.searchParams.get('url') ?? ''));
    }
    return true;
  };
}

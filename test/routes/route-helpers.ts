// Shared pieces of the route-engine tables: run objects through computeRoutes and the compiled
// matcher, and describe the outcome in a form a table can state.
import type { KubeObject } from '../../operator/model.ts';
import { computeRoutes } from '../../operator/routes/compute.ts';
import type { RouteComputation, RouteOptions } from '../../operator/routes/types.ts';
import { Store } from '../../operator/store.ts';
import { RouteTable } from '../../proxy/route-table.ts';
import { stageCompiler } from '../../proxy/stages.ts';
import { decide } from '../../proxy/decide.ts';
import { hostForMatching, pathForMatching } from '../../proxy/request-path.ts';
import { ingressClass } from '../helpers/objects.ts';

export const BASE_OPTIONS: RouteOptions = {
  controllerClass: 'pier.dev/ingress-controller',
  ingressClass: 'pier',
  watchIngressWithoutClass: false,
  defaultBackendService: null,
  annotationsPrefix: 'nginx.ingress.kubernetes.io',
};

/** Computes routes with our IngressClass `pier` present unless the objects bring their own. */
export function compute(objects: KubeObject[], options: Partial<RouteOptions> = {}, withClass = true): RouteComputation {
  const all = withClass && !objects.some((object) => object.kind === 'IngressClass') ? [ingressClass('pier'), ...objects] : objects;
  return computeRoutes(Store.fromObjects(all).snapshot(), { ...BASE_OPTIONS, ...options });
}

/**
 * Where a request goes, as `service` (the Service name), `service@ingress` when `withIngress`,
 * or `404` when nothing takes it.
 */
export function routeRequest(result: RouteComputation, hostHeader: string, url: string, withIngress = false): string {
  const table = new RouteTable(result.table);
  const target = table.match(hostForMatching(hostHeader), pathForMatching(url));
  if (!target) return '404';
  const service = target.upstream.spec.service;
  return withIngress ? `${service}@${target.ingress?.name ?? '-'}` : service;
}

export function warningsOf(result: RouteComputation): string[] {
  return result.warnings.map((warning) => `${warning.kind} ${warning.namespace}/${warning.name} ${warning.reason}`);
}

export interface RequestOptions {
  readonly method?: string;
  readonly secure?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  /** The port the client connected to (from-to-www redirects name it). */
  readonly port?: number;
  /** The peer's address, as node reports it. */
  readonly remoteAddress?: string;
}

/**
 * What the data plane does with one request, decided in full (request stages included) without a
 * socket: `302 <location>` for an answer of its own, or `<service> <method> <upstream URL>` and
 * what the stages changed (`host=`, set headers) for a forwarded one.
 */
export function outcomeOf(result: RouteComputation, hostHeader: string, url: string, options: RequestOptions = {}): string {
  const table = new RouteTable(result.table, stageCompiler({ httpsEnabled: true, redirectPortSuffix: () => '', rateLimits: new Map(), connectionLimits: new Map() }));
  const extra = options.headers ?? {};
  const rawHeaders = ['Host', hostHeader, ...Object.entries(extra).flat()];
  const headers = Object.fromEntries([['host', hostHeader], ...Object.entries(extra).map(([name, value]) => [name.toLowerCase(), value])]);
  const socket = { localPort: options.port ?? 80, remoteAddress: options.remoteAddress ?? '127.0.0.1' };
  const decision = decide(table, { method: options.method ?? 'GET', url, rawHeaders, headers, socket }, options.secure ?? false);
  if ('answer' in decision) {
    const at = decision.answer.headers.indexOf('location');
    return at === -1 ? String(decision.answer.status) : `${decision.answer.status} ${decision.answer.headers[at + 1]}`;
  }
  const { upstream } = decision.exchange;
  const changed = [...(upstream.host === null ? [] : [`host=${upstream.host}`])];
  for (let i = 0; i < upstream.setHeaders.length; i += 2) changed.push(`${upstream.setHeaders[i]}=${upstream.setHeaders[i + 1]}`);
  return [decision.target.upstream.spec.service, upstream.method, upstream.url, ...changed].join(' ');
}

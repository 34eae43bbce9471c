// Shared pieces of the route-engine tables: run objects through computeRoutes and the compiled
// matcher, and describe the outcome in a form a table can state.
import type { KubeObject } from '../../operator/model.ts';
import { computeRoutes } from '../../operator/routes/compute.ts';
import type { RouteComputation, RouteOptions } from '../../operator/routes/types.ts';
import { Store } from '../../operator/store.ts';
import { RouteTable } from '../../proxy/route-table.ts';
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

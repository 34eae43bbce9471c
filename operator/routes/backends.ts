// From an Ingress backend to the endpoints that serve it: Service, then Service port, then the
// EndpointSlices of that Service whose port has the Service port's name.
import type { EndpointSlice, IngressBackend, Service, ServicePort } from '../model.ts';
import type { Snapshot } from '../store.ts';
import type { Endpoint, UpstreamSpec, WarningReason } from './types.ts';

export interface BackendProblem {
  readonly reason: WarningReason;
  readonly message: string;
}

export interface ResolvedBackend {
  readonly upstream: UpstreamSpec;
  /** Why the upstream has no endpoints (or has unusable parts), when it does. */
  readonly problem: BackendProblem | null;
}

export type PortRef = { readonly number: number } | { readonly name: string };

export function portRefOf(backend: NonNullable<IngressBackend['service']>): PortRef {
  return backend.port.name !== undefined ? { name: backend.port.name } : { number: backend.port.number ?? 0 };
}

function describePort(port: PortRef): string {
  return 'name' in port ? port.name : String(port.number);
}

function findServicePort(service: Service, port: PortRef, protocol: 'TCP' | 'UDP'): ServicePort | undefined {
  const ports = service.spec.ports ?? [];
  const ofProtocol = (p: ServicePort): boolean => (p.protocol ?? 'TCP') === protocol;
  return 'name' in port ? ports.find((p) => p.name === port.name && ofProtocol(p)) : ports.find((p) => p.port === port.number && ofProtocol(p));
}

/** Ready endpoints: `conditions.ready` unset counts as ready, as the EndpointSlice API says. */
function readyEndpoints(snapshot: Snapshot, namespace: string, service: string, portName: string): Endpoint[] {
  return readyEndpointsOf(snapshot.endpointSlicesByService.get(`${namespace}/${service}`) ?? [], portName);
}

function readyEndpointsOf(slices: readonly EndpointSlice[], portName: string): Endpoint[] {
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  for (const slice of slices) {
    const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === portName);
    if (!slicePort?.port) continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses) {
        const key = `${address}:${slicePort.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        endpoints.push({ address, port: slicePort.port });
      }
    }
  }
  return endpoints;
}

/** ExternalName services are proxied to their DNS name, on the Service port's target port. */
function externalNameEndpoint(service: Service, servicePort: ServicePort | undefined, port: PortRef): Endpoint | null {
  const externalName = service.spec.externalName;
  if (!externalName) return null;
  const target = servicePort?.targetPort;
  const number = typeof target === 'number' ? target : (servicePort?.port ?? ('number' in port ? port.number : undefined));
  return number === undefined ? null : { address: externalName, port: number };
}

/**
 * One upstream per Service port, as ingress-nginx's `namespace-service-port`: how a route speaks to
 * it (the backend protocol) is the route's, so one Ingress can reach a port as HTTP and another as
 * gRPC while both share its endpoints and balancer state.
 */
export function upstreamId(namespace: string, serviceName: string, port: PortRef): string {
  return `${namespace}/${serviceName}:${describePort(port)}`;
}

/**
 * service-upstream: the Service's ClusterIP on the Service port as the one endpoint, under an id
 * of its own (the Service port's endpoints stay for routes without it). Null, with the reason, when
 * the Service has no ClusterIP (headless, ExternalName) or no such port: then ingress-nginx uses the endpoints.
 */
function clusterIpBackend(service: Service | undefined, servicePort: ServicePort | undefined, base: Omit<UpstreamSpec, 'endpoints'>): ResolvedBackend | BackendProblem {
  const clusterIp = service?.spec.clusterIP;
  if (!service || !servicePort) return { reason: 'ServicePortNotFound', message: `service-upstream: Service ${base.namespace}/${base.service} has no port ${base.servicePort}` };
  if (!clusterIp || clusterIp === 'None') {
    return { reason: 'InvalidAnnotation', message: `service-upstream: Service ${base.namespace}/${base.service} has no ClusterIP (headless or ExternalName); its endpoints are used` };
  }
  return { upstream: { ...base, id: `${base.id}@clusterip`, endpoints: [{ address: clusterIp, port: servicePort.port }] }, problem: null };
}

export function resolveServiceBackend(snapshot: Snapshot, namespace: string, serviceName: string, port: PortRef, serviceUpstream = false, protocol: 'TCP' | 'UDP' = 'TCP'): ResolvedBackend {
  // A UDP port is an upstream of its own: a Service may serve DNS on 53 over both.
  const id = `${upstreamId(namespace, serviceName, port)}${protocol === 'UDP' ? '/udp' : ''}`;
  const base = { id, namespace, service: serviceName, servicePort: describePort(port) };
  const empty = (reason: WarningReason, message: string): ResolvedBackend => ({
    upstream: { ...base, endpoints: [] },
    problem: { reason, message },
  });

  const service = snapshot.services.get(`${namespace}/${serviceName}`);
  if (!service) return empty('ServiceNotFound', `Service ${namespace}/${serviceName} not found; requests answer 503`);
  const servicePort = findServicePort(service, port, protocol);

  if (service.spec.type === 'ExternalName') {
    const endpoint = externalNameEndpoint(service, servicePort, port);
    if (!endpoint) return empty('ServicePortNotFound', `ExternalName Service ${namespace}/${serviceName} has no port ${describePort(port)}; requests answer 503`);
    return { upstream: { ...base, endpoints: [endpoint] }, problem: null };
  }
  if (!servicePort) {
    return empty('ServicePortNotFound', `Service ${namespace}/${serviceName} has no ${protocol === 'UDP' ? 'UDP ' : ''}port ${describePort(port)}; requests answer 503`);
  }
  const viaClusterIp = serviceUpstream ? clusterIpBackend(service, servicePort, base) : null;
  if (viaClusterIp && 'upstream' in viaClusterIp) return viaClusterIp;
  const endpoints = readyEndpoints(snapshot, namespace, serviceName, servicePort.name ?? '');
  if (endpoints.length === 0) {
    return { upstream: { ...base, endpoints }, problem: { reason: 'NoReadyEndpoints', message: `Service ${namespace}/${serviceName} port ${describePort(port)} has no ready endpoints; requests answer 503` } };
  }
  return { upstream: { ...base, endpoints }, problem: viaClusterIp };
}

/** The controller-wide default backend uses the Service's first port, as ingress-nginx does. */
export function firstPortOf(snapshot: Snapshot, namespace: string, name: string): PortRef | null {
  const port = snapshot.services.get(`${namespace}/${name}`)?.spec.ports?.[0];
  if (!port) return null;
  return port.name ? { name: port.name } : { number: port.port };
}

/** The port names of these EndpointSlices that have at least one ready endpoint (readyEndpoints is not empty for them). */
export function readyPortNames(slices: readonly EndpointSlice[]): Set<string> {
  const names = new Set<string>();
  for (const slice of slices) {
    for (const port of slice.ports ?? []) {
      const name = port.name ?? '';
      if (!names.has(name) && readyEndpointsOf(slices, name).length > 0) names.add(name);
    }
  }
  return names;
}

/**
 * The upstream read again from the snapshot, for an EndpointSlice change that left the same ports
 * with ready endpoints: only its endpoints can differ. A ClusterIP upstream (service-upstream) has
 * no endpoints from slices and is returned as it is.
 */
export function refreshUpstream(snapshot: Snapshot, upstream: UpstreamSpec): UpstreamSpec {
  if (upstream.id.endsWith('@clusterip')) return upstream;
  const protocol = upstream.id.endsWith('/udp') ? 'UDP' : 'TCP';
  const port: PortRef = /^\d+$/.test(upstream.servicePort) ? { number: Number(upstream.servicePort) } : { name: upstream.servicePort };
  const fresh = resolveServiceBackend(snapshot, upstream.namespace, upstream.service, port, false, protocol).upstream;
  return fresh.id === upstream.id ? fresh : upstream;
}

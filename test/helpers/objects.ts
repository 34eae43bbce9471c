// A tiny DSL for Kubernetes objects in tests: each builder returns a checked object with only
// what the test cares about spelled out.
import { parseObject, type Kind, type KubeObject, type ObjectOf } from '../../operator/model.ts';

function checked<K extends Kind>(kind: K, raw: unknown): ObjectOf<K> {
  const result = parseObject(raw, kind);
  if (!result.ok) throw new Error(`test object is invalid: ${result.error}`);
  return result.object as ObjectOf<K>;
}

export interface PathSpec {
  path?: string;
  pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  service?: string;
  port?: number | string;
  resource?: { kind: string; name: string };
}

export interface RuleSpec {
  host?: string;
  paths?: PathSpec[];
}

export interface IngressSpec {
  namespace?: string;
  className?: string;
  annotations?: Record<string, string>;
  createdAt?: string;
  defaultBackend?: { service: string; port: number | string };
  rules?: RuleSpec[];
}

function backendOf(service: string, port: number | string) {
  return { service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

export function ingress(name: string, spec: IngressSpec = {}): ObjectOf<'Ingress'> {
  return checked('Ingress', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: spec.namespace ?? 'default',
      ...(spec.createdAt ? { creationTimestamp: spec.createdAt } : {}),
      ...(spec.annotations ? { annotations: spec.annotations } : {}),
    },
    spec: {
      ...(spec.className === undefined ? {} : { ingressClassName: spec.className }),
      ...(spec.defaultBackend ? { defaultBackend: backendOf(spec.defaultBackend.service, spec.defaultBackend.port) } : {}),
      rules: (spec.rules ?? []).map((rule) => ({
        ...(rule.host === undefined ? {} : { host: rule.host }),
        ...(rule.paths
          ? {
              http: {
                paths: rule.paths.map((path) => ({
                  ...(path.path === undefined ? {} : { path: path.path }),
                  pathType: path.pathType ?? 'Prefix',
                  backend: path.resource
                    ? { resource: { apiGroup: 'example.com', ...path.resource } }
                    : backendOf(path.service ?? 'web', path.port ?? 80),
                })),
              },
            }
          : {}),
      })),
    },
  });
}

/** A one-rule Ingress: host, path, service. */
export function simpleIngress(name: string, host: string, path: string, service: string, extra: IngressSpec & Partial<PathSpec> = {}): ObjectOf<'Ingress'> {
  return ingress(name, {
    className: 'pier',
    ...extra,
    rules: [{ host, paths: [{ path, pathType: extra.pathType ?? 'Prefix', service, port: extra.port ?? 80 }] }],
  });
}

export function ingressClass(name: string, controller = 'pier.dev/ingress-controller', isDefault = false): ObjectOf<'IngressClass'> {
  return checked('IngressClass', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name, ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    spec: { controller },
  });
}

export interface ServicePortSpec {
  name?: string;
  port: number;
  targetPort?: number | string;
}

export function service(name: string, ports: ServicePortSpec[] = [{ name: 'http', port: 80 }], namespace = 'default', clusterIP?: string): ObjectOf<'Service'> {
  return checked('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports, ...(clusterIP ? { clusterIP } : {}) } });
}

export function externalNameService(name: string, externalName: string, ports: ServicePortSpec[] = [], namespace = 'default'): ObjectOf<'Service'> {
  return checked('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { type: 'ExternalName', externalName, ports } });
}

export interface SliceEndpoint {
  ip: string;
  ready?: boolean | null;
}

export function endpointSlice(
  name: string,
  serviceName: string,
  endpoints: (string | SliceEndpoint)[],
  ports: { name?: string; port: number }[] = [{ name: 'http', port: 8080 }],
  namespace = 'default',
): ObjectOf<'EndpointSlice'> {
  return checked('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: ports.map((port) => ({ protocol: 'TCP', ...port })),
    endpoints: endpoints.map((endpoint) => {
      const { ip, ready } = typeof endpoint === 'string' ? { ip: endpoint, ready: true } : endpoint;
      return { addresses: [ip], conditions: ready === undefined ? {} : { ready } };
    }),
  });
}

/** A Service `name` with port http/80 and one ready endpoint at `ip`:8080. */
export function backend(name: string, ip = '10.0.0.1', namespace = 'default'): KubeObject[] {
  return [service(name, [{ name: 'http', port: 80 }], namespace), endpointSlice(`${name}-1`, name, [ip], [{ name: 'http', port: 8080 }], namespace)];
}

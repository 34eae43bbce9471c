// The output of computeRoutes: plain, serializable data. The proxy compiles a RouteTableSpec
// into its matcher; the operator writes statuses and turns warnings into Events.
import type { LoadBalancerIngress } from '../model.ts';

/** How a route's path is compared with the request path. */
export type MatchKind = 'exact' | 'prefix' | 'regex';

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Endpoint {
  /** An IP address, or a DNS name for ExternalName services. */
  readonly address: string;
  readonly port: number;
}

export interface UpstreamSpec {
  /** `namespace/service:port`, shared by every route to the same Service port. */
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  /** The Service port's name or number, as the Ingress referred to it. */
  readonly servicePort: string;
  readonly endpoints: readonly Endpoint[];
}

export interface RouteSpec {
  /** The path as the Ingress wrote it (the regex source for `regex`). */
  readonly path: string;
  readonly match: MatchKind;
  /** The Ingress's pathType, for display. */
  readonly pathType: string;
  readonly upstream: string;
  readonly ingress: ObjectRef;
}

export interface VirtualHostSpec {
  /** Lower-case host, `*.example.com` for a wildcard, or `''` for rules without a host. */
  readonly host: string;
  readonly routes: readonly RouteSpec[];
  /** Where requests for this host that match no path go: an Ingress defaultBackend, else the global default. */
  readonly fallback: FallbackSpec | null;
}

export interface FallbackSpec {
  readonly upstream: string;
  /** The Ingress whose defaultBackend this is, or null for --default-backend-service. */
  readonly ingress: ObjectRef | null;
}

export interface RouteTableSpec {
  readonly virtualHosts: readonly VirtualHostSpec[];
  /** For requests whose host matches no virtual host and no catch-all path. */
  readonly defaultBackend: FallbackSpec | null;
  readonly upstreams: readonly UpstreamSpec[];
}

export type WarningReason =
  | 'InvalidObject'
  | 'InvalidHost'
  | 'InvalidPath'
  | 'UnsupportedBackend'
  | 'ServiceNotFound'
  | 'ServicePortNotFound'
  | 'NoReadyEndpoints'
  | 'PathConflict'
  | 'DefaultBackendConflict'
  | 'IngressClassNotFound'
  | 'DuplicateObject';

export interface RouteWarning {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly reason: WarningReason;
  readonly message: string;
}

export interface IngressStatus {
  readonly ingress: ObjectRef;
  readonly loadBalancer: readonly LoadBalancerIngress[];
}

export interface RouteComputation {
  readonly table: RouteTableSpec;
  /** The status every Ingress that Pier serves should have. */
  readonly statuses: readonly IngressStatus[];
  /** Ingresses that exist but belong to another controller (their status is not ours to keep). */
  readonly ignored: readonly ObjectRef[];
  readonly warnings: readonly RouteWarning[];
}

export interface RouteOptions {
  /** IngressClasses whose spec.controller equals this are ours. */
  readonly controllerClass: string;
  /** The name the deprecated `kubernetes.io/ingress.class` annotation must carry. */
  readonly ingressClass: string;
  readonly watchIngressWithoutClass: boolean;
  /** `namespace/name` of the controller-wide fallback Service. */
  readonly defaultBackendService: ObjectRef | null;
  readonly annotationsPrefix: string;
  /** What to write into status.loadBalancer.ingress of every Ingress we serve. */
  readonly statusAddresses: readonly LoadBalancerIngress[];
}

// The output of computeRoutes: the route table for the proxy, and what the operator writes
// (statuses) and reports (warnings, as Events).
import type { CertificateCache } from './tls.ts';
import type { AnnotationCache } from '../annotations/registry.ts';

// The route table's contract lives with the data plane that compiles it (proxy/route-spec.ts).
export type { MatchKind, ObjectRef, Endpoint, BackendProtocol, UpstreamSpec, RouteSpec, VirtualHostSpec, FallbackSpec, RouteTableSpec, CertificateSpec, TlsHostSpec, TlsSpec, HttpsSettings } from '../../proxy/route-spec.ts';
export { BACKEND_PROTOCOLS, KeyMaterial } from '../../proxy/route-spec.ts';
import type { ObjectRef, RouteTableSpec } from '../../proxy/route-spec.ts';

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
  | 'DuplicateObject'
  | 'TlsSecretNotFound'
  | 'TlsSecretInvalid'
  | 'TlsHostMismatch'
  | 'TlsHostConflict'
  | 'InvalidAnnotation'
  | 'UnsupportedAnnotation'
  | 'RefusedAnnotation'
  | 'InvalidConfigMap'
  | 'RedirectHostConflict'
  | 'AliasConflict'
  | 'AuthSecretInvalid'
  | 'AuthConfigMapInvalid'
  | 'CanaryUnattached'
  | 'SslPassthroughIgnored';

export interface RouteWarning {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly reason: WarningReason;
  readonly message: string;
}

/**
 * An Ingress Pier serves, whose status.loadBalancer it keeps. The addresses are not a route: the
 * status writer joins them in, so an address change computes no routes.
 */
export interface IngressStatus {
  readonly ingress: ObjectRef;
}

/** A host listed under an Ingress's spec.tls that is served the default certificate instead of the one it names. */
export interface TlsFallback {
  readonly ingress: ObjectRef;
  readonly host: string;
}

export interface RouteComputation {
  readonly table: RouteTableSpec;
  /** The status every Ingress that Pier serves should have. */
  readonly statuses: readonly IngressStatus[];
  /** Ingresses that exist but belong to another controller (their status is not ours to keep). */
  readonly ignored: readonly ObjectRef[];
  readonly warnings: readonly RouteWarning[];
  /**
   * When (ms since the epoch) a certificate this result used or refused expires or becomes valid,
   * so the same objects would give another result: the caller computes again then. Null when no
   * such time is ahead, or when no clock (`now`) was given.
   */
  readonly certificatesChangeAt: number | null;
  /** TLS hosts on the default certificate because their own can't be used (each also has a warning). */
  readonly tlsFallbacks: readonly TlsFallback[];
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
  /** `namespace/name` of the --default-ssl-certificate Secret. */
  readonly defaultSslCertificate?: ObjectRef | null;
  /** `namespace/name` of the --configmap ConfigMap (HSTS and redirect settings). */
  readonly configMap?: ObjectRef | null;
  /** The time (ms since the epoch) certificates are checked against. Absent: expiry isn't checked. */
  readonly now?: number;
  /** Remembers parsed certificates between computations, so unchanged Secrets aren't parsed again. */
  readonly certificateCache?: CertificateCache;
  /** `namespace/name` of --tcp-services-configmap and --udp-services-configmap. */
  readonly tcpServicesConfigMap?: ObjectRef | null;
  readonly udpServicesConfigMap?: ObjectRef | null;
  /** --enable-ssl-passthrough: the ssl-passthrough annotation takes effect. */
  readonly sslPassthrough?: boolean;
  /** Ports Pier listens on itself, which no stream may take. */
  readonly reservedPorts?: readonly number[];
  /** ConfigMaps other than the controller's are in the snapshot (pier serve, or --enable-auth-proxy-set-headers); absent: true. */
  readonly configMapsReadable?: boolean;
  /** Remembers each Ingress's annotations, read once per object. */
  readonly annotationCache?: AnnotationCache;
}

import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { ControllerConfigMap, StreamServicesConfigMap } from './config-map.ts';
import { ControllerDeployment, controllerArgs, type ControllerResources } from './controller.ts';
import { PierIngressClass } from './ingress-class.ts';
import { AnnotationAdmissionPolicy } from './admission-policy.ts';
import { DEFAULT_ANNOTATIONS_PREFIX, IMAGE_REPOSITORY, IMAGE_TAG, PIER_NAME, Ports } from './names.ts';
import { PierNamespace } from './namespace.ts';
import { ControllerRbac } from './rbac.ts';
import { ControllerService, type ControllerServiceType, type StreamPort } from './service.ts';
import { publishesNodeAddresses, statusPublishingArgs, type StatusPublishing } from './status-publishing.ts';

export interface PierChartProps {
  /**
   * Namespace Pier is installed in (created by the chart).
   * @default 'pier'
   */
  readonly namespace?: string;
  /**
   * Controller image.
   * @default 'ghcr.io/pier-dev/pier:0.1.0'
   */
  readonly image?: string;
  /**
   * Number of controller pods. All of them proxy; one, the leader, writes Ingress status.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * Type of the `pier-controller` Service.
   * @default 'NodePort'
   */
  readonly serviceType?: ControllerServiceType;
  /**
   * Make `pier` the cluster's default IngressClass.
   * @default false
   */
  readonly defaultClass?: boolean;
  /**
   * Also serve Ingresses that name no class (`--watch-ingress-without-class`).
   * @default false
   */
  readonly watchIngressWithoutClass?: boolean;
  /**
   * Where the addresses written to Ingress status come from. Only `{ nodeAddresses: true }`
   * grants the controller access to nodes and pods.
   * @default { publishService: true } (the `pier-controller` Service)
   */
  readonly statusPublishing?: StatusPublishing;
  /**
   * Name of the leader-election Lease (`--election-id`); the only Lease the controller may update.
   * @default 'pier-leader'
   */
  readonly electionId?: string;
  /**
   * Data of the `pier-controller` ConfigMap (ingress-nginx ConfigMap keys).
   * @default {}
   */
  readonly config?: Readonly<Record<string, string>>;
  /**
   * Read the ConfigMaps that `auth-proxy-set-headers` annotations name
   * (`--enable-auth-proxy-set-headers`): the controller then watches every ConfigMap of the
   * cluster instead of its own alone. Off, such locations answer 503.
   * @default false
   */
  readonly authProxySetHeaders?: boolean;
  /**
   * ValidatingAdmissionPolicies (CEL, run by the API server: no webhook) that deny Ingresses of
   * Pier's class with snippets, control characters or malformed annotation values, and warn about
   * keys Pier ignores. Needs Kubernetes 1.31 or later (CEL's isIP and isCIDR).
   * @default true
   */
  readonly admissionPolicy?: boolean;
  /**
   * TCP services, as ingress-nginx's `--tcp-services-configmap` takes them:
   * `{ '5432': 'db/postgres:5432', '9000': 'default/app:9000:PROXY' }`. The chart writes the
   * ConfigMap `pier-tcp-services`, passes the flag, and opens each port on the Service and the pods.
   * @default {}
   */
  readonly tcpServices?: Readonly<Record<string, string>>;
  /**
   * UDP services, the same way (`pier-udp-services`, `--udp-services-configmap`): `{ '53': 'kube-system/kube-dns:53' }`.
   * @default {}
   */
  readonly udpServices?: Readonly<Record<string, string>>;
  /**
   * `--enable-ssl-passthrough`: the `ssl-passthrough` annotation sends a host's TLS connections to
   * its backend unterminated.
   * @default false
   */
  readonly sslPassthrough?: boolean;
  /**
   * Proxy worker processes per pod (`--workers`).
   * @default one per CPU of `resources.cpu.limitMillis` when set (read by the pod through the downward API), else 2
   */
  readonly workers?: number;
  /**
   * CPU and memory requests and limits of the controller container.
   * @default measured for the worker count (BENCHMARKS.md): 100m CPU requested, no CPU limit, memory for idle requested and for load limited
   */
  readonly resources?: ControllerResources;
}

export const PIER_DEFAULTS = {
  namespace: 'pier',
  image: `${IMAGE_REPOSITORY}:${IMAGE_TAG}`,
  replicas: 2,
  serviceType: 'NodePort',
  defaultClass: false,
  watchIngressWithoutClass: false,
  statusPublishing: { publishService: true },
  electionId: 'pier-leader',
  config: {},
  authProxySetHeaders: false,
  admissionPolicy: true,
  tcpServices: {},
  udpServices: {},
  sslPassthrough: false,
} as const satisfies Omit<Required<PierChartProps>, 'workers' | 'resources'>;

/** Everything `kubectl apply -f dist/` installs: one object per concern, the Namespace first. */
export class PierChart extends Chart {
  constructor(scope: Construct, id: string, props: PierChartProps = {}) {
    super(scope, id, { labels: { 'app.kubernetes.io/name': PIER_NAME, 'app.kubernetes.io/part-of': PIER_NAME } });
    const settings = { ...PIER_DEFAULTS, ...withoutUndefined(props) };
    if (!Number.isInteger(settings.replicas) || settings.replicas < 0) {
      throw new Error(`replicas must be a whole number >= 0, not ${settings.replicas}`);
    }
    if (settings.workers !== undefined && (!Number.isInteger(settings.workers) || settings.workers < 1)) {
      throw new Error(`workers must be a whole number >= 1, not ${settings.workers}`);
    }
    const resources = settings.resources;
    if (resources && resources.memory.requestMiB > resources.memory.limitMiB) {
      throw new Error(`resources.memory: the request (${resources.memory.requestMiB} MiB) is above the limit (${resources.memory.limitMiB} MiB)`);
    }
    if (resources?.cpu.limitMillis !== undefined && resources.cpu.requestMillis > resources.cpu.limitMillis) {
      throw new Error(`resources.cpu: the request (${resources.cpu.requestMillis}m) is above the limit (${resources.cpu.limitMillis}m)`);
    }
    const namespace = settings.namespace;

    // Constructed first so it is written first: kubectl applies a file in order.
    const pierNamespace = new PierNamespace(this, 'Namespace', { name: namespace });

    const rbac = new ControllerRbac(this, 'Rbac', { namespace });
    rbac.allowWatchingIngresses();
    rbac.allowWatchingBackends();
    rbac.allowWritingIngressStatus();
    rbac.allowRecordingEvents();
    rbac.allowLeaderElection(settings.electionId);
    if (publishesNodeAddresses(settings.statusPublishing, settings.serviceType)) rbac.allowReadingNodeAddresses();

    const configMap = new ControllerConfigMap(this, 'ConfigMap', { namespace, config: settings.config });
    const streamPorts = [...streamPortsOf('TCP', settings.tcpServices), ...streamPortsOf('UDP', settings.udpServices)];
    const tcpServices = Object.keys(settings.tcpServices).length > 0 ? new StreamServicesConfigMap(this, 'TcpServices', { namespace, name: TCP_SERVICES_NAME, services: settings.tcpServices }) : null;
    const udpServices = Object.keys(settings.udpServices).length > 0 ? new StreamServicesConfigMap(this, 'UdpServices', { namespace, name: UDP_SERVICES_NAME, services: settings.udpServices }) : null;
    const service = new ControllerService(this, 'Service', { namespace, type: settings.serviceType, streamPorts });
    const ingressClass = new PierIngressClass(this, 'IngressClass', { defaultClass: settings.defaultClass });
    if (settings.admissionPolicy) new AnnotationAdmissionPolicy(this, 'AdmissionPolicy', { ingressClass: ingressClass.name, prefix: DEFAULT_ANNOTATIONS_PREFIX });
    new ControllerDeployment(this, 'Controller', {
      namespace,
      image: settings.image,
      replicas: settings.replicas,
      serviceAccount: rbac.serviceAccount,
      ...(settings.workers !== undefined ? { workers: settings.workers } : {}),
      ...(settings.resources !== undefined ? { resources: settings.resources } : {}),
      streamPorts,
      args: [
        ...statusPublishingArgs(settings.statusPublishing, service.reference),
        ...controllerArgs({
          electionId: settings.electionId,
          configMap: configMap.reference,
          watchIngressWithoutClass: settings.watchIngressWithoutClass,
          authProxySetHeaders: settings.authProxySetHeaders,
          ...(tcpServices ? { tcpServicesConfigMap: tcpServices.reference } : {}),
          ...(udpServices ? { udpServicesConfigMap: udpServices.reference } : {}),
          sslPassthrough: settings.sslPassthrough,
        }),
      ],
    });

    for (const child of this.node.children) {
      if (child !== pierNamespace) child.node.addDependency(pierNamespace);
    }
  }
}

const TCP_SERVICES_NAME = 'pier-tcp-services';
const UDP_SERVICES_NAME = 'pier-udp-services';
// The default server's 8181 is Pier's flag default, which the chart leaves as is.
const RESERVED_PORTS: ReadonlySet<number> = new Set([Ports.http, Ports.https, Ports.metrics, 8181]);

/** The ports of a services map, checked: a whole number 1-65535 that Pier doesn't listen on itself. */
function streamPortsOf(protocol: 'TCP' | 'UDP', services: Readonly<Record<string, string>>): StreamPort[] {
  return Object.keys(services).map((key) => {
    const port = Number(key);
    if (!/^\d+$/.test(key) || port < 1 || port > 65_535) throw new Error(`${protocol.toLowerCase()}Services: "${key}" is not a port number`);
    if (RESERVED_PORTS.has(port)) throw new Error(`${protocol.toLowerCase()}Services: port ${port} is one Pier listens on itself`);
    return { protocol, port };
  });
}

/** `{ image: undefined }` means "the default", not "no image". */
function withoutUndefined<T extends object>(props: T): Partial<T> {
  return Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined)) as Partial<T>;
}

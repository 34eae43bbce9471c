import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_CLASS, CONTROLLER_NAME, CONTROLLER_SELECTOR_LABELS, INGRESS_CLASS_NAME, Ports, RUN_AS_ID } from './names.ts';
import { streamPortName, type StreamPort } from './service.ts';

/** Long enough for keep-alive clients and slow uploads to finish after SIGTERM; ingress-nginx uses the same. */
const TERMINATION_GRACE = Duration.seconds(300);

/**
 * How long the pod keeps serving after it is marked Terminating, before SIGTERM: the time for
 * EndpointSlice watchers (kube-proxy, cloud load balancers) to stop sending it new connections.
 */
const ENDPOINT_DEREGISTRATION_SECONDS = 5;

const HEALTH_PATH = '/healthz';
const SCRATCH_DIR = '/tmp';

/**
 * Memory per process in MiB, measured (BENCHMARKS.md, "Footprint", Node 26 with the image's flags;
 * RSS, which counts the Node binary's shared pages in every process, so the sums overstate a
 * little): idle, and the most seen under load. With --workers=1 the one process also proxies.
 */
const MEMORY_MIB = {
  singleProcess: { idle: 96, loaded: 128 },
  primary: { idle: 96, loaded: 96 },
  worker: { idle: 80, loaded: 120 },
} as const;
/** Room above the loaded figure before the kernel's OOM killer, for bursts and many connections. */
const MEMORY_LIMIT_HEADROOM = 1.5;

/** Proxy worker processes per pod when neither `workers` nor a CPU limit says otherwise. */
export const DEFAULT_WORKERS = 2;

/** The variable the CPU limit reaches the container in (downward API), for `--workers=$(...)`. */
const CPU_LIMIT_ENV = 'PIER_CPU_LIMIT';

export interface ControllerResources {
  /** CPU request and optional limit, in millicores. */
  readonly cpu: { readonly requestMillis: number; readonly limitMillis?: number };
  /** Memory request and limit, in MiB. */
  readonly memory: { readonly requestMiB: number; readonly limitMiB: number };
}

/**
 * Requests and limits from the measured footprint for this many workers: memory requested for
 * idle, limited at the loaded figure plus headroom. CPU: ingress-nginx's 100m request, and no
 * limit unless asked (CFS throttling adds latency to every request once a proxy hits it).
 */
export function measuredResources(workers: number): ControllerResources {
  // --workers=1 runs the proxy in the primary: one process.
  const idle = workers === 1 ? MEMORY_MIB.singleProcess.idle : MEMORY_MIB.primary.idle + workers * MEMORY_MIB.worker.idle;
  const loaded = workers === 1 ? MEMORY_MIB.singleProcess.loaded : MEMORY_MIB.primary.loaded + workers * MEMORY_MIB.worker.loaded;
  return {
    cpu: { requestMillis: 100 },
    memory: { requestMiB: Math.ceil(idle / 16) * 16, limitMiB: Math.ceil((loaded * MEMORY_LIMIT_HEADROOM) / 64) * 64 },
  };
}

/** How many workers a pod runs: the prop, else one per CPU of the limit (rounded up), else the default. */
export function workersOf(workers: number | undefined, cpuLimitMillis: number | undefined): number {
  if (workers !== undefined) return workers;
  return cpuLimitMillis !== undefined ? Math.max(1, Math.ceil(cpuLimitMillis / 1000)) : DEFAULT_WORKERS;
}

/** Lets an unprivileged process bind 80 and 443 even where file capabilities can't apply (allowPrivilegeEscalation: false). */
const UNPRIVILEGED_PORTS_SYSCTL = { name: 'net.ipv4.ip_unprivileged_port_start', value: '0' };

export interface ControllerDeploymentProps {
  /** Namespace of the Deployment. */
  readonly namespace: string;
  /** Image of the controller, `repository:tag`. */
  readonly image: string;
  /** Number of controller pods; one of them is the leader that writes status. */
  readonly replicas: number;
  /** ServiceAccount the pods run as. */
  readonly serviceAccount: kplus.IServiceAccount;
  /** Flags after `controller`, in order (`--workers` is added here). */
  readonly args: readonly string[];
  /** `--workers`; absent: from the CPU limit through the downward API when there is one, else DEFAULT_WORKERS. */
  readonly workers?: number;
  /** Absent: measuredResources() for the worker count. */
  readonly resources?: ControllerResources;
  /** TCP and UDP service ports the container listens on too. */
  readonly streamPorts?: readonly StreamPort[];
}

/**
 * The `pier-controller` Deployment: non-root, read-only root filesystem, every capability
 * dropped but NET_BIND_SERVICE, RuntimeDefault seccomp (Pod Security "restricted").
 * cdk8s-plus-27 can't express seccomp, the `ALL` capability or unprefixed capability names,
 * so those are JSON patches on the synthesized object.
 */
export class ControllerDeployment extends Construct {
  private readonly deployment: kplus.Deployment;

  constructor(scope: Construct, id: string, props: ControllerDeploymentProps) {
    super(scope, id);
    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: CONTROLLER_NAME, namespace: props.namespace },
      replicas: props.replicas,
      select: false,
      podMetadata: {
        labels: { ...CONTROLLER_SELECTOR_LABELS },
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(Ports.metrics) },
      },
      serviceAccount: props.serviceAccount,
      automountServiceAccountToken: true, // it talks to the API server
      terminationGracePeriod: TERMINATION_GRACE,
      securityContext: {
        user: RUN_AS_ID,
        group: RUN_AS_ID,
        ensureNonRoot: true,
        sysctls: [UNPRIVILEGED_PORTS_SYSCTL],
      },
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: { ...CONTROLLER_SELECTOR_LABELS } }));

    const scratch = kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp');
    const workers = workersOf(props.workers, props.resources?.cpu.limitMillis);
    const resources = props.resources ?? measuredResources(workers);
    // With a CPU limit and no explicit count, the pod reads its limit at start (rounded up to whole
    // CPUs), so a limit changed on the cluster (a LimitRange, an edit) still sizes the workers.
    const workersFromLimit = props.workers === undefined && resources.cpu.limitMillis !== undefined;
    this.deployment.addContainer({
      name: 'controller',
      image: props.image,
      // A tagged release doesn't change; and skaffold's locally loaded dev images can't be pulled.
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: ['controller', ...props.args, workersFromLimit ? `--workers=$(${CPU_LIMIT_ENV})` : `--workers=${workers}`],
      ports: [
        { name: 'http', number: Ports.http },
        { name: 'https', number: Ports.https },
        { name: 'metrics', number: Ports.metrics },
        ...(props.streamPorts ?? []).map((stream) => ({ name: streamPortName(stream), number: stream.port, protocol: stream.protocol === 'UDP' ? kplus.Protocol.UDP : kplus.Protocol.TCP })),
      ],
      envVariables: {
        POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
        POD_NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
        ...(workersFromLimit ? { [CPU_LIMIT_ENV]: kplus.EnvValue.fromResource(kplus.ResourceFieldPaths.CPU_LIMIT, { divisor: '1' }) } : {}),
      },
      liveness: kplus.Probe.fromHttpGet(HEALTH_PATH, { port: Ports.metrics }),
      readiness: kplus.Probe.fromHttpGet(HEALTH_PATH, { port: Ports.metrics }),
      resources: {
        cpu: {
          request: kplus.Cpu.millis(resources.cpu.requestMillis),
          ...(resources.cpu.limitMillis !== undefined ? { limit: kplus.Cpu.millis(resources.cpu.limitMillis) } : {}),
        },
        memory: { request: Size.mebibytes(resources.memory.requestMiB), limit: Size.mebibytes(resources.memory.limitMiB) },
      },
      securityContext: {
        user: RUN_AS_ID,
        group: RUN_AS_ID,
        ensureNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      },
      // Keep serving while endpoints deregister; SIGTERM comes after, and the controller then
      // drains within terminationGracePeriodSeconds. An exec `sleep`, because the kubelet's own
      // `sleep` action (1.30+) is a field the -27 L1 types drop when they serialize.
      lifecycle: { preStop: kplus.Handler.fromCommand(['sleep', String(ENDPOINT_DEREGISTRATION_SECONDS)]) },
      // The root filesystem is read-only; Node and the self-signed fallback certificate may need
      // scratch files.
      volumeMounts: [{ path: SCRATCH_DIR, volume: scratch }],
    });
    this.patchWhatPlusCannotExpress();
  }

  private patchWhatPlusCannotExpress(): void {
    const pod = '/spec/template/spec';
    const container = `${pod}/containers/0`;
    const runtimeDefault = { type: 'RuntimeDefault' };
    ApiObject.of(this.deployment).addJsonPatch(
      JsonPatch.add(`${pod}/securityContext/seccompProfile`, runtimeDefault),
      // plus sets fsGroupChangePolicy even without an fsGroup; there is no volume that needs one.
      JsonPatch.remove(`${pod}/securityContext/fsGroupChangePolicy`),
      JsonPatch.add(`${container}/securityContext/seccompProfile`, runtimeDefault),
      JsonPatch.add(`${container}/securityContext/capabilities`, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] }),
      // plus labels pods with their construct path even when it doesn't select by it; a
      // refactor of the chart shouldn't roll the pods.
      JsonPatch.remove(`/spec/template/metadata/labels/${jsonPointerEscape(kplus.Pod.ADDRESS_LABEL)}`),
    );
  }
}

/** RFC 6901: `~` and `/` inside one path segment. */
function jsonPointerEscape(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The controller's flags that don't depend on where status is published. */
export function controllerArgs(options: {
  readonly electionId: string;
  readonly configMap: string;
  readonly watchIngressWithoutClass: boolean;
  readonly authProxySetHeaders: boolean;
  readonly tcpServicesConfigMap?: string;
  readonly udpServicesConfigMap?: string;
  readonly sslPassthrough?: boolean;
}): string[] {
  return [
    `--election-id=${options.electionId}`,
    `--controller-class=${CONTROLLER_CLASS}`,
    `--ingress-class=${INGRESS_CLASS_NAME}`,
    `--configmap=${options.configMap}`,
    `--http-port=${Ports.http}`,
    `--https-port=${Ports.https}`,
    `--healthz-port=${Ports.metrics}`,
    ...(options.watchIngressWithoutClass ? ['--watch-ingress-without-class'] : []),
    ...(options.authProxySetHeaders ? ['--enable-auth-proxy-set-headers'] : []),
    ...(options.tcpServicesConfigMap ? [`--tcp-services-configmap=${options.tcpServicesConfigMap}`] : []),
    ...(options.udpServicesConfigMap ? [`--udp-services-configmap=${options.udpServicesConfigMap}`] : []),
    ...(options.sslPassthrough ? ['--enable-ssl-passthrough'] : []),
  ];
}

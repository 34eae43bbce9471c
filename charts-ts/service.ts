import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_NAME, CONTROLLER_SELECTOR_LABELS, Ports } from './names.ts';

/** How the controller's Service is exposed; ExternalName makes no sense for a proxy. */
export type ControllerServiceType = 'NodePort' | 'LoadBalancer' | 'ClusterIP';

const SERVICE_TYPES: Readonly<Record<ControllerServiceType, kplus.ServiceType>> = {
  NodePort: kplus.ServiceType.NODE_PORT,
  LoadBalancer: kplus.ServiceType.LOAD_BALANCER,
  ClusterIP: kplus.ServiceType.CLUSTER_IP,
};

export interface ControllerServiceProps {
  /** Namespace of the Service. */
  readonly namespace: string;
  /** How clients outside the cluster reach the proxy. */
  readonly type: ControllerServiceType;
  /** TCP and UDP service ports, exposed beside 80 and 443. */
  readonly streamPorts?: readonly StreamPort[];
}

/** A port of the tcp/udp services ConfigMaps, as the Service and the container expose it. */
export interface StreamPort {
  readonly protocol: 'TCP' | 'UDP';
  readonly port: number;
}

export function streamPortName(port: StreamPort): string {
  return `${port.protocol.toLowerCase()}-${port.port}`;
}

/** The `pier-controller` Service: ports 80 and 443 (and any TCP/UDP service ports) to the controller pods. */
export class ControllerService extends Construct {
  /** `<namespace>/<name>`, the form `--publish-service` takes. */
  readonly reference: string;

  constructor(scope: Construct, id: string, props: ControllerServiceProps) {
    super(scope, id);
    const type = SERVICE_TYPES[props.type];
    if (type === undefined) {
      throw new Error(`serviceType must be one of ${Object.keys(SERVICE_TYPES).join(', ')}, not ${String(props.type)}`);
    }
    const service = new kplus.Service(this, 'Resource', {
      metadata: { name: CONTROLLER_NAME, namespace: props.namespace },
      type,
      ports: [
        { name: 'http', port: Ports.http, targetPort: Ports.http },
        { name: 'https', port: Ports.https, targetPort: Ports.https },
        ...(props.streamPorts ?? []).map((stream) => ({ name: streamPortName(stream), port: stream.port, targetPort: stream.port, protocol: stream.protocol === 'UDP' ? kplus.Protocol.UDP : kplus.Protocol.TCP })),
      ],
    });
    for (const [key, value] of Object.entries(CONTROLLER_SELECTOR_LABELS)) {
      service.selectLabel(key, value);
    }
    this.reference = `${props.namespace}/${CONTROLLER_NAME}`;
  }
}

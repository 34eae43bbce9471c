import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_NAME } from './names.ts';

export interface ControllerConfigMapProps {
  /** Namespace of the ConfigMap. */
  readonly namespace: string;
  /**
   * Settings in ingress-nginx's ConfigMap format (`--configmap`).
   * @default {} (the controller's built-in defaults)
   */
  readonly config?: Readonly<Record<string, string>>;
}

/** The ConfigMap the controller reads its global settings from (`--configmap=<ns>/pier-controller`). */
export class ControllerConfigMap extends Construct {
  /** `<namespace>/<name>`, the form `--configmap` takes. */
  readonly reference: string;

  constructor(scope: Construct, id: string, props: ControllerConfigMapProps) {
    super(scope, id);
    new kplus.ConfigMap(this, 'Resource', {
      metadata: { name: CONTROLLER_NAME, namespace: props.namespace },
      data: { ...props.config },
    });
    this.reference = `${props.namespace}/${CONTROLLER_NAME}`;
  }
}

export interface StreamServicesConfigMapProps {
  readonly namespace: string;
  /** `pier-tcp-services` or `pier-udp-services`. */
  readonly name: string;
  /** ingress-nginx's format: `"<port>": "<namespace>/<service>:<port>[:PROXY][:PROXY]"`. */
  readonly services: Readonly<Record<string, string>>;
}

/** A TCP or UDP services ConfigMap (`--tcp-services-configmap`, `--udp-services-configmap`). */
export class StreamServicesConfigMap extends Construct {
  readonly reference: string;

  constructor(scope: Construct, id: string, props: StreamServicesConfigMapProps) {
    super(scope, id);
    new kplus.ConfigMap(this, 'Resource', { metadata: { name: props.name, namespace: props.namespace }, data: { ...props.services } });
    this.reference = `${props.namespace}/${props.name}`;
  }
}

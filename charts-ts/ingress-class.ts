import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { CONTROLLER_CLASS, INGRESS_CLASS_NAME } from './names.ts';

/** The annotation that makes Kubernetes assign this class to Ingresses that name none. */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

export interface PierIngressClassProps {
  /**
   * Whether Ingresses without `spec.ingressClassName` get this class when they are created.
   * @default false
   */
  readonly defaultClass?: boolean;
}

/** The IngressClass `pier`, whose Ingresses Pier serves. cdk8s-plus-27 has no IngressClass, so this is the L1 type. */
export class PierIngressClass extends Construct {
  readonly name = INGRESS_CLASS_NAME;

  constructor(scope: Construct, id: string, props: PierIngressClassProps = {}) {
    super(scope, id);
    const annotations = props.defaultClass ? { [DEFAULT_CLASS_ANNOTATION]: 'true' } : undefined;
    new k8s.KubeIngressClass(this, 'Resource', {
      metadata: { name: INGRESS_CLASS_NAME, annotations },
      spec: { controller: CONTROLLER_CLASS },
    });
  }
}

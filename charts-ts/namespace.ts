import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

export interface PierNamespaceProps {
  /** Name of the namespace. */
  readonly name: string;
}

/**
 * The namespace Pier runs in. It enforces the Pod Security "restricted" profile, so a pod
 * template that loosens the controller's securityContext is rejected instead of running.
 */
export class PierNamespace extends Construct {
  readonly name: string;

  constructor(scope: Construct, id: string, props: PierNamespaceProps) {
    super(scope, id);
    this.name = props.name;
    const namespace = new kplus.Namespace(this, 'Resource', { metadata: { name: props.name } });
    for (const mode of ['enforce', 'warn', 'audit']) {
      namespace.metadata.addLabel(`pod-security.kubernetes.io/${mode}`, 'restricted');
    }
  }
}

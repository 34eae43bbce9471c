// Where the leader takes the addresses it writes into `status.loadBalancer` of every Ingress.
// The choice decides both the controller's flags and whether it may read nodes and pods.

/** The addresses of the controller's own Service (`--publish-service`), as ingress-nginx does by default. */
export interface PublishServiceAddresses {
  readonly publishService: true;
}

/** Fixed addresses, e.g. an external load balancer's (`--publish-status-address=a,b`). */
export interface PublishFixedAddresses {
  readonly addresses: readonly string[];
}

/**
 * The addresses of the nodes that run the controller's pods (neither flag set): Pier finds its
 * own pod by POD_NAME, the pods that share its labels, and their nodes.
 */
export interface PublishNodeAddresses {
  readonly nodeAddresses: true;
}

export type StatusPublishing = PublishServiceAddresses | PublishFixedAddresses | PublishNodeAddresses;

/** The controller flags that select `publishing`; `service` is `<namespace>/<name>` of the controller's Service. */
export function statusPublishingArgs(publishing: StatusPublishing, service: string): string[] {
  if ('addresses' in publishing) {
    if (publishing.addresses.length === 0) {
      throw new Error('statusPublishing.addresses must name at least one address');
    }
    return [`--publish-status-address=${publishing.addresses.join(',')}`];
  }
  if ('nodeAddresses' in publishing) return [];
  return [`--publish-service=${service}`];
}

/**
 * Whether the controller needs to read nodes (and list its pods to find them): for node
 * addresses, and for a published Service that is not a LoadBalancer, since then the Service has
 * no address of its own and Pier publishes the nodes' (what NodePort users need), as ingress-nginx does.
 */
export function publishesNodeAddresses(publishing: StatusPublishing, serviceType: string): boolean {
  if ('nodeAddresses' in publishing) return true;
  return 'publishService' in publishing && serviceType !== 'LoadBalancer';
}

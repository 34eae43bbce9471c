import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { PIER_NAME } from './names.ts';

const CORE = 'core'; // cdk8s-plus writes the core group as ""
const NETWORKING = 'networking.k8s.io';
const DISCOVERY = 'discovery.k8s.io';
const COORDINATION = 'coordination.k8s.io';

function resource(apiGroup: string, resourceType: string): kplus.ApiResource {
  return kplus.ApiResource.custom({ apiGroup, resourceType });
}

/** One named object; only namespaced Roles take these (cdk8s-plus drops names on ClusterRoles). */
function namedResource(apiGroup: string, resourceType: string, resourceName: string): kplus.IApiResource {
  return { apiGroup, resourceType, resourceName };
}

export interface ControllerRbacProps {
  /** Namespace of the ServiceAccount and of the namespaced Role. */
  readonly namespace: string;
}

/**
 * The controller's identity and what it may do: a ServiceAccount, a ClusterRole for the
 * objects it watches across the cluster, and a Role in its own namespace for leader election.
 * It starts with no permissions; each `allow…` method grants one need of the operator.
 */
export class ControllerRbac extends Construct {
  readonly serviceAccount: kplus.ServiceAccount;
  private readonly clusterRole: kplus.ClusterRole;
  private readonly namespaceRole: kplus.Role;

  constructor(scope: Construct, id: string, props: ControllerRbacProps) {
    super(scope, id);
    // The pod mounts the token itself; other pods that borrow this account shouldn't.
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: PIER_NAME, namespace: props.namespace },
      automountToken: false,
    });

    this.clusterRole = new kplus.ClusterRole(this, 'ClusterRole', { metadata: { name: PIER_NAME } });
    const clusterBinding = new kplus.ClusterRoleBinding(this, 'ClusterRoleBinding', {
      metadata: { name: PIER_NAME },
      role: this.clusterRole,
    });
    clusterBinding.addSubjects(this.serviceAccount);

    this.namespaceRole = new kplus.Role(this, 'Role', {
      metadata: { name: PIER_NAME, namespace: props.namespace },
    });
    const binding = new kplus.RoleBinding(this, 'RoleBinding', {
      metadata: { name: PIER_NAME, namespace: props.namespace },
      role: this.namespaceRole,
    });
    binding.addSubjects(this.serviceAccount);
  }

  /** Watch Ingresses and IngressClasses in every namespace: the routes come from them. */
  allowWatchingIngresses(): void {
    this.clusterRole.allow(['list', 'watch'], resource(NETWORKING, 'ingresses'), resource(NETWORKING, 'ingressclasses'));
  }

  /**
   * Watch what Ingresses point at: Services and their EndpointSlices, Secrets (TLS, and htpasswd
   * for basic auth), and the ConfigMaps of `--configmap` and `--tcp-services-configmap`.
   * list+watch only, no `get`: the informers' cache is the only reader.
   */
  allowWatchingBackends(): void {
    this.clusterRole.allow(
      ['list', 'watch'],
      resource(CORE, 'services'),
      resource(DISCOVERY, 'endpointslices'),
      resource(CORE, 'secrets'),
      resource(CORE, 'configmaps'),
    );
  }

  /** Write `status.loadBalancer` of the Ingresses it serves (the subresource only, not the spec). */
  allowWritingIngressStatus(): void {
    this.clusterRole.allow(['patch'], resource(NETWORKING, 'ingresses/status'));
  }

  /**
   * Record Events on Ingresses (core `events`, which client-go's and @kubernetes/client-node's
   * recorders use; events.k8s.io is left out until the operator writes that API).
   */
  allowRecordingEvents(): void {
    this.clusterRole.allow(['create', 'patch'], resource(CORE, 'events'));
  }

  /**
   * Find the addresses of the nodes that run the controller: list its own pods (in its
   * namespace only) to learn their nodes, then read each of those nodes by name.
   */
  allowReadingNodeAddresses(): void {
    this.clusterRole.allow(['get'], resource(CORE, 'nodes'));
    this.namespaceRole.allow(['list'], resource(CORE, 'pods'));
  }

  /**
   * Hold the leader-election Lease named `electionId` in the controller's namespace.
   * `create` can't be limited by name (the name isn't known to RBAC before the object
   * exists), so it is granted on its own rule without resourceNames.
   */
  allowLeaderElection(electionId: string): void {
    this.namespaceRole.allow(['get', 'update'], namedResource(COORDINATION, 'leases', electionId));
    this.namespaceRole.allow(['create'], resource(COORDINATION, 'leases'));
  }
}

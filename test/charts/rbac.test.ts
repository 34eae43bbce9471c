import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findObject, synthesizePier, verbsByResource, type PolicyRule } from './synthesize.ts';

// Everything the operator does across the cluster; anything more is a permission it doesn't use.
const CLUSTER_VERBS = {
  'networking.k8s.io/ingresses': ['list', 'watch'],
  'networking.k8s.io/ingressclasses': ['list', 'watch'],
  'networking.k8s.io/ingresses/status': ['patch'],
  'core/services': ['list', 'watch'],
  'discovery.k8s.io/endpointslices': ['list', 'watch'],
  'core/secrets': ['list', 'watch'],
  'core/configmaps': ['list', 'watch'],
  'core/events': ['create', 'patch'],
};

function clusterRules(props: Parameters<typeof synthesizePier>[0] = {}): PolicyRule[] {
  return findObject(synthesizePier(props), 'ClusterRole', 'pier').rules;
}

function namespaceRules(props: Parameters<typeof synthesizePier>[0] = {}): PolicyRule[] {
  return findObject(synthesizePier(props), 'Role', 'pier').rules;
}

describe('the ClusterRole', () => {
  it('grants exactly the verbs the operator uses, resource by resource', () => {
    assert.deepEqual(verbsByResource(clusterRules({ statusPublishing: { addresses: ['203.0.113.10'] } })), CLUSTER_VERBS);
  });

  it('has no wildcard and no rule limited to names', () => {
    for (const rule of clusterRules()) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs]) assert.ok(!field?.includes('*'), JSON.stringify(rule));
      assert.deepEqual(rule.resourceNames ?? [], [], 'a named rule would hide from verbsByResource');
    }
  });

  it('lets the controller read secrets only through list and watch, never get', () => {
    assert.deepEqual(verbsByResource(clusterRules())['core/secrets'], ['list', 'watch']);
  });

  it('leaves out nodes and pods when status comes from fixed addresses or a LoadBalancer Service', () => {
    const cases = [{ statusPublishing: { addresses: ['203.0.113.10'] } }, { statusPublishing: { publishService: true } as const, serviceType: 'LoadBalancer' as const }];
    for (const props of cases) {
      const granted = { ...verbsByResource(clusterRules(props)), ...verbsByResource(namespaceRules(props)) };
      assert.equal(granted['core/nodes'], undefined, JSON.stringify(props));
      assert.equal(granted['core/pods'], undefined, JSON.stringify(props));
    }
  });

  it('lets the controller get nodes, and list pods in its own namespace only, when status comes from node addresses', () => {
    const cases = [{ statusPublishing: { nodeAddresses: true } as const }, {}, { serviceType: 'NodePort' as const }, { serviceType: 'ClusterIP' as const }];
    for (const props of cases) {
      assert.deepEqual(verbsByResource(clusterRules(props)), { ...CLUSTER_VERBS, 'core/nodes': ['get'] }, JSON.stringify(props));
      assert.deepEqual(verbsByResource(namespaceRules(props))['core/pods'], ['list'], JSON.stringify(props));
    }
  });

  it('is bound to the pier ServiceAccount in Pier\'s namespace', () => {
    const manifests = synthesizePier({ namespace: 'edge' });
    const binding = findObject(manifests, 'ClusterRoleBinding', 'pier');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pier' });
    assert.deepEqual(binding.subjects, [{ apiGroup: '', kind: 'ServiceAccount', name: 'pier', namespace: 'edge' }]);
    assert.equal(findObject(manifests, 'ServiceAccount', 'pier').metadata.namespace, 'edge');
  });
});

describe('the leader-election Role', () => {
  it('lets the controller get and update only the Lease named by the election id', () => {
    const named = namespaceRules().filter((rule) => (rule.resourceNames ?? []).length > 0);
    assert.deepEqual(named, [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pier-leader'], verbs: ['get', 'update'] },
    ]);
  });

  it('lets the controller create Leases without a name, since RBAC cannot limit create by name', () => {
    assert.deepEqual(verbsByResource(namespaceRules()), { 'coordination.k8s.io/leases': ['create'], 'core/pods': ['list'] });
    assert.deepEqual(verbsByResource(namespaceRules({ serviceType: 'LoadBalancer' })), { 'coordination.k8s.io/leases': ['create'] });
  });

  it('follows the electionId prop', () => {
    const [leaseRule] = namespaceRules({ electionId: 'edge-leader' });
    assert.deepEqual(leaseRule?.resourceNames, ['edge-leader']);
  });

  it('lives in Pier\'s namespace and is bound to the pier ServiceAccount there', () => {
    const manifests = synthesizePier({ namespace: 'edge' });
    assert.equal(findObject(manifests, 'Role', 'pier').metadata.namespace, 'edge');
    const binding = findObject(manifests, 'RoleBinding', 'pier');
    assert.equal(binding.metadata.namespace, 'edge');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pier' });
    assert.deepEqual(binding.subjects, [{ apiGroup: '', kind: 'ServiceAccount', name: 'pier', namespace: 'edge' }]);
  });
});

// Least privilege, on the real API server: with the chart's RBAC minus one rule, `pier controller`
// names exactly what is missing (verb, resource, namespace or cluster scope) in its log and in a
// failing /healthz; with the whole of it, it never reports a missing permission and is healthy.
// Every case runs the controller with every feature that needs a permission switched on, so that
// each rule is exercised: --configmap, --publish-service on a NodePort Service (node addresses),
// an Ingress to write status on and one with a warning to record as an Event.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, NetworkingV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { ensureControlPlane, freshNamespace, type ControlPlane } from '../helpers/cluster.ts';
import { synthesizePier, type PolicyRule } from '../charts/synthesize.ts';
import {
  Cleanup,
  createNode,
  createObject,
  createPodOnNode,
  createTestIngressClass,
  eventually,
  grantChartRbac,
  missingPermissionLines,
  startController,
  type RuleToOmit,
  type TestController,
} from '../helpers/controller.ts';

const NODE_EXTERNAL_IP = '203.0.113.7';
const CONTROLLER_LABELS = { 'app.kubernetes.io/name': 'pier', 'app.kubernetes.io/component': 'controller' };
/** How long a case waits for its missing permission to show: each fails within seconds. */
const REPORT_WAIT_MS = 30_000;
/** A bound on each case, so that a hang fails the case instead of the run. */
const CASE_TIMEOUT_MS = 120_000;

interface RuleCase {
  /** The rule left out. */
  readonly omit: RuleToOmit;
  /** What the log must name: `<verb> <resource> <scope>`, with {ns} for the test's namespace. */
  readonly expected: string;
}

const CLUSTER_ROLE_CASES: RuleCase[] = [
  { omit: { role: 'ClusterRole', resource: 'ingresses' }, expected: 'list ingresses.networking.k8s.io at cluster scope' },
  { omit: { role: 'ClusterRole', resource: 'ingressclasses' }, expected: 'list ingressclasses.networking.k8s.io at cluster scope' },
  { omit: { role: 'ClusterRole', resource: 'services' }, expected: 'list services at cluster scope' },
  { omit: { role: 'ClusterRole', resource: 'endpointslices' }, expected: 'list endpointslices.discovery.k8s.io at cluster scope' },
  { omit: { role: 'ClusterRole', resource: 'secrets' }, expected: 'list secrets at cluster scope' },
  { omit: { role: 'ClusterRole', resource: 'configmaps' }, expected: 'list configmaps in namespace "{ns}"' },
  { omit: { role: 'ClusterRole', resource: 'ingresses/status' }, expected: 'patch ingresses/status (networking.k8s.io) in namespace "{ns}"' },
  { omit: { role: 'ClusterRole', resource: 'events' }, expected: 'create events in namespace "{ns}"' },
  { omit: { role: 'ClusterRole', resource: 'nodes' }, expected: 'get nodes at cluster scope' },
];

const ROLE_CASES: RuleCase[] = [
  { omit: { role: 'Role', resource: 'leases', verb: 'get' }, expected: 'get leases.coordination.k8s.io in namespace "{ns}"' },
  { omit: { role: 'Role', resource: 'leases', verb: 'create' }, expected: 'create leases.coordination.k8s.io in namespace "{ns}"' },
  { omit: { role: 'Role', resource: 'leases', verb: 'update' }, expected: 'update leases.coordination.k8s.io in namespace "{ns}"' },
  { omit: { role: 'Role', resource: 'pods' }, expected: 'list pods in namespace "{ns}"' },
];

/**
 * Cases at once: each fails within seconds once started, but a controller's start (Node loading
 * Pier) is CPU-bound, and fourteen at once on two cores take longer than startPier allows.
 */
const CONCURRENT_CASES = 4;

describe('pier controller held to the chart RBAC minus one rule', { concurrency: CONCURRENT_CASES }, () => {
  let cluster: ControlPlane;
  const nodeName = `pier-lp-${randomBytes(4).toString('hex')}`;
  const fileCleanup = new Cleanup();

  before(async () => {
    cluster = await ensureControlPlane();
    await createNode(cluster.admin, nodeName, [{ type: 'InternalIP', address: '198.51.100.7' }, { type: 'ExternalIP', address: NODE_EXTERNAL_IP }], fileCleanup);
  });

  after(() => fileCleanup.run());

  /** A namespace with every object the controller's permissions are for, and the controller in it. */
  async function runController(prefix: string, omit: RuleToOmit | undefined, cleanup: Cleanup): Promise<{ namespace: string; pier: TestController }> {
    const namespace = await freshNamespace(cluster.admin, prefix);
    const access = await grantChartRbac(cluster, namespace, cleanup, { omit });
    const classes = await createTestIngressClass(cluster.admin, namespace, cleanup);
    const create = (object: Record<string, unknown>) => createObject(cluster.admin, object as unknown as KubernetesObject, cleanup);
    await create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'pier-controller', namespace }, spec: { type: 'NodePort', selector: CONTROLLER_LABELS, ports: [{ name: 'http', port: 80 }] } });
    await createPodOnNode(cluster.admin, namespace, 'pier-controller-0', nodeName, CONTROLLER_LABELS, cleanup);
    await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier-controller', namespace }, data: {} });
    for (const [name, serviceName] of [['web', 'pier-controller'], ['broken', 'absent']] as const) {
      await create({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name, namespace },
        spec: { ingressClassName: classes.ingressClass, rules: [{ host: `${name}.${namespace}.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: serviceName, port: { number: 80 } } } }] } }] },
      });
    }
    const pier = await startController(access, classes, [`--publish-service=${namespace}/pier-controller`, `--configmap=${namespace}/pier-controller`], cleanup);
    return { namespace, pier };
  }

  it('covers every rule of the synthesized ClusterRole and Role', () => {
    const manifests = synthesizePier({ namespace: 'pier' });
    const resources = (kind: string) =>
      (manifests.find((object) => object.kind === kind)!.rules as PolicyRule[]).flatMap((rule) => rule.resources ?? []).sort();
    assert.deepEqual([...new Set(resources('ClusterRole'))], [...new Set(CLUSTER_ROLE_CASES.map((c) => c.omit.resource))].sort());
    assert.deepEqual([...new Set(resources('Role'))], [...new Set(ROLE_CASES.map((c) => c.omit.resource))].sort());
  });

  for (const ruleCase of [...CLUSTER_ROLE_CASES, ...ROLE_CASES]) {
    const label = `${ruleCase.omit.role} ${ruleCase.omit.verb ? `${ruleCase.omit.verb} ` : ''}${ruleCase.omit.resource}`;
    it(`without the ${label} rule, logs "missing RBAC permission: ${ruleCase.expected.replace('{ns}', '<its namespace>')}" and fails /healthz`, { timeout: CASE_TIMEOUT_MS }, async () => {
      const cleanup = fileCleanup.child();
      try {
        const { namespace, pier } = await runController(`lp-${ruleCase.omit.resource.replace('/', '-')}`, ruleCase.omit, cleanup);
        const expected = `missing RBAC permission: ${ruleCase.expected.replace('{ns}', namespace)} (`;
        await pier.waitForLog(new RegExp(expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), REPORT_WAIT_MS);
        // Nothing else is reported missing: the line names this rule and only this one.
        for (const line of missingPermissionLines(pier.log())) assert.ok(line.includes(expected), `unexpected report: ${line}`);
        const health = await eventually('/healthz to fail naming the permission', async () => {
          const answer = await pier.healthz();
          return answer.status === 500 && answer.body.includes(expected) ? answer : undefined;
        });
        assert.equal(health.status, 500);
      } finally {
        await cleanup.run();
      }
    });
  }

  it('with the whole chart RBAC, reports no missing permission, is healthy and publishes the node address', { timeout: CASE_TIMEOUT_MS }, async () => {
    const cleanup = fileCleanup.child();
    try {
      const { namespace, pier } = await runController('lp-full', undefined, cleanup);
      const networking = cluster.admin.makeApiClient(NetworkingV1Api);
      await eventually('the node address in the status of Ingress web', async () => {
        const ingress = await networking.readNamespacedIngress({ name: 'web', namespace });
        return ingress.status?.loadBalancer?.ingress?.[0]?.ip === NODE_EXTERNAL_IP;
      }, REPORT_WAIT_MS);
      // The Event for `broken` is the last thing the leader does; once it exists, every permission has been used.
      const core = cluster.admin.makeApiClient(CoreV1Api);
      await eventually('the Event on Ingress broken', async () => (await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=broken' })).items.length > 0);
      await eventually('/healthz 200', async () => (await pier.healthz()).status === 200);
      assert.deepEqual(missingPermissionLines(pier.log()), []);
    } finally {
      await cleanup.run();
    }
  });
});

// The cluster source on the real API server: what reaches the store when a watch keeps failing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NetworkingV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { ensureControlPlane, freshNamespace, serviceAccountKubeConfig, type ControlPlane } from '../helpers/cluster.ts';
import { Cleanup, eventually } from '../helpers/controller.ts';
import { ClusterSource } from '../../operator/sources/cluster.ts';
import { Store } from '../../operator/store.ts';
import { createLogger } from '../../proxy/log.ts';

describe('ClusterSource', { timeout: 60_000 }, () => {
  let plane: ControlPlane;
  let namespace: string;
  const cleanup = new Cleanup();

  before(async () => {
    plane = await ensureControlPlane();
    namespace = await freshNamespace(plane.admin, 'cluster-source');
  });
  after(() => cleanup.run());

  it('drops an object deleted while its watch is failing, at the next relist, and names the missing watch permission', async () => {
    // The ServiceAccount may list Ingresses but not watch them, so every attempt lists afresh and then fails.
    const rbac = plane.admin.makeApiClient(RbacAuthorizationV1Api);
    const roleName = `pier-test-${namespace}`;
    await rbac.createClusterRole({
      body: {
        metadata: { name: roleName },
        rules: [
          { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['list'] },
          { apiGroups: ['networking.k8s.io'], resources: ['ingressclasses'], verbs: ['list', 'watch'] },
          { apiGroups: [''], resources: ['services', 'secrets'], verbs: ['list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
    });
    cleanup.add('cluster role', () => rbac.deleteClusterRole({ name: roleName }));
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: roleName },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
        subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace }],
      },
    });
    cleanup.add('cluster role binding', () => rbac.deleteClusterRoleBinding({ name: roleName }));
    const networking = plane.admin.makeApiClient(NetworkingV1Api);
    const ingress = (name: string) => ({
      metadata: { name, namespace },
      spec: { rules: [{ host: `${name}.example`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    });
    await networking.createNamespacedIngress({ namespace, body: ingress('doomed') });
    await networking.createNamespacedIngress({ namespace, body: ingress('kept') });

    const lister = await serviceAccountKubeConfig(plane.admin, namespace, 'lister');
    const store = new Store();
    // Every report in order: a successful list clears the problem (null) before the watch fails again.
    const ingressReports: (string | null)[] = [];
    const source = new ClusterSource(
      lister,
      store,
      { watchNamespace: undefined, configMaps: [] },
      { onChange: () => undefined, onPermission: (kind, problem) => kind === 'Ingress' && ingressReports.push(problem) },
      createLogger('error', () => undefined),
    );
    cleanup.add('cluster source', () => source.stop());
    void source.start();
    await eventually('the Ingresses are listed', () => store.get('Ingress', `${namespace}/doomed`) && store.get('Ingress', `${namespace}/kept`));
    const reported = await eventually('a missing permission is reported', () => ingressReports.find((problem) => problem !== null));
    assert.match(reported, /^missing RBAC permission: watch ingresses\.networking\.k8s\.io at cluster scope \(/);

    await networking.deleteNamespacedIngress({ name: 'doomed', namespace });
    await eventually('the deleted Ingress leaves the store', () => store.get('Ingress', `${namespace}/doomed`) === undefined, 20_000);
    assert.ok(store.get('Ingress', `${namespace}/kept`), 'the other Ingress stays');
  });

  it('lets the process exit when it is stopped while its informers are still listing', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/start-then-stop-source.ts', import.meta.url));
    const child = spawn(process.execPath, [fixture, plane.kubeconfigPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // A watch left open would keep it running: give it 15 s, then kill it and fail.
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    assert.equal(output, 'stopped\n');
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'the process did not exit by itself after stop()');
  });

  it('reads a collection in pages (limit and continue), and its watch goes on from the list', async () => {
    const paged = await freshNamespace(plane.admin, 'cluster-source-pages');
    const networking = plane.admin.makeApiClient(NetworkingV1Api);
    const ingress = (name: string) => ({
      metadata: { name, namespace: paged },
      spec: { rules: [{ host: `${name}.example`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    });
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) await networking.createNamespacedIngress({ namespace: paged, body: ingress(name) });
    const store = new Store();
    // Pages of 2: five Ingresses take three requests, the last with the second continue token.
    const source = new ClusterSource(plane.admin, store, { watchNamespace: paged, configMaps: [], listPageSize: 2 }, { onChange: () => undefined, onPermission: () => undefined }, createLogger('error', () => undefined));
    cleanup.add('paged cluster source', () => source.stop());
    await source.start();
    assert.deepEqual(store.snapshot().ingresses.map((object) => object.metadata.name).sort(), names);
    await networking.createNamespacedIngress({ namespace: paged, body: ingress('f') });
    await eventually('the Ingress made after the list to arrive by the watch', () => store.get('Ingress', `${paged}/f`));
  });
});

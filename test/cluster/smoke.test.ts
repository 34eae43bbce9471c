// Smoke tests against the real kube-apiserver from test/cluster/cluster.sh: the API surface an
// Ingress controller depends on (watching Ingresses, writing their status, being held to RBAC).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  ApiException,
  AuthenticationV1Api,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  Watch,
  type V1Ingress,
} from '@kubernetes/client-node';
import {
  ensureControlPlane,
  freshNamespace,
  serviceAccountKubeConfig,
  type ControlPlane,
} from '../helpers/cluster.ts';

function ingress(name: string): V1Ingress {
  return {
    metadata: { name },
    spec: {
      ingressClassName: 'pier',
      rules: [
        {
          host: 'smoke.example',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  };
}

/** Resolves with the first watch event for which `match` is true; rejects after `timeoutMs`. */
async function firstWatchEvent(
  watch: Watch,
  path: string,
  match: (phase: string, object: V1Ingress) => boolean,
  timeoutMs: number,
  startWatching: () => Promise<unknown>,
): Promise<{ phase: string; object: V1Ingress }> {
  let abort: AbortController | undefined;
  const seen = new Promise<{ phase: string; object: V1Ingress }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching watch event on ${path} within ${timeoutMs} ms`)), timeoutMs);
    watch
      .watch(
        path,
        {},
        (phase, object: V1Ingress) => {
          if (match(phase, object)) {
            clearTimeout(timer);
            resolve({ phase, object });
          }
        },
        (error) => {
          clearTimeout(timer);
          reject(error ?? new Error(`watch on ${path} closed before a matching event`));
        },
      )
      .then((controller) => {
        abort = controller;
        return startWatching();
      })
      .catch(reject);
  });
  try {
    return await seen;
  } finally {
    abort?.abort();
  }
}

async function statusCode(request: Promise<unknown>): Promise<number> {
  try {
    await request;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

describe('real control plane', () => {
  let controlPlane: ControlPlane;
  before(async () => {
    controlPlane = await ensureControlPlane();
  });

  it('delivers a newly created Ingress to a watcher as an ADDED event', async () => {
    const namespace = await freshNamespace(controlPlane.admin, 'smoke-watch');
    const networking = controlPlane.admin.makeApiClient(NetworkingV1Api);

    const event = await firstWatchEvent(
      new Watch(controlPlane.admin),
      `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`,
      (_phase, object) => object.metadata?.name === 'web',
      10_000,
      // Create only once the watch is open, so the event can't be missed.
      () => networking.createNamespacedIngress({ namespace, body: ingress('web') }),
    );

    assert.equal(event.phase, 'ADDED');
    assert.equal(event.object.metadata?.namespace, namespace);
    assert.equal(event.object.spec?.rules?.[0]?.host, 'smoke.example');
    assert.equal(event.object.spec?.ingressClassName, 'pier');
  });

  it('stores an Ingress load-balancer status written through the status subresource and ignores it on the main resource', async () => {
    const namespace = await freshNamespace(controlPlane.admin, 'smoke-status');
    const networking = controlPlane.admin.makeApiClient(NetworkingV1Api);
    const created = await networking.createNamespacedIngress({ namespace, body: ingress('web') });
    assert.equal(created.status?.loadBalancer?.ingress, undefined);

    await networking.replaceNamespacedIngressStatus({
      namespace,
      name: 'web',
      body: { ...created, status: { loadBalancer: { ingress: [{ ip: '127.0.0.1', ports: [{ port: 80, protocol: 'TCP' }] }] } } },
    });
    const afterStatusWrite = await networking.readNamespacedIngressStatus({ namespace, name: 'web' });
    // Compare as plain JSON: client-node deserializes into model classes, which deepEqual would reject.
    assert.deepEqual(JSON.parse(JSON.stringify(afterStatusWrite.status?.loadBalancer?.ingress)), [
      { ip: '127.0.0.1', ports: [{ port: 80, protocol: 'TCP' }] },
    ]);

    // The main resource's update path drops status changes: only the subresource may write them.
    const replaced = await networking.replaceNamespacedIngress({
      namespace,
      name: 'web',
      body: { ...afterStatusWrite, status: { loadBalancer: { ingress: [{ hostname: 'not-this.example' }] } } },
    });
    assert.equal(replaced.status?.loadBalancer?.ingress?.[0]?.ip, '127.0.0.1');
    assert.equal(replaced.status?.loadBalancer?.ingress?.[0]?.hostname, undefined);
  });

  it('denies listing Ingresses to a ServiceAccount without a role and allows it once a Role grants list', async () => {
    const namespace = await freshNamespace(controlPlane.admin, 'smoke-rbac');
    const serviceAccount = await serviceAccountKubeConfig(controlPlane.admin, namespace, 'pier-controller');

    // The token really authenticates as the ServiceAccount, not as admin.
    const review = await serviceAccount.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    assert.equal(review.status?.userInfo?.username, `system:serviceaccount:${namespace}:pier-controller`);

    const networkingAsServiceAccount = serviceAccount.makeApiClient(NetworkingV1Api);
    assert.equal(await statusCode(networkingAsServiceAccount.listNamespacedIngress({ namespace })), 403);

    const rbac = controlPlane.admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'ingress-reader' },
        rules: [{ apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'pier-controller-reads-ingresses' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ingress-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'pier-controller', namespace }],
      },
    });

    // The RBAC authorizer reads roles from an informer cache, so the grant takes effect shortly after.
    const deadline = Date.now() + 10_000;
    let code = await statusCode(networkingAsServiceAccount.listNamespacedIngress({ namespace }));
    while (code === 403 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      code = await statusCode(networkingAsServiceAccount.listNamespacedIngress({ namespace }));
    }
    assert.equal(code, 200);
    // The Role is namespaced and grants only list: other namespaces and other verbs stay denied.
    assert.equal(await statusCode(networkingAsServiceAccount.listNamespacedIngress({ namespace: 'default' })), 403);
    assert.equal(
      await statusCode(networkingAsServiceAccount.createNamespacedIngress({ namespace, body: ingress('web') })),
      403,
    );
  });
});

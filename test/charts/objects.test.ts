import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findObject, synthesizePier } from './synthesize.ts';

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'IngressClass', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

describe('the chart as a whole', () => {
  it('writes the Namespace first, so kubectl creates it before what lives in it', () => {
    assert.deepEqual(synthesizePier().map((object) => `${object.kind}/${object.metadata.name}`), [
      'Namespace/pier',
      'ServiceAccount/pier',
      'ClusterRole/pier',
      'ClusterRoleBinding/pier',
      'Role/pier',
      'RoleBinding/pier',
      'ConfigMap/pier-controller',
      'Service/pier-controller',
      'IngressClass/pier',
      'ValidatingAdmissionPolicy/pier-ingress-annotations',
      'ValidatingAdmissionPolicyBinding/pier-ingress-annotations',
      'ValidatingAdmissionPolicy/pier-ingress-annotations-advice',
      'ValidatingAdmissionPolicyBinding/pier-ingress-annotations-advice',
      'Deployment/pier-controller',
    ]);
  });

  it('puts every namespaced object in the namespace prop, and no cluster-scoped one in any', () => {
    for (const object of synthesizePier({ namespace: 'edge' })) {
      const expected = CLUSTER_SCOPED.has(object.kind) ? undefined : 'edge';
      assert.equal(object.metadata.namespace, expected, `${object.kind}/${object.metadata.name}`);
    }
  });

  it('makes the namespace enforce Pod Security "restricted"', () => {
    const namespace = findObject(synthesizePier({ namespace: 'edge' }), 'Namespace', 'edge');
    assert.equal(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });
});

describe('the admission policies', () => {
  it('bind the denying policy with Deny and the advising one with Warn only', () => {
    const manifests = synthesizePier();
    assert.deepEqual(findObject(manifests, 'ValidatingAdmissionPolicyBinding', 'pier-ingress-annotations').spec, { policyName: 'pier-ingress-annotations', validationActions: ['Deny'] });
    assert.deepEqual(findObject(manifests, 'ValidatingAdmissionPolicyBinding', 'pier-ingress-annotations-advice').spec, { policyName: 'pier-ingress-annotations-advice', validationActions: ['Warn'] });
  });

  it('check Ingresses of the pier class only, on create and update', () => {
    const spec = findObject(synthesizePier(), 'ValidatingAdmissionPolicy', 'pier-ingress-annotations').spec;
    assert.deepEqual(spec.matchConstraints.resourceRules, [{ apiGroups: ['networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['ingresses'] }]);
    assert.match(spec.matchConditions[0].expression, /object\.spec\.ingressClassName == 'pier'/);
  });

  it('are left out with admissionPolicy: false', () => {
    assert.deepEqual(synthesizePier({ admissionPolicy: false }).filter((object) => object.apiVersion.startsWith('admissionregistration')), []);
  });
});

describe('TCP and UDP services', () => {
  const props = { tcpServices: { '5432': 'db/postgres:5432', '9000': 'default/app:9000:PROXY' }, udpServices: { '53': 'kube-system/kube-dns:53' }, sslPassthrough: true };

  it('writes the ConfigMaps in ingress-nginx\'s format and passes the flags that name them', () => {
    const manifests = synthesizePier(props);
    assert.deepEqual(findObject(manifests, 'ConfigMap', 'pier-tcp-services').data, props.tcpServices);
    assert.deepEqual(findObject(manifests, 'ConfigMap', 'pier-udp-services').data, props.udpServices);
    const args: string[] = findObject(manifests, 'Deployment', 'pier-controller').spec.template.spec.containers[0].args;
    for (const flag of ['--tcp-services-configmap=pier/pier-tcp-services', '--udp-services-configmap=pier/pier-udp-services', '--enable-ssl-passthrough']) assert.ok(args.includes(flag), flag);
  });

  it('opens each port on the Service and the container, with its protocol', () => {
    const manifests = synthesizePier(props);
    const servicePorts = findObject(manifests, 'Service', 'pier-controller').spec.ports.map((port: { name: string; port: number; protocol?: string }) => `${port.name} ${port.port} ${port.protocol ?? 'TCP'}`);
    assert.deepEqual(servicePorts, ['http 80 TCP', 'https 443 TCP', 'tcp-5432 5432 TCP', 'tcp-9000 9000 TCP', 'udp-53 53 UDP']);
    const containerPorts = findObject(manifests, 'Deployment', 'pier-controller').spec.template.spec.containers[0].ports.map((port: { name: string; containerPort: number; protocol?: string }) => `${port.name} ${port.containerPort} ${port.protocol ?? 'TCP'}`);
    assert.deepEqual(containerPorts.slice(3), ['tcp-5432 5432 TCP', 'tcp-9000 9000 TCP', 'udp-53 53 UDP']);
  });

  it('writes no ConfigMap and no flag without services', () => {
    const manifests = synthesizePier();
    assert.equal(manifests.some((object) => object.metadata.name === 'pier-tcp-services' || object.metadata.name === 'pier-udp-services'), false);
    const args: string[] = findObject(manifests, 'Deployment', 'pier-controller').spec.template.spec.containers[0].args;
    assert.equal(args.some((arg) => arg.includes('services-configmap') || arg === '--enable-ssl-passthrough'), false);
  });

  it('refuses a port that isn\'t one, or one Pier listens on itself', () => {
    assert.throws(() => synthesizePier({ tcpServices: { ssh: 'default/ssh:22' } }), /tcpServices: "ssh" is not a port number/);
    assert.throws(() => synthesizePier({ udpServices: { '443': 'default/quic:443' } }), /udpServices: port 443 is one Pier listens on itself/);
  });
});

describe('the IngressClass', () => {
  it('names pier.dev/ingress-controller as its controller', () => {
    assert.deepEqual(findObject(synthesizePier(), 'IngressClass', 'pier').spec, { controller: 'pier.dev/ingress-controller' });
  });

  it('is not the default class unless defaultClass is set', () => {
    const annotations = findObject(synthesizePier(), 'IngressClass', 'pier').metadata.annotations ?? {};
    assert.equal(annotations['ingressclass.kubernetes.io/is-default-class'], undefined);
  });

  it('carries is-default-class "true" when defaultClass is set', () => {
    const ingressClass = findObject(synthesizePier({ defaultClass: true }), 'IngressClass', 'pier');
    assert.equal(ingressClass.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'true');
  });
});

describe('the Service', () => {
  it('is a NodePort that sends 80 and 443 to the controller pods by default', () => {
    const { spec } = findObject(synthesizePier(), 'Service', 'pier-controller');
    assert.equal(spec.type, 'NodePort');
    assert.deepEqual(spec.ports, [
      { name: 'http', port: 80, targetPort: 80 },
      { name: 'https', port: 443, targetPort: 443 },
    ]);
    assert.deepEqual(spec.selector, { 'app.kubernetes.io/name': 'pier', 'app.kubernetes.io/component': 'controller' });
  });

  it('takes its type from serviceType', () => {
    for (const serviceType of ['LoadBalancer', 'ClusterIP'] as const) {
      assert.equal(findObject(synthesizePier({ serviceType }), 'Service', 'pier-controller').spec.type, serviceType);
    }
  });

  it('refuses a type the proxy cannot serve behind', () => {
    assert.throws(() => synthesizePier({ serviceType: 'ExternalName' as never }), /serviceType/);
  });
});

describe('the ConfigMap', () => {
  it('is empty by default, so the controller uses its built-in settings', () => {
    assert.equal(findObject(synthesizePier(), 'ConfigMap', 'pier-controller').data, undefined);
  });

  it('carries the config prop as its data', () => {
    const config = { 'proxy-body-size': '8m', 'ssl-redirect': 'false' };
    assert.deepEqual(findObject(synthesizePier({ config }), 'ConfigMap', 'pier-controller').data, config);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findObject, synthesizePier, type Manifest } from './synthesize.ts';
import { measuredResources, workersOf } from '../../charts-ts/controller.ts';

function podSpec(props: Parameters<typeof synthesizePier>[0] = {}): Manifest['spec'] {
  return findObject(synthesizePier(props), 'Deployment', 'pier-controller').spec.template.spec;
}

function controllerContainer(props: Parameters<typeof synthesizePier>[0] = {}): Manifest['spec'] {
  const containers = podSpec(props).containers;
  assert.equal(containers.length, 1);
  return containers[0];
}

const DEFAULT_ARGS = [
  'controller',
  '--publish-service=pier/pier-controller',
  '--election-id=pier-leader',
  '--controller-class=pier.dev/ingress-controller',
  '--ingress-class=pier',
  '--configmap=pier/pier-controller',
  '--http-port=80',
  '--https-port=443',
  '--healthz-port=10254',
  '--workers=2',
];

describe('the controller Deployment', () => {
  it('runs the pod as 101:101, non-root, with RuntimeDefault seccomp', () => {
    const { securityContext } = podSpec();
    assert.equal(securityContext.runAsUser, 101);
    assert.equal(securityContext.runAsGroup, 101);
    assert.equal(securityContext.runAsNonRoot, true);
    assert.deepEqual(securityContext.seccompProfile, { type: 'RuntimeDefault' });
  });

  it('runs the container as 101:101 with a read-only root, no escalation, RuntimeDefault seccomp', () => {
    const { securityContext } = controllerContainer();
    assert.equal(securityContext.runAsUser, 101);
    assert.equal(securityContext.runAsGroup, 101);
    assert.equal(securityContext.runAsNonRoot, true);
    assert.equal(securityContext.allowPrivilegeEscalation, false);
    assert.equal(securityContext.readOnlyRootFilesystem, true);
    assert.equal(securityContext.privileged, false);
    assert.deepEqual(securityContext.seccompProfile, { type: 'RuntimeDefault' });
  });

  it('drops every capability and adds back only NET_BIND_SERVICE, spelled without CAP_', () => {
    assert.deepEqual(controllerContainer().securityContext.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
  });

  it('lets the unprivileged process bind ports below 1024 through the namespaced sysctl', () => {
    assert.deepEqual(podSpec().securityContext.sysctls, [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
  });

  it('exposes http 80, https 443 and metrics 10254', () => {
    assert.deepEqual(
      controllerContainer().ports.map((port: { name: string; containerPort: number }) => [port.name, port.containerPort]),
      [['http', 80], ['https', 443], ['metrics', 10254]],
    );
  });

  it('probes liveness and readiness with GET /healthz on port 10254', () => {
    const container = controllerContainer();
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      assert.equal(probe.httpGet.path, '/healthz');
      assert.equal(probe.httpGet.port, 10254);
    }
  });

  it('annotates pods for Prometheus scraping on port 10254', () => {
    const deployment = findObject(synthesizePier(), 'Deployment', 'pier-controller');
    assert.deepEqual(deployment.spec.template.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '10254' });
  });

  it('gives pods 300 seconds to drain and waits for endpoints to deregister before SIGTERM', () => {
    assert.equal(podSpec().terminationGracePeriodSeconds, 300);
    assert.deepEqual(controllerContainer().lifecycle, { preStop: { exec: { command: ['sleep', '5'] } } });
  });

  it('passes the ingress-nginx flags, publishing status from its own Service by default', () => {
    assert.deepEqual(controllerContainer().args, DEFAULT_ARGS);
  });

  it('names its own namespace in --publish-service and --configmap', () => {
    const args: string[] = controllerContainer({ namespace: 'edge' }).args;
    assert.ok(args.includes('--publish-service=edge/pier-controller'));
    assert.ok(args.includes('--configmap=edge/pier-controller'));
  });

  it('publishes fixed addresses with --publish-status-address instead of --publish-service', () => {
    const args: string[] = controllerContainer({ statusPublishing: { addresses: ['203.0.113.10', 'lb.example.com'] } }).args;
    assert.ok(args.includes('--publish-status-address=203.0.113.10,lb.example.com'));
    assert.ok(!args.some((arg) => arg.startsWith('--publish-service')));
  });

  it('passes neither publishing flag when status comes from node addresses', () => {
    const args: string[] = controllerContainer({ statusPublishing: { nodeAddresses: true } }).args;
    assert.deepEqual(args, DEFAULT_ARGS.filter((arg) => !arg.startsWith('--publish-service')));
  });

  it('refuses an empty list of status addresses', () => {
    assert.throws(() => synthesizePier({ statusPublishing: { addresses: [] } }), /at least one address/);
  });

  it('adds --watch-ingress-without-class only when asked', () => {
    assert.ok(!controllerContainer().args.includes('--watch-ingress-without-class'));
    assert.ok(controllerContainer({ watchIngressWithoutClass: true }).args.includes('--watch-ingress-without-class'));
  });

  it('tells the pod its name and namespace through the downward API', () => {
    assert.deepEqual(controllerContainer().env, [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
  });

  it('runs two workers by default, with ingress-nginx\'s 100m CPU request, no CPU limit, and memory sized from the measured footprint of a primary and two workers', () => {
    const container = controllerContainer();
    assert.equal(container.args.at(-1), '--workers=2');
    const measured = measuredResources(2);
    assert.deepEqual(container.resources, { requests: { cpu: '100m', memory: `${measured.memory.requestMiB}Mi` }, limits: { memory: `${measured.memory.limitMiB}Mi` } });
    assert.ok(!container.env.some((variable: { name: string }) => variable.name === 'PIER_CPU_LIMIT'));
  });

  it('sizes memory for the primary plus each worker: more workers, more memory, and one process for --workers=1', () => {
    const one = measuredResources(1);
    const two = measuredResources(2);
    const four = measuredResources(4);
    assert.ok(one.memory.requestMiB < two.memory.requestMiB && two.memory.requestMiB < four.memory.requestMiB);
    assert.ok(one.memory.limitMiB < two.memory.limitMiB && two.memory.limitMiB < four.memory.limitMiB);
    for (const resources of [one, two, four]) assert.ok(resources.memory.requestMiB < resources.memory.limitMiB);
    const container = controllerContainer({ workers: 4 });
    assert.equal(container.args.at(-1), '--workers=4');
    assert.equal(container.resources.requests.memory, `${four.memory.requestMiB}Mi`);
  });

  it('with a CPU limit, passes it to --workers through the downward API, rounded up to whole CPUs', () => {
    const container = controllerContainer({ resources: { cpu: { requestMillis: 500, limitMillis: 1500 }, memory: { requestMiB: 256, limitMiB: 512 } } });
    assert.equal(container.args.at(-1), '--workers=$(PIER_CPU_LIMIT)');
    assert.deepEqual(container.env.find((variable: { name: string }) => variable.name === 'PIER_CPU_LIMIT'), {
      name: 'PIER_CPU_LIMIT',
      valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } },
    });
    assert.deepEqual(container.resources, { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '1500m', memory: '512Mi' } });
    assert.equal(workersOf(undefined, 1500), 2);
  });

  it('lets an explicit worker count win over the CPU limit', () => {
    const container = controllerContainer({ workers: 3, resources: { cpu: { requestMillis: 100, limitMillis: 1000 }, memory: { requestMiB: 256, limitMiB: 512 } } });
    assert.equal(container.args.at(-1), '--workers=3');
    assert.ok(!container.env.some((variable: { name: string }) => variable.name === 'PIER_CPU_LIMIT'));
  });

  it('refuses a worker count below one and requests above limits', () => {
    assert.throws(() => synthesizePier({ workers: 0 }), /workers must be a whole number >= 1/);
    assert.throws(() => synthesizePier({ resources: { cpu: { requestMillis: 100 }, memory: { requestMiB: 512, limitMiB: 256 } } }), /resources\.memory: the request \(512 MiB\) is above the limit/);
    assert.throws(() => synthesizePier({ resources: { cpu: { requestMillis: 2000, limitMillis: 1000 }, memory: { requestMiB: 256, limitMiB: 512 } } }), /resources\.cpu: the request \(2000m\) is above the limit/);
  });

  it('mounts a writable emptyDir at /tmp because the root filesystem is read-only', () => {
    assert.deepEqual(controllerContainer().volumeMounts, [{ mountPath: '/tmp', name: 'tmp' }]);
    assert.deepEqual(podSpec().volumes, [{ name: 'tmp', emptyDir: {} }]);
  });

  it('runs as the pier ServiceAccount with its token mounted', () => {
    const spec = podSpec();
    assert.equal(spec.serviceAccountName, 'pier');
    assert.equal(spec.automountServiceAccountToken, true);
  });

  it('runs two replicas of ghcr.io/pier-dev/pier:0.1.0 by default', () => {
    const deployment = findObject(synthesizePier(), 'Deployment', 'pier-controller');
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(deployment.spec.template.spec.containers[0].image, 'ghcr.io/pier-dev/pier:0.1.0');
  });

  it('follows the image and replicas props', () => {
    const deployment = findObject(synthesizePier({ image: 'registry.local/pier:dev', replicas: 3 }), 'Deployment', 'pier-controller');
    assert.equal(deployment.spec.replicas, 3);
    assert.equal(deployment.spec.template.spec.containers[0].image, 'registry.local/pier:dev');
  });

  it('refuses a replica count that is not a whole number', () => {
    assert.throws(() => synthesizePier({ replicas: 1.5 }), /replicas/);
  });

  it('selects its pods by stable labels, not by the construct path', () => {
    const deployment = findObject(synthesizePier(), 'Deployment', 'pier-controller');
    const selector = { 'app.kubernetes.io/name': 'pier', 'app.kubernetes.io/component': 'controller' };
    assert.deepEqual(deployment.spec.selector, { matchLabels: selector });
    assert.deepEqual(deployment.spec.template.metadata.labels, selector);
  });
});

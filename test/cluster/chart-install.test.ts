// The chart end to end on the real API server: `npx cdk8s synth`, `kubectl apply --dry-run=server`,
// the real `kubectl apply`, then `pier controller` run out of the cluster as the chart's own
// ServiceAccount with the Deployment's own args. Nothing runs Pods here, so a Node and a Pod bound
// to it stand in for the Deployment's pod: with the NodePort Service, status falls back to that
// node's address, as it would for a NodePort install.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { ensureControlPlane, freshNamespace, type ControlPlane } from '../helpers/cluster.ts';
import { createTestNetwork, testHostsUnavailable, type TestNetwork } from '../helpers/test-hosts.ts';
import { endpointSlice, service } from '../helpers/objects.ts';
import type { Manifest } from '../charts/synthesize.ts';
import {
  Cleanup,
  asTestController,
  createNode,
  createObject,
  createPodOnNode,
  eventually,
  missingPermissionLines,
  tokenKubeConfigFile,
  type TestController,
} from '../helpers/controller.ts';
import { startPier } from '../standalone/pier-process.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const KUBECTL = '/usr/bin/kubectl';
const CHART_NAMESPACE = 'pier';
const NODE_EXTERNAL_IP = '203.0.113.9';
/** Flags whose ports are replaced with free ones (startPier passes port 0 for each) to run beside anything else here. */
const PORT_FLAGS = ['--http-port', '--https-port', '--healthz-port', '--default-server-port'];
const STATUS_WAIT_MS = 40_000; // a Lease left by a killed earlier run is taken over after 10 s

const run = promisify(execFile);

describe('the chart installed with kubectl and run as its ServiceAccount', { skip: testHostsUnavailable() ?? false }, () => {
  let cluster: ControlPlane;
  let network: TestNetwork;
  let outputDir: string;
  let manifests: Manifest[];
  const cleanup = new Cleanup();
  const kubectl = (args: string[], input?: string) => {
    if (input === undefined) return run(KUBECTL, ['--kubeconfig', cluster.kubeconfigPath, ...args], { cwd: repoRoot });
    return new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(KUBECTL, ['--kubeconfig', cluster.kubeconfigPath, ...args], { cwd: repoRoot });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr}`))));
      child.stdin.end(input);
    });
  };

  before(async () => {
    cluster = await ensureControlPlane();
    network = createTestNetwork(1);
    cleanup.add('destroy the test network', () => network.destroy());
    outputDir = await mkdtemp(join(tmpdir(), 'pier-chart-install-'));
    cleanup.add(`remove ${outputDir}`, () => rm(outputDir, { recursive: true, force: true }));
  });

  after(() => cleanup.run());

  it('synthesizes with npx cdk8s synth', async () => {
    await run('npx', ['cdk8s', 'synth', '--no-check-upgrade', '--output', outputDir], { cwd: repoRoot, env: { ...process.env, CI: 'true' } });
    const text = await readFile(join(outputDir, 'pier.k8s.yaml'), 'utf8');
    manifests = parseAllDocuments(text).map((document) => document.toJSON() as Manifest).filter(Boolean);
    assert.ok(manifests.some((object) => object.kind === 'Deployment'));
  });

  it('applies cleanly with kubectl apply --dry-run=server, then for real', async () => {
    assert.ok(manifests, 'synthesis failed');
    // Once per control plane: a namespace can't be deleted without a controller-manager, so an
    // earlier run's is reused. The dry run needs it to exist, as it does after a first install,
    // so the chart's Namespace is applied on its own first (an earlier run's is left as it is).
    const namespaceObject = manifests.find((object) => object.kind === 'Namespace')!;
    assert.equal(namespaceObject.metadata.name, CHART_NAMESPACE);
    await kubectl(['apply', '-f', '-'], JSON.stringify(namespaceObject));
    // Cluster-scoped objects the install makes, deleted when the file is done (namespaced ones stay with `pier`).
    const objects = KubernetesObjectApi.makeApiClient(cluster.admin);
    for (const object of manifests.filter((manifest) => !manifest.metadata.namespace && manifest.kind !== 'Namespace')) {
      cleanup.add(`delete ${object.kind} ${object.metadata.name}`, () =>
        objects.delete({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name } }).catch((error: { code?: number }) => {
          if (error.code !== 404) throw error;
        }),
      );
    }

    const dryRun = await kubectl(['apply', '--dry-run=server', '-f', outputDir]);
    assert.equal(dryRun.stderr, '', 'kubectl apply --dry-run=server printed warnings or errors');
    for (const object of manifests) assert.match(dryRun.stdout, new RegExp(`/${object.metadata.name} (created|configured|unchanged) \\(server dry run\\)`));

    const applied = await kubectl(['apply', '-f', outputDir]);
    assert.equal(applied.stderr, '', 'kubectl apply printed warnings or errors');
    for (const object of manifests) assert.match(applied.stdout, new RegExp(`/${object.metadata.name} (created|configured|unchanged)`));
  });

  it('installs from the committed one-file manifest too: kubectl apply --dry-run=server -f deploy/pier.yaml', async () => {
    assert.ok(manifests, 'synthesis failed');
    const dryRun = await kubectl(['apply', '--dry-run=server', '-f', join(repoRoot, 'deploy', 'pier.yaml')]);
    assert.equal(dryRun.stderr, '', 'kubectl apply --dry-run=server printed warnings or errors');
    for (const object of manifests) assert.match(dryRun.stdout, new RegExp(`/${object.metadata.name} (created|configured|unchanged) \\(server dry run\\)`));
  });

  it("serves an Ingress applied with kubectl and publishes the controller node's address, with no missing permission", { timeout: 120_000 }, async () => {
    assert.ok(manifests, 'synthesis failed');
    const deployment = manifests.find((object) => object.kind === 'Deployment')!;
    const container = deployment.spec.template.spec.containers[0];
    const args = (container.args as string[]).filter((arg) => !PORT_FLAGS.some((flag) => arg.startsWith(`${flag}=`)));
    assert.equal(args[0], 'controller');
    assert.ok(args.includes(`--publish-service=${CHART_NAMESPACE}/pier-controller`), `args: ${args.join(' ')}`);

    // The stand-in for a Deployment pod: a Node with addresses and a Pod bound to it with the pod template's labels.
    const suffix = randomBytes(4).toString('hex');
    const nodeName = `pier-chart-node-${suffix}`;
    const podName = `pier-controller-${suffix}`;
    await createNode(cluster.admin, nodeName, [{ type: 'InternalIP', address: '198.51.100.9' }, { type: 'ExternalIP', address: NODE_EXTERNAL_IP }], cleanup);
    await createPodOnNode(cluster.admin, CHART_NAMESPACE, podName, nodeName, deployment.spec.template.metadata.labels, cleanup, deployment.spec.template.spec);

    const kubeconfigPath = await tokenKubeConfigFile(cluster.admin, CHART_NAMESPACE, 'pier', outputDir);
    let pier: TestController | undefined;
    const started = await startPier([...args, `--kubeconfig=${kubeconfigPath}`], { env: { POD_NAMESPACE: CHART_NAMESPACE, POD_NAME: podName } });
    pier = asTestController(started);
    cleanup.add('stop the controller', async () => {
      if (pier && pier.child.exitCode === null) await pier.stop();
    });

    // A backend and an Ingress in a namespace of the test's own; the Ingress through kubectl.
    const namespace = await freshNamespace(cluster.admin, 'chart-app');
    const backend = await network.startBackend('app', network.hostAddresses[0]!);
    await createObject(cluster.admin, service('app', [{ name: 'http', port: 80, targetPort: 8080 }], namespace) as unknown as KubernetesObject, cleanup);
    await createObject(cluster.admin, endpointSlice('app-1', 'app', [backend.address], [{ name: 'http', port: 8080 }], namespace) as unknown as KubernetesObject, cleanup);
    const host = `app.${namespace}.test`;
    const ingress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'app', namespace },
      spec: { ingressClassName: 'pier', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } }] } }] },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(ingress));

    const address = await eventually(
      'kubectl get ingress to show the node address',
      async () => {
        const { stdout } = await kubectl(['get', 'ingress', 'app', '-n', namespace, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);
        return stdout.trim() === NODE_EXTERNAL_IP ? stdout.trim() : undefined;
      },
      STATUS_WAIT_MS,
    );
    assert.equal(address, NODE_EXTERNAL_IP);

    const answer = await eventually('a request through the proxy to reach the backend', async () => {
      const response = await pier!.get(host, '/through-pier');
      return response.status === 200 ? response : undefined;
    });
    assert.equal(answer.body, 'app GET /through-pier');
    const health = await pier.healthz();
    assert.equal(health.status, 200, `/healthz: ${health.body}\n${pier.log()}`);
    assert.deepEqual(missingPermissionLines(pier.log()), []);
    assert.equal(await pier.stop(), 0, pier.log());
  });
});

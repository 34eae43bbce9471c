// Propagation latency on the real control plane: with N Ingresses present, change one Ingress's
// path through the API and time until the first request routed by the new rule succeeds.
// Usage: node --import tsx bench/propagation.ts [--ingresses 1000] [--changes 50]
// Needs root (the backend is a test host in a network namespace) and starts the test control
// plane if none is up (test/cluster/cluster.sh).
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, DiscoveryV1Api, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { request } from 'undici';
import { ensureControlPlane, freshNamespace } from '../test/helpers/cluster.ts';
import { createTestNetwork } from '../test/helpers/test-hosts.ts';
import { startPier } from '../test/standalone/pier-process.ts';

const { values } = parseArgs({ options: { ingresses: { type: 'string', default: '1000' }, changes: { type: 'string', default: '50' } } });
const INGRESSES = Number(values.ingresses);
const CHANGES = Number(values.changes);
const CREATE_CONCURRENCY = 8;
const POLL_INTERVAL_MS = 2;
const CHANGE_TIMEOUT_MS = 30_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function inParallel(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await work(next++);
  }));
}

const plane = await ensureControlPlane();
const namespace = await freshNamespace(plane.admin, 'bench-propagation');
const className = `bench-${namespace}`;
const controllerClass = `pier.dev/${className}`;
const networking = plane.admin.makeApiClient(NetworkingV1Api);
const network = createTestNetwork(1);
const tmp = await mkdtemp(join(tmpdir(), 'pier-bench-'));
let pier: Awaited<ReturnType<typeof startPier>> | undefined;
try {
  const backend = await network.startBackend('bench', network.hostAddresses[0] as string);
  await networking.createIngressClass({ body: { metadata: { name: className }, spec: { controller: controllerClass } } });
  await plane.admin.makeApiClient(CoreV1Api).createNamespacedService({ namespace, body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } } });
  await plane.admin.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace,
    body: { metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ name: 'http', port: backend.port }], endpoints: [{ addresses: [backend.address] }] },
  });
  const ingressBody = (index: number, path: string): V1Ingress => ({
    metadata: { name: `app-${index}`, namespace },
    spec: {
      ingressClassName: className,
      rules: [{ host: `app-${index}.example.com`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
    },
  });
  const started = performance.now();
  await inParallel(INGRESSES, CREATE_CONCURRENCY, async (index) => {
    await networking.createNamespacedIngress({ namespace, body: ingressBody(index, '/v0') });
  });
  console.error(`created ${INGRESSES} Ingresses in ${Math.round(performance.now() - started)} ms`);

  pier = await startPier(['controller', '--kubeconfig', plane.kubeconfigPath, `--controller-class=${controllerClass}`, '--publish-status-address=192.0.2.10', '--log-level=warn']);
  const http = pier.ports.http;
  const get = async (path: string): Promise<number> => {
    const response = await request(`http://127.0.0.1:${http}${path}`, { headers: { host: 'app-0.example.com' } });
    await response.body.dump();
    return response.statusCode;
  };
  const waitFor = async (path: string): Promise<void> => {
    const deadline = performance.now() + CHANGE_TIMEOUT_MS;
    while ((await get(path)) !== 200) {
      if (performance.now() > deadline) throw new Error(`${path} was not routed within ${CHANGE_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  };
  await waitFor('/v0');

  const latencies: number[] = [];
  for (let change = 1; change <= CHANGES; change++) {
    const current = await networking.readNamespacedIngress({ name: 'app-0', namespace });
    const path = `/v${change}`;
    const rule = current.spec?.rules?.[0]?.http?.paths[0];
    if (!rule) throw new Error('app-0 lost its rule');
    rule.path = path;
    const writeStarted = performance.now();
    await networking.replaceNamespacedIngress({ name: 'app-0', namespace, body: current });
    await waitFor(path);
    latencies.push(performance.now() - writeStarted);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`Propagation on the real control plane: ${INGRESSES} Ingresses present, ${CHANGES} changes of one Ingress's path`);
  console.log(`(API write to the first request routed by the new rule; polled every ${POLL_INTERVAL_MS} ms)\n`);
  console.log('| Ingresses | changes | median ms | p90 ms | p99 ms | min ms | max ms |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(`| ${INGRESSES} | ${CHANGES} | ${percentile(sorted, 50).toFixed(0)} | ${percentile(sorted, 90).toFixed(0)} | ${percentile(sorted, 99).toFixed(0)} | ${(sorted[0] as number).toFixed(0)} | ${(sorted[sorted.length - 1] as number).toFixed(0)} |`);
} finally {
  await pier?.stop();
  await network.destroy();
  await networking.deleteIngressClass({ name: className }).catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
}

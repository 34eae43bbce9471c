// Propagation latency: with N Ingresses present, change one Ingress's path and time until the first
// request routed by the new rule succeeds. Two sources, one measurement:
//   --mode cluster    the change is an API write on the real control plane (pier controller);
//                     needs root (the backends are test hosts in a network namespace) and starts
//                     the test control plane if none is up (test/cluster/cluster.sh)
//   --mode manifests  the change is a file write (pier serve --manifests)
// With --change endpoints (cluster mode), the change is instead the Service's EndpointSlice moving
// from one backend to the other, timed until a request reaches the new one.
// With --load, wrk sends requests to another, unchanged host for as long as the changes apply, and
// the bench reports every request that failed (non-2xx answers and socket errors).
// Usage: node bench/propagation.ts [--mode cluster|manifests] [--change path|endpoints] [--ingresses 1000] [--changes 50] [--workers 1] [--load]
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, DiscoveryV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type V1Ingress } from '@kubernetes/client-node';
import { request } from 'undici';
import { ensureControlPlane, freshNamespace } from '../test/helpers/cluster.ts';
import { createTestNetwork } from '../test/helpers/test-hosts.ts';
import { startPier, type PierProcess } from '../test/standalone/pier-process.ts';
import { ensureCommands, freePort } from './lib/tools.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'cluster' },
    change: { type: 'string', default: 'path' },
    ingresses: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '50' },
    workers: { type: 'string', default: '1' },
    load: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const WORKERS = Number(values.workers);
const LOAD = values.load;
/** The host wrk loads while the changes apply: one no change touches. */
const UNCHANGED_HOST_INDEX = 1;
const LOAD_CONNECTIONS = 20;
const MODE = values.mode === 'manifests' ? 'manifests' : 'cluster';
const CHANGE = values.change === 'endpoints' ? 'endpoints' : 'path';
if (CHANGE === 'endpoints' && MODE !== 'cluster') throw new Error('--change endpoints needs --mode cluster');
const INGRESSES = Number(values.ingresses);
const CHANGES = Number(values.changes);
const CREATE_CONCURRENCY = 8;
const POLL_INTERVAL_MS = 2;
const CHANGE_TIMEOUT_MS = 30_000;
const CHANGED_HOST = 'app-0.example.com';
const WARM_UP_CHANGES = 3;
/** Steady state: Pier has logged nothing for this long (the status writes' own watch events are handled). */
const QUIET_MS = 1_000;

async function untilQuiet(pier: PierProcess): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (let length = -1; pier.log().length !== length && performance.now() < deadline; ) {
    length = pier.log().length;
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  }
}

/** A running Pier with N Ingresses, and how to move app-0's path or the Service's endpoints. */
interface Setup {
  readonly pier: PierProcess;
  changePath(path: string): Promise<void>;
  /** Points the Service's EndpointSlice at backend `index` alone; resolves with that backend's name. */
  moveEndpoints(index: number): Promise<string>;
  teardown(): Promise<void>;
}

const BACKEND_NAMES = ['blue', 'green'];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function inParallel(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await work(next++);
  }));
}

function ingressBody(namespace: string, className: string, index: number, path: string): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: `app-${index}`, namespace },
    spec: {
      ingressClassName: className,
      rules: [{ host: `app-${index}.example.com`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
    },
  };
}

async function clusterSetup(): Promise<Setup> {
  const plane = await ensureControlPlane();
  const namespace = await freshNamespace(plane.admin, 'bench-propagation');
  const className = `bench-${namespace}`;
  const networking = plane.admin.makeApiClient(NetworkingV1Api);
  const network = createTestNetwork(BACKEND_NAMES.length);
  const backends = await Promise.all(BACKEND_NAMES.map((name, index) => network.startBackend(name, network.hostAddresses[index] as string)));
  const backend = backends[0]!;
  const discovery = plane.admin.makeApiClient(DiscoveryV1Api);
  const slice = (index: number) => ({
    metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: backend.port }],
    endpoints: [{ addresses: [backends[index]!.address] }],
  });
  await networking.createIngressClass({ body: { metadata: { name: className }, spec: { controller: `pier.dev/${className}` } } });
  await plane.admin.makeApiClient(CoreV1Api).createNamespacedService({ namespace, body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } } });
  await discovery.createNamespacedEndpointSlice({ namespace, body: slice(0) });
  const started = performance.now();
  await inParallel(INGRESSES, CREATE_CONCURRENCY, async (index) => {
    await networking.createNamespacedIngress({ namespace, body: ingressBody(namespace, className, index, '/v0') });
  });
  console.error(`created ${INGRESSES} Ingresses through the API in ${Math.round(performance.now() - started)} ms`);
  const pier = await startPier(
    ['controller', '--kubeconfig', plane.kubeconfigPath, `--controller-class=pier.dev/${className}`, '--publish-status-address=192.0.2.10', `--workers=${WORKERS}`],
    { env: { POD_NAMESPACE: namespace } },
  );
  const pierStarted = performance.now();
  // Measure in steady state: wait until the leader has published status on every Ingress.
  const deadline = performance.now() + 10 * 60_000;
  for (;;) {
    const last = await networking.readNamespacedIngress({ name: `app-${INGRESSES - 1}`, namespace });
    if ((last.status?.loadBalancer?.ingress ?? []).length > 0) break;
    if (performance.now() > deadline) throw new Error('status was not published within 10 minutes');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  console.error(`status published on all ${INGRESSES} Ingresses ${Math.round(performance.now() - started)} ms after the first was created, ${Math.round(performance.now() - pierStarted)} ms after the controller was listening`);
  return {
    pier,
    async changePath(path) {
      // One API write, as `kubectl patch` makes it: a merge patch of the rules (no read first).
      const rules = ingressBody(namespace, className, 0, path).spec?.rules;
      await networking.patchNamespacedIngress({ name: 'app-0', namespace, body: { spec: { rules } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    },
    async moveEndpoints(index) {
      await discovery.replaceNamespacedEndpointSlice({ name: 'web-1', namespace, body: slice(index) });
      return BACKEND_NAMES[index] as string;
    },
    async teardown() {
      await pier.stop();
      await network.destroy();
      await networking.deleteIngressClass({ name: className }).catch(() => undefined);
    },
  };
}

async function manifestsSetup(): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'pier-bench-manifests-'));
  const backendPort = await freePort();
  const backend = spawn(process.execPath, [fileURLToPath(new URL('./peers/backend.mjs', import.meta.url)), String(backendPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(backend.stdout!, 'data');
  const yamlOf = (object: object): string => JSON.stringify(object);
  await writeFile(
    join(dir, 'base.yaml'),
    [
      { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'pier' }, spec: { controller: 'pier.dev/ingress-controller' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ name: 'http', port: backendPort }], endpoints: [{ addresses: ['127.0.0.1'] }] },
    ].map(yamlOf).join('\n---\n'),
  );
  // The other N-1 Ingresses in one file, the changed one in its own, as a GitOps checkout might be.
  await writeFile(join(dir, 'others.yaml'), Array.from({ length: INGRESSES - 1 }, (_, i) => yamlOf(ingressBody('default', 'pier', i + 1, '/v0'))).join('\n---\n'));
  const writeChanged = (path: string) => writeFile(join(dir, 'app-0.yaml'), yamlOf(ingressBody('default', 'pier', 0, path)));
  await writeChanged('/v0');
  const pier = await startPier(['serve', '--manifests', dir, `--workers=${WORKERS}`]);
  return {
    pier,
    changePath: writeChanged,
    moveEndpoints: () => Promise.reject(new Error('--change endpoints needs --mode cluster')),
    async teardown() {
      await pier.stop();
      backend.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface LoadOutcome {
  readonly requests: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly maxLatency: string;
}

/** wrk on an unchanged host until stop(), which interrupts it (wrk prints its summary on SIGINT). */
function startLoad(port: number): { stop(): Promise<LoadOutcome> } {
  const wrk = spawn('wrk', ['-t1', `-c${LOAD_CONNECTIONS}`, '-d3600s', '-H', `Host: app-${UNCHANGED_HOST_INDEX}.example.com`, `http://127.0.0.1:${port}/v0`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  wrk.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    async stop() {
      const exited = once(wrk, 'exit');
      wrk.kill('SIGINT');
      await exited;
      const number = (pattern: RegExp): number => Number(pattern.exec(out)?.[1] ?? 0);
      const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const requests = number(/(\d+) requests in/);
      if (requests === 0) throw new Error(`wrk made no requests:\n${out}`);
      return {
        requests,
        non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
        socketErrors: errors ? errors.slice(1).reduce((sum, value) => sum + Number(value), 0) : 0,
        maxLatency: /Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? '?',
      };
    },
  };
}

if (LOAD) ensureCommands({ wrk: 'wrk' });
const setup = MODE === 'cluster' ? await clusterSetup() : await manifestsSetup();
try {
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const response = await request(`http://127.0.0.1:${setup.pier.ports.http}${path}`, { headers: { host: CHANGED_HOST } });
    return { status: response.statusCode, body: await response.body.text() };
  };
  /** Polls `path` until its answer is a 200 whose body starts with `bodyStart`. */
  const waitFor = async (path: string, bodyStart = ''): Promise<void> => {
    const deadline = performance.now() + CHANGE_TIMEOUT_MS;
    for (;;) {
      const { status, body } = await get(path);
      if (status === 200 && body.startsWith(bodyStart)) return;
      if (performance.now() > deadline) throw new Error(`${path} did not answer 200 "${bodyStart}…" within ${CHANGE_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  };
  await waitFor('/v0');
  await untilQuiet(setup.pier);
  // A few changes first, not counted: the first ones after start pay for compiling the code paths (V8's JIT).
  for (let warmUp = 1; warmUp <= WARM_UP_CHANGES; warmUp++) {
    if (CHANGE === 'endpoints') await waitFor('/v0', await setup.moveEndpoints(warmUp % BACKEND_NAMES.length));
    else {
      await setup.changePath(`/warm-up-${warmUp}`);
      await waitFor(`/warm-up-${warmUp}`);
    }
  }

  const load = LOAD ? startLoad(setup.pier.ports.http) : null;
  const latencies: number[] = [];
  for (let change = 1; change <= CHANGES; change++) {
    const writeStarted = performance.now();
    if (CHANGE === 'endpoints') {
      const backend = await setup.moveEndpoints(change % BACKEND_NAMES.length);
      await waitFor('/v0', backend);
    } else {
      const path = `/v${change}`;
      await setup.changePath(path);
      await waitFor(path);
    }
    latencies.push(performance.now() - writeStarted);
  }
  if (values.verbose) {
    console.error(`latencies in order (ms): ${latencies.map((latency) => latency.toFixed(0)).join(' ')}`);
    console.error(setup.pier.log().split('\n').filter((line) => / routes applied | status written/.test(line)).slice(-CHANGES - 5).join('\n'));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const what = MODE === 'cluster' ? 'API write on the real control plane (pier controller)' : 'file write (pier serve --manifests)';
  const changed = CHANGE === 'endpoints' ? "moves of the Service's EndpointSlice to the other backend" : "changes of one Ingress's path";
  console.log(`Propagation, ${what}: ${INGRESSES} Ingresses present, ${CHANGES} ${changed},`);
  console.log(`timed from the write to the first request routed by the change (polled every ${POLL_INTERVAL_MS} ms).\n`);
  console.log('| source | change | Ingresses | changes | median ms | p90 ms | p99 ms | min ms | max ms |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(`| ${MODE} | ${CHANGE} | ${INGRESSES} | ${CHANGES} | ${percentile(sorted, 50).toFixed(0)} | ${percentile(sorted, 90).toFixed(0)} | ${percentile(sorted, 99).toFixed(0)} | ${(sorted[0] as number).toFixed(0)} | ${(sorted[sorted.length - 1] as number).toFixed(0)} |`);
  if (load) {
    const outcome = await load.stop();
    console.log(`\nLoad on the unchanged host app-${UNCHANGED_HOST_INDEX}.example.com meanwhile (wrk -t1 -c${LOAD_CONNECTIONS}, --workers=${WORKERS}): ${outcome.requests} requests, ${outcome.non2xx} non-2xx, ${outcome.socketErrors} socket errors, latency max ${outcome.maxLatency}`);
  }
} finally {
  await setup.teardown();
}

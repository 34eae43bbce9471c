// `pier controller` against the real API server (test/cluster/cluster.sh), run as the chart's
// ServiceAccount with the chart's RBAC, proxying to real backends on test hosts. Every wait is
// bounded and polls; nothing here asserts how fast anything is except the leader takeover bound.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { connect as connectTcp } from 'node:net';
import { closedPort } from '../helpers/upstreams.ts';
import { askUdp } from '../helpers/udp.ts';
import { CoreV1Api, Health, KubernetesObjectApi, NetworkingV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig, type KubernetesObject, type V1Ingress } from '@kubernetes/client-node';
import { ensureControlPlane, freshNamespace, type ControlPlane } from '../helpers/cluster.ts';
import { createTestNetwork, testHostsUnavailable, type TestBackend, type TestNetwork } from '../helpers/test-hosts.ts';
import { endpointSlice, service, type SliceEndpoint } from '../helpers/objects.ts';
import { handshake, makeCertificate, tlsSecret } from '../helpers/certs.ts';
import { FAKE_CERTIFICATE_COMMON_NAME } from '../../proxy/tls-fake-certificate.ts';
import {
  Cleanup,
  createObject,
  createTestIngressClass,
  eventually,
  grantChartRbac,
  killProcess,
  leaseHolder,
  missingPermissionLines,
  startController,
  type ControllerAccess,
  type ControllerClass,
  type TestController,
} from '../helpers/controller.ts';

const PUBLISHED_ADDRESS = '192.0.2.10';
/** The bound on leader takeover after the leader dies (the Lease design gives about 12 s). */
const TAKEOVER_BOUND_MS = 20_000;
const ELECTION_ID = 'pier-leader';
const clusterScript = fileURLToPath(new URL('./cluster.sh', import.meta.url));
/** cluster.sh restarts the control plane of this checkout, the one whose kubeconfig is here. */
const clusterShKubeconfig = fileURLToPath(new URL('../../.cluster/kubeconfig', import.meta.url));

interface Setup {
  readonly namespace: string;
  readonly access: ControllerAccess;
  readonly classes: ControllerClass;
  readonly cleanup: Cleanup;
}

/** An Ingress of `className` sending host/path to Service `serviceName` port 80. */
function ingressObject(namespace: string, name: string, className: string, host: string, serviceName: string, path = '/'): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace },
    spec: {
      ingressClassName: className,
      rules: [{ host, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: serviceName, port: { number: 80 } } } }] } }],
    },
  };
}

/** Service `name` (port http/80 → 8080) and its EndpointSlice `name-1` with `endpoints`. */
function backendObjects(namespace: string, name: string, endpoints: (string | SliceEndpoint)[]): KubernetesObject[] {
  return [
    service(name, [{ name: 'http', port: 80, targetPort: 8080 }], namespace) as unknown as KubernetesObject,
    endpointSlice(`${name}-1`, name, endpoints, [{ name: 'http', port: 8080 }], namespace) as unknown as KubernetesObject,
  ];
}

async function statusAddresses(admin: KubeConfig, namespace: string, name: string): Promise<{ ip?: string; hostname?: string }[]> {
  const ingress = await admin.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name, namespace });
  return (ingress.status?.loadBalancer?.ingress ?? []).map((entry) => ({ ...(entry.ip ? { ip: entry.ip } : {}), ...(entry.hostname ? { hostname: entry.hostname } : {}) }));
}

/** Waits until the Ingress's status is exactly `expected`. */
async function waitForStatus(admin: KubeConfig, namespace: string, name: string, expected: { ip?: string; hostname?: string }[], timeoutMs?: number): Promise<void> {
  await eventually(
    `Ingress ${namespace}/${name} status ${JSON.stringify(expected)}`,
    async () => {
      const actual = await statusAddresses(admin, namespace, name);
      if (JSON.stringify(actual) === JSON.stringify(expected)) return true;
      throw new Error(`status is ${JSON.stringify(actual)}`);
    },
    timeoutMs,
  );
}

/** The Events with `reason` recorded on Ingress namespace/name. */
async function ingressEvents(admin: KubeConfig, namespace: string, name: string, reason: string): Promise<CoreV1Event[]> {
  const events = await admin.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Ingress,involvedObject.name=${name}` });
  return events.items.filter((event) => event.reason === reason);
}

/** Waits for a first Event with `reason` on Ingress namespace/name, and returns it. */
async function waitForIngressEvent(admin: KubeConfig, namespace: string, name: string, reason: string): Promise<CoreV1Event | undefined> {
  const found = await eventually(`a ${reason} Event on Ingress ${name}`, async () => {
    const events = await ingressEvents(admin, namespace, name, reason);
    return events.length > 0 ? events : undefined;
  });
  return found[0];
}

/** Waits until GET host/path through `pier` answers `status` with a body starting with `bodyStart`. */
async function waitForAnswer(pier: TestController, host: string, path: string, status: number, bodyStart = '', headers: Record<string, string> = {}): Promise<void> {
  await eventually(`${host}${path} to answer ${status} ${bodyStart}`, async () => {
    if (pier.child.exitCode !== null || pier.child.signalCode !== null) throw new Error(`pier exited (${pier.child.exitCode ?? pier.child.signalCode}):\n${pier.log()}`);
    const answer = await pier.get(host, path, headers);
    if (answer.status === status && answer.body.startsWith(bodyStart)) return true;
    throw new Error(`answered ${answer.status} ${answer.body.slice(0, 100)}`);
  });
}

/** Writes `text` on a new connection to 127.0.0.1:port and resolves with all it reads until the close; rejects if refused. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    socket.once('error', reject);
    socket.once('end', () => resolve(received));
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    if (text === '') socket.once('connect', () => socket.end());
    else socket.write(text);
  });
}

/** The backends that answer `count` requests in a row, by name. */
async function backendsReached(pier: TestController, host: string, count: number): Promise<string[]> {
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const answer = await pier.get(host, '/');
    names.add(answer.status === 200 ? answer.body.split(' ')[0]! : `HTTP ${answer.status}`);
  }
  return [...names].sort();
}

/** How many `routes applied` lines the process has logged: one per recomputation. */
function recomputations(pier: TestController): number {
  return pier.log().split('\n').filter((line) => line.includes('routes applied')).length;
}

async function replaceObject(admin: KubeConfig, object: KubernetesObject): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(admin);
  const current = await api.read({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name ?? '', namespace: object.metadata?.namespace } });
  await api.replace({ ...object, metadata: { ...object.metadata, resourceVersion: current.metadata?.resourceVersion } });
}

function runCluster(command: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [clusterScript, command], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** True when the API server answers /readyz. */
async function apiServerReady(cluster: ControlPlane): Promise<boolean> {
  try {
    return await new Health(cluster.admin).readyz({ signal: AbortSignal.timeout(1_000) });
  } catch {
    return false;
  }
}

describe('pier controller on a real API server', { skip: testHostsUnavailable() ?? false }, () => {
  let cluster: ControlPlane;
  let network: TestNetwork;
  let alpha: TestBackend;
  let beta: TestBackend;
  let gamma: TestBackend;
  const fileCleanup = new Cleanup();

  before(async () => {
    cluster = await ensureControlPlane();
    network = createTestNetwork(3);
    fileCleanup.add('destroy the test network', () => network.destroy());
    const [a, b, c] = network.hostAddresses as [string, string, string];
    [alpha, beta, gamma] = await Promise.all([network.startBackend('alpha', a), network.startBackend('beta', b), network.startBackend('gamma', c)]);
  });

  after(() => fileCleanup.run());

  /** A fresh namespace, the chart's RBAC for it, and an IngressClass of the test's own. */
  async function setUp(prefix: string): Promise<Setup> {
    const cleanup = fileCleanup.child();
    const namespace = await freshNamespace(cluster.admin, prefix);
    const access = await grantChartRbac(cluster, namespace, cleanup, { electionId: ELECTION_ID });
    const classes = await createTestIngressClass(cluster.admin, namespace, cleanup);
    return { namespace, access, classes, cleanup };
  }

  /** Runs `body` with a fresh setup and always cleans up after it. */
  async function withSetup(prefix: string, body: (setup: Setup) => Promise<void>): Promise<void> {
    const setup = await setUp(prefix);
    try {
      await body(setup);
    } finally {
      await setup.cleanup.run();
    }
  }

  const create = (setup: Setup, object: KubernetesObject) => createObject(cluster.admin, object, setup.cleanup);

  it('routes an Ingress made through the API to its real backend and publishes --publish-status-address in its status', async () => {
    await withSetup('ctl-route', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const host = `web.${namespace}.test`;
      await create(setup, ingressObject(namespace, 'web', classes.ingressClass, host, 'web') as KubernetesObject);

      await waitForAnswer(pier, host, '/hello', 200, 'alpha GET /hello');
      await waitForStatus(cluster.admin, namespace, 'web', [{ ip: PUBLISHED_ADDRESS }]);
      assert.deepEqual(missingPermissionLines(pier.log()), []);
    });
  });

  it("writes an Ingress's status without touching its annotations, labels or spec", async () => {
    await withSetup('ctl-keep-meta', async (setup) => {
      const { namespace, classes } = setup;
      await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const ingress = ingressObject(namespace, 'kept', classes.ingressClass, `kept.${namespace}.test`, 'web');
      ingress.metadata!.annotations = { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'example.com/owner': 'team-a' };
      ingress.metadata!.labels = { app: 'shop' };
      await create(setup, ingress as KubernetesObject);
      await waitForStatus(cluster.admin, namespace, 'kept', [{ ip: PUBLISHED_ADDRESS }]);
      const read = await cluster.admin.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name: 'kept', namespace });
      assert.deepEqual(read.metadata?.annotations, ingress.metadata!.annotations);
      assert.deepEqual(read.metadata?.labels, { app: 'shop' });
      assert.equal(read.spec?.rules?.[0]?.host, `kept.${namespace}.test`);
    });
  });

  it("publishes the --publish-service Service's external IPs, then its load-balancer addresses once the Service has them", async () => {
    await withSetup('ctl-publish', async (setup) => {
      const { namespace, classes } = setup;
      await create(setup, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'edge', namespace },
        spec: { type: 'LoadBalancer', externalIPs: ['192.0.2.20'], ports: [{ name: 'http', port: 80 }] },
      } as KubernetesObject);
      const pier = await startController(setup.access, classes, [`--publish-service=${namespace}/edge`], setup.cleanup);
      await create(setup, ingressObject(namespace, 'web', classes.ingressClass, `web.${namespace}.test`, 'web') as KubernetesObject);
      await waitForStatus(cluster.admin, namespace, 'web', [{ ip: '192.0.2.20' }]);

      // The admin plays the cloud's load-balancer controller, through the status subresource.
      const core = cluster.admin.makeApiClient(CoreV1Api);
      const edge = await core.readNamespacedService({ name: 'edge', namespace });
      edge.status = { loadBalancer: { ingress: [{ ip: '192.0.2.30' }, { hostname: 'lb.example.test' }] } };
      await core.replaceNamespacedServiceStatus({ name: 'edge', namespace, body: edge });
      await waitForStatus(cluster.admin, namespace, 'web', [{ ip: '192.0.2.30' }, { hostname: 'lb.example.test' }]);
      assert.deepEqual(missingPermissionLines(pier.log()), []);
    });
  });

  it("moves traffic when an Ingress's host, path or backend changes, and answers 404 for its host once it is deleted", async () => {
    await withSetup('ctl-change', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of [...backendObjects(namespace, 'web-a', [alpha.address]), ...backendObjects(namespace, 'web-b', [beta.address])]) await create(setup, object);
      const first = `first.${namespace}.test`;
      const second = `second.${namespace}.test`;
      await create(setup, ingressObject(namespace, 'web', classes.ingressClass, first, 'web-a') as KubernetesObject);
      await waitForAnswer(pier, first, '/', 200, 'alpha');

      await replaceObject(cluster.admin, ingressObject(namespace, 'web', classes.ingressClass, second, 'web-a') as KubernetesObject);
      await waitForAnswer(pier, second, '/', 200, 'alpha');
      await waitForAnswer(pier, first, '/', 404);

      await replaceObject(cluster.admin, ingressObject(namespace, 'web', classes.ingressClass, second, 'web-a', '/api') as KubernetesObject);
      await waitForAnswer(pier, second, '/', 404);
      await waitForAnswer(pier, second, '/api/x', 200, 'alpha GET /api/x');

      await replaceObject(cluster.admin, ingressObject(namespace, 'web', classes.ingressClass, second, 'web-b', '/api') as KubernetesObject);
      await waitForAnswer(pier, second, '/api/x', 200, 'beta GET /api/x');

      await cluster.admin.makeApiClient(NetworkingV1Api).deleteNamespacedIngress({ name: 'web', namespace });
      await waitForAnswer(pier, second, '/api/x', 404);
      // Every Ingress was computed once, at start; each change after (leadership and status writes included) only what it touched.
      const applied = pier.log().split('\n').filter((line) => line.includes('routes applied'));
      assert.equal(applied.filter((line) => line.includes('computed=all')).length, 1, applied.join('\n'));
      assert.ok(applied.filter((line) => line.includes('computed=changes')).length >= 4, applied.join('\n'));
    });
  });

  it('balances over exactly the ready endpoints as the EndpointSlice changes, and sends none to a not-ready one', async () => {
    await withSetup('ctl-balance', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      const host = `web.${namespace}.test`;
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      await create(setup, ingressObject(namespace, 'web', classes.ingressClass, host, 'web') as KubernetesObject);
      await waitForAnswer(pier, host, '/', 200, 'alpha');
      assert.deepEqual(await backendsReached(pier, host, 10), ['alpha']);

      const slice = (endpoints: (string | SliceEndpoint)[]) => endpointSlice('web-1', 'web', endpoints, [{ name: 'http', port: 8080 }], namespace) as unknown as KubernetesObject;
      const converge = async (expected: string[]) => {
        await eventually(`requests to reach exactly ${expected.join(', ')}`, async () => {
          const reached = await backendsReached(pier, host, expected.length * 4);
          if (JSON.stringify(reached) === JSON.stringify(expected)) return true;
          throw new Error(`reached ${reached.join(', ')}`);
        });
        // Once there, it stays there: round-robin over the ready endpoints only.
        assert.deepEqual(await backendsReached(pier, host, expected.length * 10), expected);
      };

      await replaceObject(cluster.admin, slice([alpha.address, beta.address]));
      await converge(['alpha', 'beta']);
      // An EndpointSlice change gives the proxy new endpoints, not a new table to compile.
      await pier.waitForLog(/routes applied .*endpointsUpdated=1 /);

      await replaceObject(cluster.admin, slice([alpha.address, { ip: beta.address, ready: false }, gamma.address]));
      await converge(['alpha', 'gamma']);

      await replaceObject(cluster.admin, slice([{ ip: beta.address, ready: false }, gamma.address]));
      await converge(['gamma']);

      await replaceObject(cluster.admin, slice([{ ip: beta.address, ready: false }]));
      await waitForAnswer(pier, host, '/', 503);
    });
  });

  it('records a missing Service as exactly one Event on the Ingress, however often the routes are recomputed', async () => {
    await withSetup('ctl-event', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      await create(setup, ingressObject(namespace, 'broken', classes.ingressClass, `broken.${namespace}.test`, 'absent') as KubernetesObject);
      const warnings = () => ingressEvents(cluster.admin, namespace, 'broken', 'ServiceNotFound');
      const event = await waitForIngressEvent(cluster.admin, namespace, 'broken', 'ServiceNotFound');
      assert.equal(event?.type, 'Warning');
      assert.match(event?.message ?? '', new RegExp(`Service ${namespace}/absent not found`));
      assert.equal(event?.source?.component, 'pier');
      assert.equal(event?.involvedObject.namespace, namespace);

      // Recompute a few times (an unrelated Service each time, and a touched Ingress); the warning persists.
      for (let i = 0; i < 3; i++) {
        const before = recomputations(pier);
        await create(setup, service(`unrelated-${i}`, [{ name: 'http', port: 80 }], namespace) as unknown as KubernetesObject);
        await eventually('a recomputation', () => recomputations(pier) > before);
      }
      const before = recomputations(pier);
      const networking = cluster.admin.makeApiClient(NetworkingV1Api);
      const broken = await networking.readNamespacedIngress({ name: 'broken', namespace });
      broken.metadata!.annotations = { 'pier.test/touched': 'yes' };
      await networking.replaceNamespacedIngress({ name: 'broken', namespace, body: broken });
      await eventually('a recomputation', () => recomputations(pier) > before);
      // The leader's Event work follows each recomputation; let the last one finish: its status write shows it.
      await waitForStatus(cluster.admin, namespace, 'broken', [{ ip: PUBLISHED_ADDRESS }]);

      const all = await warnings();
      assert.equal(all.length, 1, `expected one ServiceNotFound Event, got ${all.length}`);
      assert.equal(all[0]?.count ?? 1, 1);
    });
  });

  it("serves an Ingress's RSA certificate from its Secret by SNI, and records a Secret whose key OpenSSL refuses as a Warning Event", async () => {
    await withSetup('ctl-tls', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const host = `secure.${namespace}.test`;
      const weakHost = `weak.${namespace}.test`;
      const rsa = makeCertificate([host], 'rsa2048-pkcs1');
      const weak = makeCertificate([weakHost], 'rsa512-pkcs8');
      await create(setup, tlsSecret('secure-tls', rsa, { namespace }) as unknown as KubernetesObject);
      await create(setup, tlsSecret('weak-tls', weak, { namespace }) as unknown as KubernetesObject);
      for (const [name, ingressHost, secretName] of [['secure', host, 'secure-tls'], ['weak', weakHost, 'weak-tls']] as const) {
        const ingress = ingressObject(namespace, name, classes.ingressClass, ingressHost, 'web');
        ingress.spec!.tls = [{ hosts: [ingressHost], secretName }];
        await create(setup, ingress as KubernetesObject);
      }
      await eventually('the RSA certificate on its host', async () => (await handshake(pier.ports.https, host)).fingerprint === rsa.fingerprint);
      assert.equal((await handshake(pier.ports.https, weakHost)).subject, FAKE_CERTIFICATE_COMMON_NAME);
      const event = await waitForIngressEvent(cluster.admin, namespace, 'weak', 'TlsSecretInvalid');
      assert.equal(event?.type, 'Warning');
      assert.match(event?.message ?? '', /OpenSSL refused the certificate and key .*ee key too small/);
    });
  });

  it('matches a use-regex path in linear time, keeps other hosts answering during hostile requests, and records a lookahead path as a Warning Event', async () => {
    await withSetup('ctl-regex', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const plainHost = `plain.${namespace}.test`;
      const regexHost = `regex.${namespace}.test`;
      await create(setup, ingressObject(namespace, 'plain', classes.ingressClass, plainHost, 'web') as KubernetesObject);
      const regex = ingressObject(namespace, 'regex', classes.ingressClass, regexHost, 'web');
      regex.metadata!.annotations = { 'nginx.ingress.kubernetes.io/use-regex': 'true' };
      regex.spec!.rules![0]!.http!.paths = ['/(a+)+b', '/(?!admin)private'].map((path) => ({ path, pathType: 'ImplementationSpecific', backend: { service: { name: 'web', port: { number: 80 } } } }));
      await create(setup, regex as KubernetesObject);

      await waitForAnswer(pier, regexHost, `/${'a'.repeat(10)}b`, 200, 'alpha GET');
      const answers = await Promise.all([pier.get(regexHost, `/${'a'.repeat(40)}`), pier.get(regexHost, `/${'a'.repeat(40)}`), pier.get(plainHost, '/')]);
      assert.deepEqual(answers.map((answer) => answer.status), [404, 404, 200]);

      const event = await waitForIngressEvent(cluster.admin, namespace, 'regex', 'InvalidPath');
      assert.equal(event?.type, 'Warning');
      assert.match(event?.message ?? '', /path "\/\(\?!admin\)private".*no backreferences or lookaround/);
    });
  });

  it('honours rewrite-target, app-root, the redirects, upstream-vhost, proxy-body-size, proxy-read-timeout, server-alias, default-backend, custom-http-errors, allowlist-source-range, CORS, limit-rpm, limit-connections, basic auth and auth-url on Ingresses made through the API', async () => {
    await withSetup('ctl-annotations', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const host = (name: string): string => `${name}.${namespace}.test`;
      const annotated = (name: string, annotations: Record<string, string>, path = '/', pathType = 'Prefix'): KubernetesObject => {
        const object = ingressObject(namespace, name, classes.ingressClass, host(name), 'web', path);
        object.metadata!.annotations = Object.fromEntries(Object.entries(annotations).map(([key, value]) => [`nginx.ingress.kubernetes.io/${key}`, value]));
        object.spec!.rules![0]!.http!.paths[0]!.pathType = pathType;
        return object as KubernetesObject;
      };
      await create(setup, annotated('rewrite', { 'rewrite-target': '/$2', 'x-forwarded-prefix': '/api' }, '/api(/|$)(.*)', 'ImplementationSpecific'));
      await create(setup, annotated('approot', { 'app-root': '/app1' }));
      await create(setup, annotated('moved', { 'permanent-redirect': 'https://new.example/landing' }));
      await create(setup, annotated('site', { 'from-to-www-redirect': 'true' }));
      await create(setup, annotated('vhost', { 'upstream-vhost': 'internal.example' }));
      await create(setup, annotated('impatient', { 'proxy-read-timeout': '1', 'server-alias': `alias.${namespace}.test` }));
      await create(setup, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'not-yet', namespace }, spec: { ports: [{ name: 'http', port: 80 }] } } as KubernetesObject);
      const fallback = annotated('fallback', { 'default-backend': 'web', 'custom-http-errors': '404' });
      (fallback as V1Ingress).spec!.rules![0]!.http!.paths[0]!.backend.service!.name = 'not-yet';
      await create(setup, fallback);
      const pages = annotated('pages', { 'custom-http-errors': '503' });
      (pages as V1Ingress).spec!.rules![0]!.http!.paths[0]!.backend.service!.name = 'not-yet';
      await create(setup, pages);
      await create(setup, annotated('office', { 'allowlist-source-range': '10.0.0.0/8' }));
      // The hash from openssl, as users make them (htpasswd's apr1 format).
      const hash = execFileSync('openssl', ['passwd', '-apr1', 's3cret'], { encoding: 'utf8' }).trim();
      await create(setup, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'basic-auth', namespace }, type: 'Opaque', stringData: { auth: `foo:${hash}\n` } } as KubernetesObject);
      await create(setup, annotated('private', { 'auth-type': 'basic', 'auth-secret': 'basic-auth', 'auth-realm': 'Staff only' }));
      await create(setup, annotated('api', { 'enable-cors': 'true', 'cors-allow-origin': 'https://app.example.com' }));
      await create(setup, annotated('limited', { 'limit-rpm': '1', 'limit-burst-multiplier': '1' }));
      await create(setup, annotated('single', { 'limit-connections': '1' }));
      // The echo backend answers 200 to anything, so as an auth service it lets everyone in; port 9 answers no one.
      await create(setup, annotated('sso', { 'auth-url': `http://${alpha.address}:${alpha.port}/oauth2/auth` }));
      await create(setup, annotated('sso-down', { 'auth-url': `http://${alpha.address}:9/oauth2/auth` }));
      await create(setup, annotated('small', { 'proxy-body-size': '1k' }));

      // The last Ingress made is served once the watch has delivered all of them, in order.
      await waitForAnswer(pier, host('small'), '/', 200, 'alpha GET /');
      assert.equal((await pier.get(host('rewrite'), '/api/users/7?x=1')).body, 'alpha GET /users/7?x=1');
      assert.equal((await pier.get(host('rewrite'), '/api/users')).headers['x-seen-prefix'], '/api');
      const approot = await pier.get(host('approot'), '/');
      assert.deepEqual([approot.status, approot.headers.location], [302, `http://${host('approot')}/app1`]);
      const moved = await pier.get(host('moved'), '/any/path');
      assert.deepEqual([moved.status, moved.headers.location], [301, 'https://new.example/landing']);
      const www = await pier.get(`www.${host('site')}`, '/a');
      assert.equal(www.status, 308);
      assert.match(www.headers.location ?? '', new RegExp(`^http://${host('site').replaceAll('.', '\\.')}:\\d+/a$`));
      assert.equal((await pier.get(host('vhost'), '/')).headers['x-seen-host'], 'internal.example');
      assert.equal((await pier.get(host('small'), '/', { 'content-length': '1025' })).status, 413);
      assert.equal((await pier.get(host('impatient'), '/', { 'x-delay-ms': '1500' })).status, 504);
      assert.equal((await pier.get(`alias.${namespace}.test`, '/via-alias')).body, 'alpha GET /via-alias');
      assert.equal((await pier.get(host('fallback'), '/kept')).body, 'alpha GET /kept', 'default-backend serves a Service without endpoints');
      assert.equal((await pier.get(host('office'), '/')).status, 403, 'the test client is 127.0.0.1, outside the allowlist');
      const challenged = await pier.get(host('private'), '/');
      assert.deepEqual([challenged.status, challenged.headers['www-authenticate']], [401, 'Basic realm="Staff only"']);
      assert.equal((await pier.get(host('private'), '/in', { authorization: `Basic ${Buffer.from('foo:s3cret').toString('base64')}` })).body, 'alpha GET /in');
      assert.equal((await pier.get(host('api'), '/', { origin: 'https://app.example.com' })).headers['access-control-allow-origin'], 'https://app.example.com');
      const limited: number[] = [];
      for (let i = 0; i < 3; i++) limited.push((await pier.get(host('limited'), '/')).status);
      assert.deepEqual(limited, [200, 200, 503], 'limit-rpm 1 with burst 1');
      const slowPath = `/slow-${Date.now()}`;
      const slow = pier.get(host('single'), slowPath, { 'x-delay-ms': '1500' });
      await eventually('the slow request to reach the backend', () => alpha.output().includes(`received GET ${slowPath}`));
      assert.equal((await pier.get(host('single'), '/')).status, 503, 'limit-connections 1: a second request while the first is in progress');
      assert.equal((await slow).status, 200);
      assert.equal((await pier.get(host('single'), '/')).status, 200);
      assert.equal((await pier.get(host('sso'), '/x')).body, 'alpha GET /x');
      assert.equal((await pier.get(host('sso-down'), '/x')).status, 500);
      const page = await pier.get(host('pages'), '/');
      assert.deepEqual([page.status, page.body], [404, 'default backend - 404\n'], 'custom-http-errors with no error backend: the built-in default backend answers');
    });
  });

  it('sends a canary Ingress\'s share of a main Ingress\'s requests to the canary, keeps cookie sessions on their endpoint, and serves nothing for a canary whose main Ingress is deleted', async () => {
    await withSetup('ctl-canary', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of [...backendObjects(namespace, 'stable', [alpha.address, beta.address]), ...backendObjects(namespace, 'next', [gamma.address])]) await create(setup, object);
      const host = `shop.${namespace}.test`;
      const main = ingressObject(namespace, 'shop', classes.ingressClass, host, 'stable');
      main.metadata!.annotations = { 'nginx.ingress.kubernetes.io/affinity': 'cookie', 'nginx.ingress.kubernetes.io/affinity-mode': 'persistent' };
      const canary = ingressObject(namespace, 'shop-canary', classes.ingressClass, host, 'next');
      canary.metadata!.annotations = { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary' };
      await create(setup, main as KubernetesObject);
      await create(setup, canary as KubernetesObject);
      await waitForAnswer(pier, host, '/', 200, 'gamma', { 'x-canary': 'always' });
      const session = await pier.get(host, '/');
      const cookie = String(session.headers['set-cookie']).split(';')[0] as string;
      assert.match(cookie, /^INGRESSCOOKIE=/);
      const servedBy = session.body.split(' ')[0];
      assert.ok(servedBy === 'alpha' || servedBy === 'beta', `a request without the header reaches the main Service, not ${servedBy}`);
      for (let i = 0; i < 10; i++) assert.equal((await pier.get(host, `/${i}`, { cookie })).body.split(' ')[0], servedBy, 'the session stays on its endpoint');
      assert.equal((await pier.get(host, '/', { 'x-canary': 'never' })).body.startsWith('gamma'), false);
      await cluster.admin.makeApiClient(NetworkingV1Api).deleteNamespacedIngress({ name: 'shop', namespace });
      await waitForAnswer(pier, host, '/', 404, '', { 'x-canary': 'always' });
    });
  });

  it('opens the TCP and UDP ports of the services ConfigMaps made through the API, and closes one when its entry is removed', async () => {
    await withSetup('ctl-streams', async (setup) => {
      const { namespace, classes } = setup;
      const [tcpPort, udpPort] = [await closedPort(), await closedPort()];
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      await create(setup, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns', namespace }, spec: { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } } as KubernetesObject);
      await create(setup, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'dns-1', namespace, labels: { 'kubernetes.io/service-name': 'dns' } }, addressType: 'IPv4', ports: [{ name: 'dns', port: alpha.port, protocol: 'UDP' }], endpoints: [{ addresses: [alpha.address] }] } as KubernetesObject);
      await create(setup, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'tcp-services', namespace }, data: { [String(tcpPort)]: `${namespace}/web:80` } } as KubernetesObject);
      await create(setup, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'udp-services', namespace }, data: { [String(udpPort)]: `${namespace}/dns:53` } } as KubernetesObject);
      await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`, `--tcp-services-configmap=${namespace}/tcp-services`, `--udp-services-configmap=${namespace}/udp-services`], setup.cleanup);
      // The TCP port carries whatever the backend speaks: here the echo backend's HTTP.
      const overTcp = await eventually('the TCP port to reach the backend', async () => {
        const answer = await rawExchange(tcpPort, 'GET /via-tcp HTTP/1.1\r\nHost: anything\r\nConnection: close\r\n\r\n').catch(() => '');
        return answer.includes('alpha GET /via-tcp') ? answer : undefined;
      });
      assert.match(overTcp, /^HTTP\/1\.1 200/);
      // The echo backend answers datagrams on its port too.
      assert.equal(await askUdp(udpPort, 'query'), 'alpha query');
      await cluster.admin.makeApiClient(CoreV1Api).patchNamespacedConfigMap({ name: 'tcp-services', namespace, body: [{ op: 'remove', path: `/data/${tcpPort}` }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
      await eventually('the removed TCP port to close', async () => (await rawExchange(tcpPort, '').then(() => false, () => true)) || undefined);
    });
  });

  it('reads the ConfigMap auth-proxy-set-headers names with --enable-auth-proxy-set-headers, as its own ServiceAccount, and opens a closed location once that ConfigMap is made', async () => {
    await withSetup('ctl-auth-headers', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`, '--enable-auth-proxy-set-headers'], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const host = `headers.${namespace}.test`;
      const object = ingressObject(namespace, 'headers', classes.ingressClass, host, 'web', '/');
      object.metadata!.annotations = {
        // The echo backend answers 200 to anything: as an auth service it lets everyone in.
        'nginx.ingress.kubernetes.io/auth-url': `http://${alpha.address}:${alpha.port}/verify`,
        'nginx.ingress.kubernetes.io/auth-proxy-set-headers': 'auth-headers',
      };
      await create(setup, object as KubernetesObject);
      await waitForAnswer(pier, host, '/', 503);
      await create(setup, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'auth-headers', namespace }, data: { 'X-Tenant': namespace } } as KubernetesObject);
      await waitForAnswer(pier, host, '/in', 200, 'alpha GET /in');
    });
  });

  it('stays healthy when an Ingress\'s namespace is being deleted: the API server refusing its Event is no missing permission', async () => {
    await withSetup('ctl-terminating', async (setup) => {
      const { classes } = setup;
      // This control plane runs no namespace controller, so a deleted namespace stays Terminating, with its Ingress.
      const doomed = await freshNamespace(cluster.admin, 'ctl-doomed');
      await create(setup, ingressObject(doomed, 'orphan', classes.ingressClass, `orphan.${doomed}.test`, 'no-such-service') as KubernetesObject);
      await cluster.admin.makeApiClient(CoreV1Api).deleteNamespace({ name: doomed });
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      await eventually('the Event to be refused', () => pier.log().includes('recording an Event failed') || undefined);
      assert.deepEqual(missingPermissionLines(pier.log()), []);
      assert.equal((await pier.healthz()).status, 200);
    });
  });

  it("clears the status of an Ingress that moves to another controller's class, and never writes one on an Ingress of another class", async () => {
    await withSetup('ctl-class', async (setup) => {
      const { namespace, classes } = setup;
      // Controller pier.dev/test-<ns>-other: another controller's class, not this one's.
      const other = await createTestIngressClass(cluster.admin, namespace, setup.cleanup, '-other');
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      await create(setup, ingressObject(namespace, 'theirs', other.ingressClass, `theirs.${namespace}.test`, 'web') as KubernetesObject);
      await create(setup, ingressObject(namespace, 'mine', classes.ingressClass, `mine.${namespace}.test`, 'web') as KubernetesObject);
      // `mine` came after `theirs` on the same watch, so once it has status, `theirs` has been seen.
      await waitForStatus(cluster.admin, namespace, 'mine', [{ ip: PUBLISHED_ADDRESS }]);
      assert.deepEqual(await statusAddresses(cluster.admin, namespace, 'theirs'), []);

      await replaceObject(cluster.admin, ingressObject(namespace, 'mine', other.ingressClass, `mine.${namespace}.test`, 'web') as KubernetesObject);
      await waitForStatus(cluster.admin, namespace, 'mine', []);
      await waitForAnswer(pier, `mine.${namespace}.test`, '/', 404);
      assert.deepEqual(await statusAddresses(cluster.admin, namespace, 'theirs'), []);
    });
  });

  it('lets exactly one of two controllers write status, and moves leadership to the other within 20 s of a SIGKILL', async (t: TestContext) => {
    await withSetup('ctl-leader', async (setup) => {
      const { namespace, classes } = setup;
      const args = [`--publish-status-address=${PUBLISHED_ADDRESS}`];
      const pair = await Promise.all([startController(setup.access, classes, args, setup.cleanup), startController(setup.access, classes, args, setup.cleanup)]);
      const holder = await eventually('a Lease holder', async () => {
        const identity = await leaseHolder(cluster.admin, namespace, ELECTION_ID);
        return pair.some((pier) => pier.identity === identity) ? identity : undefined;
      });
      const leader = pair.find((pier) => pier.identity === holder)!;
      const follower = pair.find((pier) => pier.identity !== holder)!;

      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      await create(setup, ingressObject(namespace, 'first', classes.ingressClass, `first.${namespace}.test`, 'web') as KubernetesObject);
      await waitForStatus(cluster.admin, namespace, 'first', [{ ip: PUBLISHED_ADDRESS }]);
      // Both proxy; only the leader writes.
      await waitForAnswer(leader, `first.${namespace}.test`, '/', 200, 'alpha');
      await waitForAnswer(follower, `first.${namespace}.test`, '/', 200, 'alpha');
      // The log line follows the write, so the API can show the status a moment before it.
      await leader.waitForLog(/status written/);
      assert.doesNotMatch(follower.log(), /status written/);
      assert.doesNotMatch(follower.log(), /became the leader/);

      const followerRecomputations = recomputations(follower);
      const killedAt = performance.now();
      await killProcess(leader);
      await eventually('the follower to hold the Lease', async () => (await leaseHolder(cluster.admin, namespace, ELECTION_ID)) === follower.identity, TAKEOVER_BOUND_MS + 5_000);
      const takeoverMs = Math.round(performance.now() - killedAt);
      t.diagnostic(`leader takeover after SIGKILL: ${takeoverMs} ms`);
      assert.ok(takeoverMs < TAKEOVER_BOUND_MS, `takeover took ${takeoverMs} ms`);
      // Leading changes who writes status, not the routes: the new leader computes nothing again.
      await follower.waitForLog(/became the leader/);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(recomputations(follower), followerRecomputations, 'taking over the Lease recomputed the routes');

      await create(setup, ingressObject(namespace, 'second', classes.ingressClass, `second.${namespace}.test`, 'web') as KubernetesObject);
      await waitForStatus(cluster.admin, namespace, 'second', [{ ip: PUBLISHED_ADDRESS }]);
      await follower.waitForLog(/became the leader/);
      await follower.waitForLog(/status written/);
    });
  });

  it('keeps serving its last routes while the API server is down, and applies changes made after it comes back', { timeout: 180_000 }, async (t: TestContext) => {
    if (resolvePath(cluster.kubeconfigPath) !== clusterShKubeconfig) {
      t.skip(`the control plane (${cluster.kubeconfigPath}) is not the one cluster.sh manages`);
      return;
    }
    await withSetup('ctl-restart', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`], setup.cleanup);
      for (const object of [...backendObjects(namespace, 'web-a', [alpha.address]), ...backendObjects(namespace, 'web-b', [beta.address])]) await create(setup, object);
      const host = `web.${namespace}.test`;
      const doomed = `doomed.${namespace}.test`;
      await create(setup, ingressObject(namespace, 'web', classes.ingressClass, host, 'web-a') as KubernetesObject);
      await create(setup, ingressObject(namespace, 'doomed', classes.ingressClass, doomed, 'web-a') as KubernetesObject);
      await waitForAnswer(pier, host, '/', 200, 'alpha');
      await waitForAnswer(pier, doomed, '/', 200, 'alpha');

      const restart = runCluster('restart-apiserver');
      // While it is down, the proxy answers from the routes it has.
      await eventually('the API server to go down', async () => !(await apiServerReady(cluster)), 60_000);
      let servedWhileDown = 0;
      while (!(await apiServerReady(cluster))) {
        const answer = await pier.get(host, '/down');
        assert.equal(answer.status, 200);
        assert.equal(answer.body, 'alpha GET /down');
        servedWhileDown++;
        if (servedWhileDown > 10_000) break;
      }
      const { code, stderr } = await restart;
      assert.equal(code, 0, `cluster.sh restart-apiserver failed: ${stderr}`);
      t.diagnostic(`requests served while the API server was down: ${servedWhileDown}`);
      assert.ok(servedWhileDown > 0, 'no request was sent while the API server was down');

      // Changes after the restart: one update and one delete, both must reach the proxy.
      await replaceObject(cluster.admin, ingressObject(namespace, 'web', classes.ingressClass, host, 'web-b') as KubernetesObject);
      await cluster.admin.makeApiClient(NetworkingV1Api).deleteNamespacedIngress({ name: 'doomed', namespace });
      await eventually('the watch to resume', async () => (await pier.get(host, '/')).body.startsWith('beta'), 60_000);
      await waitForAnswer(pier, doomed, '/', 404);
      // And the leader work resumes: a new Ingress gets its status.
      await create(setup, ingressObject(namespace, 'later', classes.ingressClass, `later.${namespace}.test`, 'web-b') as KubernetesObject);
      await waitForStatus(cluster.admin, namespace, 'later', [{ ip: PUBLISHED_ADDRESS }], 30_000);
    });
  });

  it('on SIGTERM fails /healthz, finishes a slow request under way, releases the Lease and exits 0', async () => {
    await withSetup('ctl-shutdown', async (setup) => {
      const { namespace, classes } = setup;
      const pier = await startController(setup.access, classes, [`--publish-status-address=${PUBLISHED_ADDRESS}`, '--shutdown-grace-period=30s'], setup.cleanup);
      for (const object of backendObjects(namespace, 'web', [alpha.address])) await create(setup, object);
      const host = `web.${namespace}.test`;
      await create(setup, ingressObject(namespace, 'web', classes.ingressClass, host, 'web') as KubernetesObject);
      await waitForAnswer(pier, host, '/', 200, 'alpha');
      await eventually('the controller to hold the Lease', async () => (await leaseHolder(cluster.admin, namespace, ELECTION_ID)) === pier.identity);
      assert.equal((await pier.healthz()).status, 200);

      const slowPath = `/slow-${Date.now()}`;
      const slow = pier.get(host, slowPath, { 'x-delay-ms': '3000' });
      await eventually('the slow request to reach the backend', () => alpha.output().includes(`received GET ${slowPath}`));
      pier.child.kill('SIGTERM');
      await eventually('/healthz to fail', async () => {
        const answer = await pier.healthz();
        return answer.status === 500 && answer.body.includes('shutting down');
      });
      const answer = await slow;
      assert.equal(answer.status, 200);
      assert.equal(answer.body, `alpha GET ${slowPath}`);
      const { code } = await eventually('the process to exit', () => (pier.child.exitCode === null ? undefined : { code: pier.child.exitCode }));
      assert.equal(code, 0, pier.log());
      assert.equal(await leaseHolder(cluster.admin, namespace, ELECTION_ID), '');
    });
  });
});

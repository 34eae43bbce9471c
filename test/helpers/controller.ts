// Runs `pier controller` against the real control plane the way the chart deploys it: as its own
// ServiceAccount, held to the chart's RBAC (synthesized for the test's namespace), with a class of
// its own so that test files sharing the cluster don't serve each other's Ingresses.
// Cluster-scoped objects get names unique to the test; everything made is undone by a Cleanup.
import { request, type IncomingHttpHeaders } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { synthesizePier, type Manifest, type PolicyRule } from '../charts/synthesize.ts';
import { serviceAccountKubeConfig, tokenKubeConfig, writeKubeConfigFile, type ControlPlane } from './cluster.ts';
import { startPier, type PierProcess } from '../standalone/pier-process.ts';

/** What every bounded wait in the cluster suites defaults to. */
export const DEFAULT_WAIT_MS = 15_000;
const POLL_MS = 100;
/** The ServiceAccount the chart makes, and the one the controller runs as. */
export const SERVICE_ACCOUNT = 'pier';

/** Undo actions, run last-in first-out; one failing doesn't stop the others. */
export class Cleanup {
  readonly #actions: { what: string; action: () => Promise<unknown> | unknown }[] = [];

  add(what: string, action: () => Promise<unknown> | unknown): void {
    this.#actions.push({ what, action });
  }

  /**
   * A Cleanup for one test whose leftovers this one also undoes when it runs: a test that timed
   * out mid-way (its own cleanup never ran) still has its processes killed by the file's `after`.
   */
  child(): Cleanup {
    const child = new Cleanup();
    this.add('a test\'s leftovers', () => child.run());
    return child;
  }

  async run(): Promise<void> {
    const failures: string[] = [];
    while (this.#actions.length > 0) {
      const { what, action } = this.#actions.pop()!;
      try {
        await action();
      } catch (error) {
        failures.push(`${what}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`cleanup failed:\n${failures.join('\n')}`);
  }
}

/**
 * Polls `probe` until it returns something other than undefined, null or false (without
 * throwing), and returns that; after `timeoutMs` it fails with the last error or value seen.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as T;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: IncomingHttpHeaders;
}

/** One HTTP/1.1 request to 127.0.0.1:port with the given Host, on a fresh connection. */
export function httpGet(port: number, host: string, path = '/', headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${host}${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Which rule to leave out of the chart's RBAC: by role kind and resource (and verb, if given). */
export interface RuleToOmit {
  readonly role: 'ClusterRole' | 'Role';
  readonly resource: string;
  readonly verb?: string;
}

export interface ControllerAccess {
  readonly namespace: string;
  readonly kubeconfigPath: string;
  /** The rules granted, after any omission. */
  readonly clusterRules: readonly PolicyRule[];
  readonly roleRules: readonly PolicyRule[];
  readonly electionId: string;
}

function without(rules: readonly PolicyRule[], omit: RuleToOmit | undefined, role: RuleToOmit['role']): PolicyRule[] {
  if (!omit || omit.role !== role) return [...rules];
  const kept: PolicyRule[] = [];
  for (const rule of rules) {
    if (!(rule.resources ?? []).includes(omit.resource)) {
      kept.push(rule);
      continue;
    }
    const resources = (rule.resources ?? []).filter((resource) => resource !== omit.resource);
    if (omit.verb !== undefined) {
      const verbs = rule.verbs.filter((verb) => verb !== omit.verb);
      if (verbs.length > 0) kept.push({ ...rule, resources: [omit.resource], verbs });
    }
    if (resources.length > 0) kept.push({ ...rule, resources });
  }
  if (JSON.stringify(kept) === JSON.stringify(rules)) throw new Error(`the chart's ${role} has no rule for ${omit.resource}`);
  return kept;
}

function chartObject(manifests: readonly Manifest[], kind: string): Manifest {
  const found = manifests.find((object) => object.kind === kind);
  if (!found) throw new Error(`the synthesized chart has no ${kind}`);
  return found;
}

/** Blocks until the API server's authorizer grants the ServiceAccount the first verb of every rule (RBAC caches catch up). */
async function waitForGrants(admin: KubeConfig, namespace: string, rules: readonly PolicyRule[], scoped: boolean): Promise<void> {
  const authorization = admin.makeApiClient(AuthorizationV1Api);
  const user = `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`;
  for (const rule of rules) {
    const [resource, subresource] = (rule.resources?.[0] ?? '').split('/');
    const attributes = {
      group: rule.apiGroups?.[0] ?? '',
      resource,
      subresource,
      verb: rule.verbs[0],
      name: rule.resourceNames?.[0],
      namespace: scoped ? namespace : undefined,
    };
    await eventually(`RBAC to allow ${user} to ${attributes.verb} ${rule.resources?.[0]}`, async () => {
      const review = await authorization.createSubjectAccessReview({ body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'], resourceAttributes: attributes } } });
      return review.status?.allowed === true;
    });
  }
}

/**
 * The chart's ClusterRole and Role for `namespace` (minus `omit`), bound to ServiceAccount
 * `pier` there, and a kubeconfig file holding a token for it. The ClusterRole and its binding are
 * named after the namespace, so concurrent tests don't share them; cleanup deletes them.
 */
export async function grantChartRbac(
  cluster: ControlPlane,
  namespace: string,
  cleanup: Cleanup,
  options: { omit?: RuleToOmit; electionId?: string } = {},
): Promise<ControllerAccess> {
  const electionId = options.electionId ?? 'pier-leader';
  const manifests = synthesizePier({ namespace, electionId });
  const clusterRole = chartObject(manifests, 'ClusterRole');
  const role = chartObject(manifests, 'Role');
  const clusterRules = without(clusterRole.rules as PolicyRule[], options.omit, 'ClusterRole');
  const roleRules = without(role.rules as PolicyRule[], options.omit, 'Role');
  const uniqueName = `pier-test-${namespace}`;
  const subject = { kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace };
  const objects: KubernetesObject[] = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: uniqueName }, rules: clusterRules } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: uniqueName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: uniqueName }, subjects: [subject],
    } as KubernetesObject,
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: role.metadata.name, namespace }, rules: roleRules } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: role.metadata.name, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name }, subjects: [subject],
    } as KubernetesObject,
  ];
  for (const object of objects) await createObject(cluster.admin, object, cleanup);
  await waitForGrants(cluster.admin, namespace, clusterRules, false);
  await waitForGrants(cluster.admin, namespace, roleRules, true);

  const kubeConfig = await serviceAccountKubeConfig(cluster.admin, namespace, SERVICE_ACCOUNT);
  const dir = await mkdtemp(join(tmpdir(), `pier-${namespace}-`));
  cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const kubeconfigPath = await writeKubeConfigFile(kubeConfig, join(dir, 'kubeconfig'));
  return { namespace, kubeconfigPath, clusterRules, roleRules, electionId };
}

/**
 * Creates `object` as the admin. Cluster-scoped objects are deleted by `cleanup`; namespaced ones
 * go with their test's namespace (which nothing deletes: without a controller-manager it would
 * stay Terminating), unless `alwaysDelete`.
 */
export async function createObject<T extends KubernetesObject>(admin: KubeConfig, object: T, cleanup: Cleanup, alwaysDelete = false): Promise<T> {
  const api = KubernetesObjectApi.makeApiClient(admin);
  const created = (await api.create(object)) as T;
  if (!object.metadata?.namespace || alwaysDelete) {
    const ref = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name, namespace: object.metadata?.namespace } };
    cleanup.add(`delete ${object.kind} ${object.metadata?.name}`, () =>
      api.delete(ref, undefined, undefined, 0).catch((error: { code?: number }) => {
        if (error.code !== 404) throw error;
      }),
    );
  }
  return created;
}

export interface TestController extends PierProcess {
  /** The Lease holder identity this process uses (`<hostname>-<pid>`). */
  readonly identity: string;
  /** HTTP status and body of /healthz. */
  healthz(): Promise<HttpAnswer>;
  /** GET through the proxy's HTTP port. */
  get(host: string, path?: string, headers?: Record<string, string>): Promise<HttpAnswer>;
}

export interface ControllerClass {
  /** The IngressClass's name, which Ingresses name in spec.ingressClassName. */
  readonly ingressClass: string;
  /** Its spec.controller, which the controller gets as --controller-class. */
  readonly controllerClass: string;
}

/** An IngressClass of the test's own (`pier-test-<namespace>`, controller `pier.dev/test-<namespace>`). */
export async function createTestIngressClass(admin: KubeConfig, namespace: string, cleanup: Cleanup, suffix = ''): Promise<ControllerClass> {
  const ingressClass = `pier-test-${namespace}${suffix}`;
  const controllerClass = `pier.dev/test-${namespace}${suffix}`;
  await createObject(admin, { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: ingressClass }, spec: { controller: controllerClass } } as KubernetesObject, cleanup);
  return { ingressClass, controllerClass };
}

/** Wraps a started pier process with the helpers the cluster suites use. */
export function asTestController(pier: PierProcess): TestController {
  return Object.assign(pier, {
    identity: `${hostname()}-${pier.child.pid}`,
    healthz: () => httpGet(pier.ports.healthz, 'localhost', '/healthz'),
    get: (host: string, path = '/', headers: Record<string, string> = {}) => httpGet(pier.ports.http, host, path, headers),
  });
}

/**
 * Starts `pier controller` as the ServiceAccount of `access`, with POD_NAMESPACE set to its
 * namespace, serving `classes`. `args` adds flags (--publish-status-address, --publish-service).
 * Cleanup kills it if the test hasn't stopped it.
 */
export async function startController(access: ControllerAccess, classes: ControllerClass, args: string[], cleanup: Cleanup): Promise<TestController> {
  const pier = await startPier(
    [
      'controller',
      `--kubeconfig=${access.kubeconfigPath}`,
      `--controller-class=${classes.controllerClass}`,
      `--ingress-class=${classes.ingressClass}`,
      `--election-id=${access.electionId}`,
      ...args,
    ],
    { env: { POD_NAMESPACE: access.namespace } },
  );
  cleanup.add(`stop pier pid ${pier.child.pid}`, () => killProcess(pier));
  return asTestController(pier);
}

/** SIGKILL, unless it has exited already; resolves once it has. */
export async function killProcess(pier: PierProcess): Promise<void> {
  if (pier.child.exitCode !== null || pier.child.signalCode !== null) return;
  const exited = new Promise((resolve) => pier.child.once('exit', resolve));
  pier.child.kill('SIGKILL');
  await exited;
}

/** Lines of the process's log that report a missing RBAC permission. */
export function missingPermissionLines(log: string): string[] {
  return log.split('\n').filter((line) => line.includes('missing RBAC permission'));
}

/** The holder of Lease `name` in `namespace` ('' when released, undefined when there is none). */
export async function leaseHolder(admin: KubeConfig, namespace: string, name: string): Promise<string | undefined> {
  try {
    const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace });
    return lease.spec?.holderIdentity ?? '';
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

/** A token for an existing ServiceAccount (the chart's, say), as a kubeconfig file in `dir`. */
export async function tokenKubeConfigFile(admin: KubeConfig, namespace: string, name: string, dir: string): Promise<string> {
  return writeKubeConfigFile(await tokenKubeConfig(admin, namespace, name), join(dir, `${namespace}-${name}.kubeconfig`));
}

/**
 * A Node object (no kubelet behind it) with the given addresses, as the status of a real one would
 * list them; cleanup deletes it. Node status is set through its subresource, as a kubelet does.
 */
export async function createNode(admin: KubeConfig, name: string, addresses: { type: 'InternalIP' | 'ExternalIP' | 'Hostname'; address: string }[], cleanup: Cleanup): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  await createObject(admin, { apiVersion: 'v1', kind: 'Node', metadata: { name } } as KubernetesObject, cleanup);
  const node = await core.readNode({ name });
  node.status = { ...node.status, addresses };
  await core.replaceNodeStatus({ name, body: node });
}

/**
 * A Pod bound to `nodeName` (creating it with spec.nodeName set needs no scheduler; nothing runs
 * it). Deleted at once by cleanup (grace period 0: there is no kubelet to confirm a graceful one).
 */
export async function createPodOnNode(
  admin: KubeConfig,
  namespace: string,
  name: string,
  nodeName: string,
  labels: Record<string, string>,
  cleanup: Cleanup,
  spec: Record<string, unknown> = { containers: [{ name: 'controller', image: 'ghcr.io/pier-dev/pier:0.1.0' }] },
): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace, body: { metadata: { name, namespace, labels }, spec: { ...spec, nodeName } as never } });
  cleanup.add(`delete Pod ${namespace}/${name}`, () =>
    core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    }),
  );
}

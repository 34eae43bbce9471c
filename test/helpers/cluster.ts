// Test helpers for the real control plane that test/cluster/cluster.sh runs (etcd + kube-apiserver,
// RBAC on, no controller-manager). Every function takes what it needs as arguments: no module state.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, Health, KubeConfig } from '@kubernetes/client-node';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const clusterScript = fileURLToPath(new URL('../cluster/cluster.sh', import.meta.url));
const defaultKubeconfigPath = fileURLToPath(new URL('../../.cluster/kubeconfig', import.meta.url));

export interface ControlPlane {
  /** Admin (system:masters) credentials. */
  admin: KubeConfig;
  /** Where `admin` was loaded from; hand it to child processes. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** CA that signed the apiserver's serving cert. */
  caPath: string;
}

function loadKubeConfig(path: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

async function isReady(kubeConfig: KubeConfig): Promise<boolean> {
  try {
    return await new Health(kubeConfig).readyz({ signal: AbortSignal.timeout(5_000) });
  } catch {
    return false; // connection refused: a stale kubeconfig from a control plane that is gone
  }
}

/**
 * Reuses the running control plane (PIER_TEST_KUBECONFIG, set by test/run.mjs, or .cluster/kubeconfig)
 * or starts one with `cluster.sh up`, which builds the binaries on first use. A control plane
 * started here is left running: `npm test` (test/run.mjs) or `npm run cluster -- down` stops it.
 */
export async function ensureControlPlane(): Promise<ControlPlane> {
  const kubeconfigPath = process.env.PIER_TEST_KUBECONFIG ?? defaultKubeconfigPath;
  let admin = existsSync(kubeconfigPath) ? loadKubeConfig(kubeconfigPath) : undefined;
  if (admin === undefined || !(await isReady(admin))) {
    if (kubeconfigPath !== defaultKubeconfigPath) {
      throw new Error(`PIER_TEST_KUBECONFIG=${kubeconfigPath} does not reach a ready API server`);
    }
    // cluster.sh prints progress and errors on stderr; surface them if it fails.
    await promisify(execFile)('bash', [clusterScript, 'up'], { cwd: repoRoot, maxBuffer: 16 << 20 }).catch(
      (error: { stderr?: string; message: string }) => {
        throw new Error(`cluster.sh up failed:\n${error.stderr ?? error.message}`);
      },
    );
    admin = loadKubeConfig(kubeconfigPath);
  }
  const cluster = admin.getCurrentCluster();
  if (!cluster?.caFile) throw new Error(`${kubeconfigPath} has no current cluster with a certificate-authority file`);
  return { admin, kubeconfigPath, server: cluster.server, caPath: cluster.caFile };
}

/**
 * Creates a namespace named `<prefix>-<random>`. Nothing deletes it: without a controller-manager a
 * deleted namespace stays Terminating forever, so each test gets its own instead of cleaning up.
 */
export async function freshNamespace(admin: KubeConfig, prefix: string): Promise<string> {
  const label = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  const name = `${label}-${randomBytes(4).toString('hex')}`;
  await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/**
 * Creates ServiceAccount `name` in `namespace` (no controller-manager, so not even `default` exists),
 * mints a token for it with TokenRequest, and returns a KubeConfig that authenticates as
 * system:serviceaccount:<namespace>:<name>, so RBAC applies exactly as it would to the deployed controller.
 */
export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<KubeConfig> {
  await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  return tokenKubeConfig(admin, namespace, name, expirationSeconds);
}

/** A KubeConfig for an existing ServiceAccount (the chart's, say), with a token minted by TokenRequest. */
export async function tokenKubeConfig(admin: KubeConfig, namespace: string, name: string, expirationSeconds = 3600): Promise<KubeConfig> {
  const tokenRequest = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = tokenRequest.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);

  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin KubeConfig has no current cluster');
  const user = `system:serviceaccount:${namespace}:${name}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ ...cluster, name: 'pier-test' }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: 'pier-test', user }],
    currentContext: user,
  });
  return kubeConfig;
}

/** Writes `kubeConfig` as a kubeconfig file (mode 0600: it may hold a token), e.g. for `pier controller --kubeconfig FILE`. */
export async function writeKubeConfigFile(kubeConfig: KubeConfig, path: string): Promise<string> {
  // exportConfig() emits JSON, which is valid kubeconfig YAML.
  await writeFile(path, kubeConfig.exportConfig(), { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode only applies when it creates the file
  return path;
}

// The API client: which kubeconfig, and which namespace the controller lives in.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KubeConfig, type Cluster } from '@kubernetes/client-node';

const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** --kubeconfig when given; else client-node's default order: KUBECONFIG, ~/.kube/config, in-cluster. */
export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no cluster in the kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  reuseDispatchers(kc);
  return kc;
}

type DispatcherFactory = (cluster: Cluster | null, agentOptions: Record<string, unknown>) => unknown;

/**
 * client-node (2.0.1) makes a new undici Agent for every request (applySecurityAuthentication calls
 * createDispatcher each time), so no connection is ever reused and every API call pays a TLS
 * handshake on both ends: publishing status on 10,000 Ingresses was 10,000 handshakes. This keeps
 * one Agent per set of connection options (the same unless a client certificate is rotated), so
 * requests share its keep-alive connections. The method is private in client-node's types, hence
 * the cast.
 */
function reuseDispatchers(kc: KubeConfig): void {
  const target = kc as unknown as { createDispatcher: DispatcherFactory };
  const create = target.createDispatcher.bind(kc);
  let last: { readonly key: string; readonly dispatcher: unknown } | null = null;
  target.createDispatcher = (cluster, agentOptions) => {
    const hash = createHash('sha256').update(JSON.stringify([cluster?.server, cluster?.proxyUrl, cluster?.skipTLSVerify]));
    for (const name of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername']) {
      const value = agentOptions[name];
      hash.update(`\n${name}:`);
      if (Buffer.isBuffer(value) || typeof value === 'string') hash.update(value);
      else hash.update(JSON.stringify(value ?? null));
    }
    const key = hash.digest('hex');
    if (last?.key !== key) last = { key, dispatcher: create(cluster, agentOptions) };
    return last.dispatcher;
  };
}

/** POD_NAMESPACE (the downward API), else the in-cluster namespace file, else the kubeconfig context's, else default. */
export function controllerNamespace(kc: KubeConfig, env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  }
}

/** POD_NAME when running in a Pod; else a name that is unique on this machine. */
export function controllerIdentity(env: NodeJS.ProcessEnv, hostname: string, pid: number): string {
  return env.POD_NAME ?? `${hostname}-${pid}`;
}

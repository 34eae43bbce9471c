// The API client: which kubeconfig, and which namespace the controller lives in.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** --kubeconfig when given; else client-node's default order: KUBECONFIG, ~/.kube/config, in-cluster. */
export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no cluster in the kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  return kc;
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

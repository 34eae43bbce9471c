// `pier audit`: the audit (audit.ts) of the Ingresses in --manifests DIR, or in the cluster
// --kubeconfig (or the in-cluster config) reaches, printed as a table or (--output json) as
// {"ingresses":[{"namespace","name","class","annotations":[{"key","status","message"}],"findings":[...]}]}.
// Exit 0, or 1 with --strict when an annotation is invalid, unsupported, refused or unknown.
import { resolve } from 'node:path';
import type { Config } from './config.ts';
import type { Logger } from '../proxy/log.ts';
import { ManifestSource } from './sources/manifests.ts';
import { ClusterSource, configMapsNamed } from './sources/cluster.ts';
import { Store, type Snapshot } from './store.ts';
import { loadKubeConfig } from './kube/client.ts';
import { routeOptionsFrom } from './runtime.ts';
import { auditIngresses, failsStrict, formatAudit } from './audit.ts';

/** How long a cluster gets to list everything once. */
const LIST_TIMEOUT_MS = 60_000;

async function manifestSnapshot(dir: string, err: (text: string) => void): Promise<Snapshot> {
  const manifests = await new ManifestSource(resolve(dir)).loadAll();
  for (const problem of manifests.problems) err(`pier audit: ${problem.message}\n`);
  return Store.fromObjects(manifests.objects).snapshot();
}

/** Every Ingress, Service, EndpointSlice, Secret and ConfigMap the kubeconfig may list, listed once. */
async function clusterSnapshot(config: Config, log: Logger): Promise<Snapshot> {
  const store = new Store();
  let rejectWith: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    rejectWith = reject;
  });
  const source = new ClusterSource(
    loadKubeConfig(config.flags.kubeconfig),
    store,
    { watchNamespace: config.flags['watch-namespace'], configMaps: configMapsNamed(config.flags), allConfigMaps: true },
    { onChange: () => undefined, onPermission: (_kind, problem) => problem !== null && rejectWith(new Error(problem)) },
    log,
  );
  const timer = setTimeout(() => rejectWith(new Error(`the cluster didn't answer the lists within ${LIST_TIMEOUT_MS / 1000} s`)), LIST_TIMEOUT_MS);
  try {
    await Promise.race([source.start(), failed]);
    return store.snapshot();
  } finally {
    clearTimeout(timer);
    await source.stop();
  }
}

export async function runAudit(config: Config, log: Logger, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  let snapshot: Snapshot;
  try {
    snapshot = config.flags.manifests ? await manifestSnapshot(config.flags.manifests, err) : await clusterSnapshot(config, log);
  } catch (error) {
    err(`pier audit: ${(error as Error).message}\n`);
    return 1;
  }
  // Read as `pier controller --enable-auth-proxy-set-headers` would: every ConfigMap is at hand.
  const report = auditIngresses(snapshot, { ...routeOptionsFrom(config.flags), now: Date.now(), configMapsReadable: true, endpointsKnown: config.flags.manifests === undefined });
  out(config.flags.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatAudit(report));
  return config.flags.strict && failsStrict(report) ? 1 : 0;
}

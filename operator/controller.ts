// `pier controller`: cluster mode. Informers feed the store; every change (coalesced) recomputes
// the routes and swaps them into the proxy on every replica; the leader alone writes status and
// records Events. A missing permission fails /healthz and names what is missing.
import { hostname } from 'node:os';
import { CoordinationV1Api, CoreV1Api, NetworkingV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Config } from './config.ts';
import type { Logger } from '../proxy/log.ts';
import { coalesce } from './coalesce.ts';
import { Store, type Snapshot } from './store.ts';
import { Runtime, untilSignal } from './runtime.ts';
import { ClusterSource, configMapsNamed } from './sources/cluster.ts';
import { StatusWriter, type StatusCandidates } from './status.ts';
import { EventRecorder } from './events.ts';
import { DEFAULT_LEASE_TIMING, LeaderElector } from './leader.ts';
import { PublishedAddresses } from './kube/published-addresses.ts';
import { controllerIdentity, controllerNamespace, loadKubeConfig } from './kube/client.ts';
import type { LoadBalancerIngress } from './model.ts';
import type { RouteComputation } from './routes/types.ts';
import { apiMessageOf } from './kube/api-errors.ts';

/** A burst of changes is applied after its last event, by at least this... */
const MIN_HOLD_OFF_MS = 5;
/** ...and at most this (the hold-off follows what the last computation cost)... */
const HOLD_OFF_MS = 100;
/** ...and never later than this after its first, so 1,000 changes cost one recomputation. */
const MAX_DELAY_MS = 1_000;
/** Causes that change Ingress status only: they are joined into the last routes, not computed again. */
const STATUS_ONLY_CAUSES: ReadonlySet<string> = new Set(['published addresses', 'leadership']);
/** Causes that move endpoints only: the proxy gets the new endpoints, not a new table. */
const ENDPOINT_CAUSES: ReadonlySet<string> = new Set(['EndpointSlice']);

/** Runs leader work one at a time; a request made meanwhile runs next with the newest input. */
function serialized<T>(work: (input: T) => Promise<void>): (input: T) => void {
  let running = false;
  let pending: { input: T } | null = null;
  const run = async (input: T): Promise<void> => {
    running = true;
    try {
      await work(input);
    } finally {
      running = false;
      const next = pending;
      pending = null;
      if (next) void run(next.input);
    }
  };
  return (input) => {
    if (running) pending = { input };
    else void run(input);
  };
}

type SetProblem = (where: string, problem: string | null) => void;

/** Records problems by where they are (a watch, the Lease...); /healthz fails while any remains. */
function problemTracker(runtime: Runtime): SetProblem {
  const problems = new Map<string, string>();
  return (where, problem) => {
    if (problem === null) problems.delete(where);
    else problems.set(where, problem);
    runtime.setUnhealthy(problems.size > 0 ? [...problems.values()].join('\n') : null);
  };
}

interface LeaderInput {
  readonly result: RouteComputation;
  readonly snapshot: Snapshot;
  /** What to publish in the status of every Ingress Pier serves. */
  readonly addresses: readonly LoadBalancerIngress[];
  /** The Ingresses whose status may need a write, taken when the run starts (it may run later, with a newer input). */
  readonly takeCandidates: () => StatusCandidates;
}

/** What only the leader does with a computation: write Ingress status and record warnings as Events, one run at a time. */
function leaderWorkFor(kc: KubeConfig, identity: string, setProblem: SetProblem, log: Logger): (input: LeaderInput) => void {
  const statusWriter = new StatusWriter(kc.makeApiClient(NetworkingV1Api), log);
  const events = new EventRecorder(kc.makeApiClient(CoreV1Api), identity, log);
  return serialized(async ({ result, snapshot, addresses, takeCandidates }) => {
    try {
      const status = await statusWriter.sync(result, snapshot, addresses, takeCandidates());
      setProblem('status', status.permissionProblem);
      setProblem('events', await events.sync(result.warnings, snapshot));
    } catch (error) {
      log.error(`leader work failed: ${apiMessageOf(error)}`);
    }
  });
}

export async function runController(config: Config, log: Logger): Promise<number> {
  const flags = config.flags;
  let kc;
  try {
    kc = loadKubeConfig(flags.kubeconfig);
  } catch (error) {
    log.error(`cannot load a kubeconfig: ${(error as Error).message}`);
    return 1;
  }
  const namespace = controllerNamespace(kc, process.env);
  const identity = controllerIdentity(process.env, hostname(), process.pid);
  /**
   * What changed since the last computation: store kinds, or another cause. When it was only
   * EndpointSlices, the proxy gets just the new endpoints instead of a whole table to compile.
   */
  const changed = new Set<string>();
  const changedOnly = (causes: ReadonlySet<string>): boolean => changed.size > 0 && [...changed].every((cause) => causes.has(cause));
  const recompute = (because: string): void => {
    changed.add(because);
    reconcile.trigger();
  };
  const runtime = new Runtime(config, log, () => recompute('certificate validity'));
  const store = new Store();

  const setProblem = problemTracker(runtime);
  const leaderWork = leaderWorkFor(kc, identity, setProblem, log);

  const ownPod = process.env.POD_NAME ? { namespace, name: process.env.POD_NAME } : undefined;
  const addresses = new PublishedAddresses(flags, ownPod, kc.makeApiClient(CoreV1Api), { onChange: () => recompute('published addresses'), onPermission: (problem) => setProblem('addresses', problem) }, log);
  let leader: LeaderElector | null = null;
  let source: ClusterSource | null = null;
  /** The last routes computed and their snapshot, for changes that only touch Ingress status. */
  let last: { readonly result: RouteComputation; readonly snapshot: Snapshot } | null = null;
  /**
   * The Ingresses whose status may need a write since the leader's last look: those that changed,
   * or all of them (on becoming leader, or when IngressClasses changed who is ours).
   */
  let statusCandidates: 'all' | Set<string> = 'all';
  const noteChanges = (snapshot: Snapshot): void => {
    const keys = snapshot.changes?.keys;
    if (!leader?.isLeader || !keys || keys.IngressClass.size > 0) statusCandidates = 'all';
    else if (statusCandidates !== 'all') for (const key of keys.Ingress) statusCandidates.add(key);
  };
  const takeCandidates = (): StatusCandidates => {
    const taken = statusCandidates;
    statusCandidates = new Set();
    return taken;
  };
  const reconcile = coalesce(
    () => {
      if (!source?.synced) return;
      const onlyEndpoints = changedOnly(ENDPOINT_CAUSES);
      const onlyStatus = changedOnly(STATUS_ONLY_CAUSES);
      const newLeader = changed.has('leadership');
      changed.clear();
      if (onlyStatus && last) {
        // New addresses or a new leader change what status says, not what the proxy serves. The
        // store has nothing new (every write to it is a cause of its own), so the last snapshot
        // serves: a new one would carry its changes past the incremental computation.
        if (newLeader) statusCandidates = 'all';
        if (leader?.isLeader) leaderWork({ result: last.result, snapshot: last.snapshot, addresses: addresses.current(last.snapshot), takeCandidates });
        return;
      }
      const snapshot = store.snapshot();
      noteChanges(snapshot);
      if (newLeader) statusCandidates = 'all';
      const result = runtime.apply(snapshot, onlyEndpoints);
      last = { result, snapshot };
      if (leader?.isLeader) leaderWork({ result, snapshot, addresses: addresses.current(snapshot), takeCandidates });
    },
    HOLD_OFF_MS,
    MAX_DELAY_MS,
    MIN_HOLD_OFF_MS,
  );
  source = new ClusterSource(
    kc,
    store,
    { watchNamespace: flags['watch-namespace'], configMaps: configMapsNamed(flags), allConfigMaps: flags['enable-auth-proxy-set-headers'] },
    { onChange: (kind) => recompute(kind), onPermission: (kind, problem) => setProblem(`watch ${kind}`, problem) },
    log,
  );
  leader = new LeaderElector(
    kc.makeApiClient(CoordinationV1Api),
    { namespace, name: flags['election-id'], identity },
    DEFAULT_LEASE_TIMING,
    { onStartedLeading: () => recompute('leadership'), onStoppedLeading: () => undefined, onPermission: (problem) => setProblem('lease', problem) },
    log,
  );

  if (!(await runtime.startOrReport())) return 1;
  log.info('starting', { cluster: kc.getCurrentCluster()?.server, namespace, identity, watchNamespace: flags['watch-namespace'] ?? 'all' });
  const synced = source.start().then(() => {
    log.info('caches synced');
    recompute('caches synced');
  });
  leader.start();

  const signal = await untilSignal();
  log.info('shutting down', { signal });
  reconcile.cancel();
  addresses.stop();
  void synced;
  // Readiness fails and the listeners close first; the Lease is released while requests drain.
  await Promise.all([runtime.stop(), leader.stop()]);
  await source.stop();
  return 0;
}

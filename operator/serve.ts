// `pier serve --manifests DIR`: routes from manifest files, watched and applied live.
import { resolve } from 'node:path';
import { watch } from 'chokidar';
import type { Config } from './config.ts';
import { coalesce } from './coalesce.ts';
import type { Logger } from '../proxy/log.ts';
import { isManifestFile, ManifestSource, splitIdentity, type ManifestSnapshot } from './sources/manifests.ts';
import type { Kind } from './model.ts';
import { Store } from './store.ts';
import { Runtime, untilSignal } from './runtime.ts';

/** Changes that follow a run wait this long after their last event at least (a lone change runs at once)... */
const MIN_HOLD_OFF_MS = 5;
/** ...and at most this, when the last computation was as costly... */
const HOLD_OFF_MS = 50;
/** ...but apply within this long of the first, however long the burst goes on. */
const MAX_DELAY_MS = 500;
/**
 * A file counts as written once its size held for this long (chokidar polls it every
 * WRITE_POLL_MS): editors and tools write a manifest in one go or by rename, and a file read half
 * written fails to parse and keeps its previous objects anyway.
 */
const WRITE_STABLE_MS = 15;
const WRITE_POLL_MS = 5;

function reportProblems(snapshot: ManifestSnapshot, reported: Set<string>, log: Logger): Set<string> {
  const current = new Set<string>();
  for (const problem of snapshot.problems) {
    current.add(problem.message);
    if (!reported.has(problem.message)) log.error(problem.message);
  }
  return current;
}

export async function serve(config: Config, log: Logger): Promise<number> {
  const dir = resolve(config.flags.manifests as string);
  const source = new ManifestSource(dir);
  let current: ManifestSnapshot | null = null;
  // Both sources of change feed one coalesced loop: files that changed, and the certificate clock
  // (a certificate that expires or becomes valid changes the routes with no file changing).
  const changedFiles = new Set<string>();
  const runtime = new Runtime(config, log, () => reconcile.trigger());
  let reportedProblems = new Set<string>();
  // One store for the life of the process: it tells the computation which objects changed.
  const store = new Store();

  const apply = (snapshot: ManifestSnapshot): void => {
    current = snapshot;
    reportedProblems = reportProblems(snapshot, reportedProblems, log);
    for (const [id, object] of snapshot.changed) {
      if (object) store.set(object);
      else {
        const { kind, key } = splitIdentity(id);
        store.delete(kind as Kind, key);
      }
    }
    runtime.apply(store.snapshot());
    if (snapshot.failedFiles > 0) runtime.recordChange(false);
  };

  // Reloads run one after another, so an older read of a file never lands after a newer one.
  let reloading: Promise<void> = Promise.resolve();
  const reconcile = coalesce(
    () => {
      const paths = [...changedFiles];
      changedFiles.clear();
      // Only the clock: the same objects, computed again at the new time.
      if (paths.length === 0) {
        if (current) runtime.apply(store.snapshot());
        return;
      }
      reloading = reloading.then(() => source.reload(paths)).then(apply, (error: Error) => log.error(`reloading manifests failed: ${error.message}`));
    },
    HOLD_OFF_MS,
    MAX_DELAY_MS,
    MIN_HOLD_OFF_MS,
  );

  try {
    apply(await source.loadAll());
  } catch (error) {
    log.error(`cannot read manifests in ${dir}: ${(error as Error).message}`);
    return 1;
  }

  if (!(await runtime.startOrReport())) return 1;

  const watcher = watch(dir, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: WRITE_STABLE_MS, pollInterval: WRITE_POLL_MS } });
  watcher.on('all', (_event, path) => {
    // Only manifests: a log written into the directory would otherwise recompute the routes on every line it logs.
    if (!isManifestFile(path)) return;
    changedFiles.add(path);
    reconcile.trigger();
  });
  watcher.on('error', (error) => log.error(`watching ${dir} failed: ${(error as Error).message}`));
  log.info('watching manifests', { dir });

  const signal = await untilSignal();
  log.info('shutting down', { signal });
  reconcile.cancel();
  await watcher.close();
  await runtime.stop();
  return 0;
}

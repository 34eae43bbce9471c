// `pier serve --manifests DIR`: routes from manifest files, watched and applied live.
import { resolve } from 'node:path';
import { watch } from 'chokidar';
import type { Config } from './config.ts';
import { coalesce } from './coalesce.ts';
import type { Logger } from '../proxy/log.ts';
import { isManifestFile, ManifestSource, type ManifestSnapshot } from './sources/manifests.ts';
import { Store } from './store.ts';
import { Runtime, untilSignal } from './runtime.ts';

/** Editors save in bursts (write, rename, chmod): wait this long after the last event... */
const HOLD_OFF_MS = 50;
/** ...but apply within this long of the first, however long the burst goes on. */
const MAX_DELAY_MS = 500;

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
    store.replaceAll(snapshot.objects);
    runtime.apply(store.snapshot());
    if (snapshot.failedFiles > 0) runtime.recordChange(false);
  };

  const reconcile = coalesce(
    () => {
      const paths = [...changedFiles];
      changedFiles.clear();
      // Only the clock: the same objects, computed again at the new time.
      if (paths.length === 0) {
        if (current) runtime.apply(store.snapshot());
        return;
      }
      source.reload(paths).then(apply, (error: Error) => log.error(`reloading manifests failed: ${error.message}`));
    },
    HOLD_OFF_MS,
    MAX_DELAY_MS,
  );

  try {
    apply(await source.loadAll());
  } catch (error) {
    log.error(`cannot read manifests in ${dir}: ${(error as Error).message}`);
    return 1;
  }

  if (!(await runtime.startOrReport())) return 1;

  const watcher = watch(dir, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 30, pollInterval: 10 } });
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

// A real CPU-limited cgroup for a test to start a process in (root only; this machine mounts the
// cgroup v1 `cpu` controller, a cgroup v2 host needs `cpu` in the parent's subtree_control).
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuHierarchy } from '../../operator/cpu-limit.ts';

const PERIOD_US = 100_000;

export interface LimitedCgroup {
  readonly dir: string;
  /** Removes the cgroup once the processes started in it have exited. */
  remove(): void;
}

/** A new child of this process's cgroup whose CPU quota is `cpus` CPUs. */
export function cpuLimitedCgroup(cpus: number, name: string): LimitedCgroup {
  const hierarchy = cpuHierarchy(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
  if (!hierarchy) throw new Error('no cgroup hierarchy with the CPU controller is mounted here');
  const own = hierarchy.path.startsWith(hierarchy.mountRoot) ? hierarchy.path.slice(hierarchy.mountRoot.length) : hierarchy.path;
  const dir = join(hierarchy.mountPoint, own, `${name}-${process.pid}`);
  mkdirSync(dir);
  const quota = String(Math.round(cpus * PERIOD_US));
  try {
    if (hierarchy.version === 1) {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), quota);
    } else {
      writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    }
  } catch (error) {
    rmdirSync(dir);
    throw new Error(`cannot set a CPU quota on ${dir} (needs root and the cpu controller): ${(error as Error).message}`);
  }
  return { dir, remove: () => rmdirSync(dir) };
}

// How many CPUs this process may use, from its cgroup's CPU quota: what a container's CPU limit
// becomes on the node. os.availableParallelism() counts the node's CPUs and ignores the quota, so
// on a 16-core node a pod limited to one CPU would start 16 proxy workers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The CPUs a cgroup v2 `cpu.max` allows ("150000 100000" is 1.5), or null for "max" or unreadable text. */
export function cpusFromCpuMax(text: string): number | null {
  const [quota, period = '100000'] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  return cpusFromQuota(Number(quota), Number(period));
}

/** The CPUs a quota and period allow (cgroup v1 `cpu.cfs_quota_us` is -1 without a limit). */
export function cpusFromQuota(quota: number, period: number): number | null {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return null;
  return quota / period;
}

/** A cgroup hierarchy this process is in, as /proc/self/mountinfo and /proc/self/cgroup describe it. */
interface CpuHierarchy {
  readonly version: 1 | 2;
  /** Where it is mounted, and the cgroup path that mount shows at its root. */
  readonly mountPoint: string;
  readonly mountRoot: string;
  /** This process's cgroup path within the hierarchy. */
  readonly path: string;
}

/** The cgroup hierarchy that holds the CPU controller (v1 `cpu`, else the v2 unified one), from the two /proc files. */
export function cpuHierarchy(mountinfo: string, procSelfCgroup: string): CpuHierarchy | null {
  const cgroups = procSelfCgroup.split('\n').filter(Boolean).map((line) => {
    const [id = '', controllers = '', ...path] = line.split(':');
    return { id, controllers: controllers.split(','), path: path.join(':') };
  });
  const mounts = mountinfo.split('\n').filter(Boolean).map((line) => {
    const [before = '', after = ''] = line.split(' - ');
    const fields = before.split(' ');
    const [fsType = '', , superOptions = ''] = after.split(' ');
    return { root: unescapeMountPath(fields[3] ?? ''), mountPoint: unescapeMountPath(fields[4] ?? ''), fsType, superOptions: superOptions.split(',') };
  });
  const v1 = cgroups.find((cgroup) => cgroup.controllers.includes('cpu'));
  const v1Mount = mounts.find((mount) => mount.fsType === 'cgroup' && mount.superOptions.includes('cpu'));
  if (v1 && v1Mount) return { version: 1, mountPoint: v1Mount.mountPoint, mountRoot: v1Mount.root, path: v1.path };
  const v2 = cgroups.find((cgroup) => cgroup.id === '0' && cgroup.controllers.join('') === '');
  const v2Mount = mounts.find((mount) => mount.fsType === 'cgroup2');
  if (v2 && v2Mount) return { version: 2, mountPoint: v2Mount.mountPoint, mountRoot: v2Mount.root, path: v2.path };
  return null;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The smallest CPU limit on this process's cgroup or any of its ancestors within the mount (a
 * pod's limit sits on the pod's cgroup, a container's on its own), or null when there is none.
 * `read` returns a file's text, or null when it can't be read.
 */
export function cgroupCpuLimit(hierarchy: CpuHierarchy, read: (path: string) => string | null): number | null {
  const relative = hierarchy.path.startsWith(hierarchy.mountRoot) ? hierarchy.path.slice(hierarchy.mountRoot.length) : hierarchy.path;
  const segments = relative.split('/').filter(Boolean);
  let smallest: number | null = null;
  for (let depth = segments.length; depth >= 0; depth--) {
    const dir = join(hierarchy.mountPoint, ...segments.slice(0, depth));
    const cpus =
      hierarchy.version === 2
        ? cpusFromCpuMax(read(join(dir, 'cpu.max')) ?? 'max')
        : cpusFromQuota(Number(read(join(dir, 'cpu.cfs_quota_us')) ?? -1), Number(read(join(dir, 'cpu.cfs_period_us')) ?? 0));
    if (cpus !== null && (smallest === null || cpus < smallest)) smallest = cpus;
  }
  return smallest;
}

/** One worker per CPU the quota allows (1.5 CPUs: 2), never more than the machine has, at least one. */
export function workersFor(cpuLimit: number | null, machineCpus: number): number {
  if (cpuLimit === null) return Math.max(1, machineCpus);
  return Math.max(1, Math.min(machineCpus, Math.ceil(cpuLimit)));
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** This process's CPU limit from its cgroup, or null (no limit, or not Linux). */
export function readCgroupCpuLimit(): number | null {
  const mountinfo = readOrNull('/proc/self/mountinfo');
  const cgroup = readOrNull('/proc/self/cgroup');
  if (mountinfo === null || cgroup === null) return null;
  const hierarchy = cpuHierarchy(mountinfo, cgroup);
  return hierarchy ? cgroupCpuLimit(hierarchy, readOrNull) : null;
}

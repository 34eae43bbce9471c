// The default worker count from the cgroup CPU quota. File shapes as the kernel writes them
// (Documentation/admin-guide/cgroup-v2.rst "cpu.max"; cgroup v1 CFS bandwidth, sched-bwc.rst;
// proc(5) for /proc/self/cgroup and mountinfo), as seen in a Kubernetes pod and on this machine.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupCpuLimit, cpuHierarchy, cpusFromCpuMax, workersFor } from '../../operator/cpu-limit.ts';

describe('cpu.max', () => {
  const cases: { name: string; text: string; cpus: number | null }[] = [
    { name: 'The kernel default "max 100000" is no limit', text: 'max 100000\n', cpus: null },
    { name: 'A 1.5-CPU limit (Kubernetes limits.cpu: 1500m) is 150000 per 100000', text: '150000 100000\n', cpus: 1.5 },
    { name: 'A 100m limit is 10000 per 100000', text: '10000 100000\n', cpus: 0.1 },
    { name: 'The period may be other than 100 ms', text: '50000 50000', cpus: 1 },
    { name: 'A quota alone uses the default period', text: '200000', cpus: 2 },
    { name: 'Unreadable text is no limit', text: 'garbage', cpus: null },
  ];
  for (const testCase of cases) it(testCase.name, () => assert.equal(cpusFromCpuMax(testCase.text), testCase.cpus));
});

describe('the default number of proxy workers', () => {
  const cases: { name: string; limit: number | null; machine: number; workers: number }[] = [
    { name: 'Without a limit, one per CPU of the machine', limit: null, machine: 16, workers: 16 },
    { name: 'A 100m limit on a 16-CPU node is one process, not sixteen', limit: 0.1, machine: 16, workers: 1 },
    { name: 'A 1.5-CPU limit rounds up to two', limit: 1.5, machine: 16, workers: 2 },
    { name: 'A limit above the machine\'s CPUs is capped by them', limit: 8, machine: 2, workers: 2 },
  ];
  for (const testCase of cases) it(testCase.name, () => assert.equal(workersFor(testCase.limit, testCase.machine), testCase.workers));
});

describe('the cgroup that limits this process', () => {
  // A container under cgroup v2 sees its own cgroup as / (cgroup namespace), mounted at /sys/fs/cgroup.
  const podV2 = {
    mountinfo: [
      '1422 1403 0:25 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/containerd/a',
      '1431 1422 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot',
    ].join('\n'),
    cgroup: '0::/\n',
  };
  // A hybrid host like this machine: v1 controllers, with `cpu` on its own mount, plus a unified v2 mount.
  const hybridV1 = {
    mountinfo: [
      '30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw',
      '31 25 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '32 25 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
      '33 25 0:29 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
    ].join('\n'),
    cgroup: '3:cpuset:/\n2:cpuacct:/\n1:cpu:/kubepods/pod1/ctr\n0::/\n',
  };

  it('is the v2 unified hierarchy in a container, read at the mount point', () => {
    assert.deepEqual(cpuHierarchy(podV2.mountinfo, podV2.cgroup), { version: 2, mountPoint: '/sys/fs/cgroup', mountRoot: '/', path: '/' });
  });

  it('is the v1 `cpu` hierarchy where one is mounted, not cpuacct or cpuset', () => {
    assert.deepEqual(cpuHierarchy(hybridV1.mountinfo, hybridV1.cgroup), { version: 1, mountPoint: '/sys/fs/cgroup/cpu', mountRoot: '/', path: '/kubepods/pod1/ctr' });
  });

  it('is none without a cgroup mount', () => {
    assert.equal(cpuHierarchy('22 1 8:1 / / rw - ext4 /dev/sda1 rw', '0::/\n'), null);
  });

  it('limits with the smallest quota on the path: the container\'s, below its pod\'s', () => {
    const files = new Map([
      ['/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '-1'],
      ['/sys/fs/cgroup/cpu/cpu.cfs_period_us', '100000'],
      ['/sys/fs/cgroup/cpu/kubepods/pod1/cpu.cfs_quota_us', '300000'],
      ['/sys/fs/cgroup/cpu/kubepods/pod1/cpu.cfs_period_us', '100000'],
      ['/sys/fs/cgroup/cpu/kubepods/pod1/ctr/cpu.cfs_quota_us', '50000'],
      ['/sys/fs/cgroup/cpu/kubepods/pod1/ctr/cpu.cfs_period_us', '100000'],
    ]);
    const hierarchy = cpuHierarchy(hybridV1.mountinfo, hybridV1.cgroup)!;
    assert.equal(cgroupCpuLimit(hierarchy, (path) => files.get(path) ?? null), 0.5);
  });

  it('limits with a parent\'s quota when the container has none of its own', () => {
    const hierarchy = { version: 2 as const, mountPoint: '/sys/fs/cgroup', mountRoot: '/', path: '/kubepods.slice/pod1.slice/ctr.scope' };
    const files = new Map([
      ['/sys/fs/cgroup/kubepods.slice/pod1.slice/ctr.scope/cpu.max', 'max 100000'],
      ['/sys/fs/cgroup/kubepods.slice/pod1.slice/cpu.max', '200000 100000'],
    ]);
    assert.equal(cgroupCpuLimit(hierarchy, (path) => files.get(path) ?? null), 2);
  });

  it('is no limit in a container whose cpu.max says max', () => {
    const hierarchy = cpuHierarchy(podV2.mountinfo, podV2.cgroup)!;
    assert.equal(cgroupCpuLimit(hierarchy, (path) => (path === '/sys/fs/cgroup/cpu.max' ? 'max 100000\n' : null)), null);
  });
});

// Memory at N Ingresses: the resident set (RSS, from /proc/<pid>/status) of `pier serve`'s primary and
// of each proxy worker, once idle after loading N Ingresses (one host and path each), and again
// after a few changes to one of them, a few seconds apart.
// Usage: node bench/memory.ts [--ingresses 10000] [--workers 2] [--changes 5]
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { startPier } from '../test/standalone/pier-process.ts';

const { values } = parseArgs({ options: { ingresses: { type: 'string', default: '10000' }, workers: { type: 'string', default: '2' }, changes: { type: 'string', default: '5' } } });
const INGRESSES = Number(values.ingresses);
const WORKERS = Number(values.workers);
const CHANGES = Number(values.changes);
const SETTLE_MS = 10_000;
const CHANGE_INTERVAL_MS = 2_000;

const ingress = (index: number, path: string) => JSON.stringify({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: `app-${index}`, namespace: 'default' },
  spec: { ingressClassName: 'pier', rules: [{ host: `app-${index}.example.com`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
});

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
}

function childrenOf(pid: number): number[] {
  return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const dir = await mkdtemp(join(tmpdir(), 'pier-bench-memory-'));
try {
  await writeFile(join(dir, 'base.yaml'), [
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'pier' }, spec: { controller: 'pier.dev/ingress-controller' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ name: 'http', port: 9 }], endpoints: [{ addresses: ['127.0.0.1'] }] },
  ].map((object) => JSON.stringify(object)).join('\n---\n'));
  await writeFile(join(dir, 'others.yaml'), Array.from({ length: INGRESSES - 1 }, (_, i) => ingress(i + 1, '/v0')).join('\n---\n'));
  await writeFile(join(dir, 'app-0.yaml'), ingress(0, '/v0'));
  const pier = await startPier(['serve', '--manifests', dir, `--workers=${WORKERS}`]);
  try {
    const primary = pier.child.pid as number;
    const measure = async () => `primary ${await rssMiB(primary)} MiB, workers ${(await Promise.all(childrenOf(primary).map(rssMiB))).join(' and ')} MiB`;
    await sleep(SETTLE_MS);
    const idle = await measure();
    for (let change = 1; change <= CHANGES; change++) {
      await writeFile(join(dir, 'app-0.yaml'), ingress(0, `/m${change}`));
      await sleep(CHANGE_INTERVAL_MS);
    }
    const answer = await request(`http://127.0.0.1:${pier.ports.http}/m${CHANGES}`, { headers: { host: 'app-0.example.com' } });
    await answer.body.dump();
    // The backend port is closed: 502 says the change routed (404 would say it didn't).
    if (answer.statusCode === 404) throw new Error('the last change did not route');
    console.log(`Memory of pier serve --workers=${WORKERS} at ${INGRESSES} Ingresses (RSS): idle after loading, ${idle}; after ${CHANGES} changes ${CHANGE_INTERVAL_MS / 1000} s apart, ${await measure()}`);
  } finally {
    await pier.stop();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

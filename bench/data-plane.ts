// Data-plane benchmark: Pier against nginx (and the backend direct, and @fastify/reply-from),
// side by side in one run, in alternating rounds, as ratios. Writes its table into BENCHMARKS.md.
// Usage: node bench/data-plane.ts [--rounds 3] [--duration 5] [--workers 1,2] [--no-write]
//          [--baseline <git ref> [--baseline-node <node binary>]]
// --baseline adds Pier as of that commit (checked out into a temporary git worktree) as one more
// target in the same alternating rounds, so a change is measured before and after in one run.
// Installs nginx and wrk from Debian on first use (root). Everything runs on 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCommands, freePort, startNginx, type RunningNginx } from './lib/tools.ts';
import { cpuSeconds, rssMiB } from './lib/proc.ts';
import { INGRESS_CLASS_YAML, backendManifest } from '../test/helpers/manifests.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'baseline-node': { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION_S = Number(values.duration);
const WORKER_COUNTS = (values.workers ?? '1').split(',').map(Number);
const HOST = 'bench.local';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
const BASELINE_REF = values.baseline;
const BASELINE_NAME = BASELINE_REF ? `pier@${BASELINE_REF}` : '';
const BASELINE_NODE = values['baseline-node'] ?? process.execPath;
const SCENARIOS = [
  { body: 'small', path: '/small', label: '100 B', connections: 50 },
  { body: 'large', path: '/large', label: '16 KiB', connections: 50 },
  { body: 'small', path: '/small', label: '100 B', connections: 1 },
] as const;

interface Target {
  readonly name: string;
  readonly port: number;
  /** The proxy's process (whose tree is measured), or null for the backend direct. */
  readonly pid: number | null;
}

interface Sample {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerRequest: number | null;
  readonly rssMiB: number | null;
}

function waitForLine(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before "${text}"`)));
  });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (spawnSync('sh', ['-c', `ss -Hltn 'sport = :${port}' | grep -q .`]).status !== 0) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value);
  if (!match) return NaN;
  const number = Number(match[1]);
  return match[2] === 'us' ? number / 1000 : match[2] === 's' ? number * 1000 : number;
}

function runWrk(port: number, path: string, connections: number): { requestsPerSecond: number; requests: number; p50Ms: number; p99Ms: number } {
  const result = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${DURATION_S}s`, '--latency', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}${path}`], { encoding: 'utf8' });
  const out = result.stdout;
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (result.status !== 0 || errors) throw new Error(`wrk against ${port}${path} failed:\n${out}${result.stderr}`);
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
    p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
  };
}

function measure(target: Target, path: string, connections: number): Sample {
  const cpuBefore = target.pid ? cpuSeconds(target.pid) : 0;
  const wrk = runWrk(target.port, path, connections);
  const cpu = target.pid ? cpuSeconds(target.pid) - cpuBefore : null;
  return {
    requestsPerSecond: wrk.requestsPerSecond,
    p50Ms: wrk.p50Ms,
    p99Ms: wrk.p99Ms,
    cpuMicrosPerRequest: cpu === null ? null : (cpu * 1e6) / wrk.requests,
    rssMiB: target.pid ? rssMiB(target.pid) : null,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function writeManifests(dir: string, backendPort: number): Promise<void> {
  await writeFile(join(dir, 'bench.yaml'), `${INGRESS_CLASS_YAML}---\n${backendManifest('backend', HOST, backendPort)}`);
}

function nginxHttpBlock(listenPort: number, backendPort: number): string {
  // As close to ingress-nginx's proxying as a bare nginx gets: HTTP/1.1 upstream keep-alive.
  return `  upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; keepalive_timeout 60s; }
  server {
    listen 127.0.0.1:${listenPort} reuseport;
    keepalive_requests 100000;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Request-ID $request_id;
      proxy_buffering on;
    }
  }`;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

ensureCommands({ wrk: 'wrk', nginx: 'nginx-light' });
const started = new Date();
const children: ChildProcess[] = [];
const nginxes: RunningNginx[] = [];
const tmp = await mkdtemp(join(tmpdir(), 'pier-bench-'));
const sections: string[] = [];
let baselineRoot: string | null = null;
try {
  const backendPort = await freePort();
  const backend = spawn(process.execPath, [join(ROOT, 'bench/peers/backend.mjs'), String(backendPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(backend);
  await waitForLine(backend, 'ready');
  await writeManifests(tmp, backendPort);
  baselineRoot = BASELINE_REF ? await checkOutBaseline(BASELINE_REF, join(tmp, 'baseline')) : null;

  const replyFromPort = await freePort();
  const replyFrom = spawn(process.execPath, [join(ROOT, 'bench/peers/reply-from.mjs'), String(replyFromPort), `http://127.0.0.1:${backendPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(replyFrom);
  await waitForLine(replyFrom, 'ready');

  for (const workers of WORKER_COUNTS) {
    const nginxPort = await freePort();
    const nginx = await startNginx(nginxHttpBlock(nginxPort, backendPort), workers, nginxPort);
    nginxes.push(nginx);
    const pierPort = await freePort();
    const pierArgs = await pierArgsOn(pierPort, workers);
    const pier = spawn(process.execPath, [join(ROOT, 'bin/pier.mjs'), ...pierArgs], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(pier);
    await waitForPort(pierPort);
    const baselinePort = await freePort();
    const baseline = baselineRoot
      ? spawn(BASELINE_NODE, [join(baselineRoot, 'bin/pier.mjs'), ...(await pierArgsOn(baselinePort, workers))], { stdio: ['ignore', 'ignore', 'inherit'] })
      : null;
    if (baseline) {
      children.push(baseline);
      await waitForPort(baselinePort);
    }

    const targets: Target[] = [
      { name: 'direct', port: backendPort, pid: null },
      { name: 'nginx', port: nginxPort, pid: nginx.process.pid ?? null },
      { name: 'pier', port: pierPort, pid: pier.pid ?? null },
      { name: 'reply-from', port: replyFromPort, pid: replyFrom.pid ?? null },
      ...(baseline ? [{ name: BASELINE_NAME, port: baselinePort, pid: baseline.pid ?? null }] : []),
    ];
    const rows: string[] = [];
    for (const scenario of SCENARIOS) {
      // Warm every target up (JIT, connection pools), then alternate A B C D rounds.
      for (const target of targets) runWrkWarmup(target.port, scenario.path, scenario.connections);
      const samples = new Map(targets.map((target) => [target.name, [] as Sample[]]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of targets) samples.get(target.name)?.push(measure(target, scenario.path, scenario.connections));
      }
      const summary = new Map(
        targets.map((target) => {
          const list = samples.get(target.name) ?? [];
          const cpu = list.map((sample) => sample.cpuMicrosPerRequest).filter((value): value is number => value !== null);
          const rss = list.map((sample) => sample.rssMiB).filter((value): value is number => value !== null);
          return [target.name, {
            rps: median(list.map((sample) => sample.requestsPerSecond)),
            p50: median(list.map((sample) => sample.p50Ms)),
            p99: median(list.map((sample) => sample.p99Ms)),
            cpu: cpu.length ? median(cpu) : null,
            rss: rss.length ? Math.max(...rss) : null,
            perRound: list.map((sample) => Math.round(sample.requestsPerSecond)),
          }];
        }),
      );
      const pier = summary.get('pier');
      const ratio = (other: string) => (pier && summary.get(other) ? (pier.rps / (summary.get(other)?.rps as number)).toFixed(2) : '');
      for (const [name, stats] of summary) {
        rows.push(
          `| ${scenario.label}, -c${scenario.connections} | ${name} | ${Math.round(stats.rps)} | ${stats.perRound.join(' / ')} | ${stats.p50.toFixed(2)} | ${stats.p99.toFixed(2)} | ${stats.cpu === null ? '-' : stats.cpu.toFixed(0)} | ${stats.rss === null ? '-' : stats.rss.toFixed(0)} |`,
        );
      }
      const nginxStats = summary.get('nginx');
      rows.push(
        `| ${scenario.label}, -c${scenario.connections} | **Pier ratios** | Pier/nginx **${ratio('nginx')}**, Pier/direct ${ratio('direct')}, Pier/reply-from ${ratio('reply-from')}${baseline ? `, Pier/${BASELINE_NAME} **${ratio(BASELINE_NAME)}**` : ''} | | | p99 Pier/nginx ${pier && nginxStats ? (pier.p99 / nginxStats.p99).toFixed(2) : ''} | | |`,
      );
      console.error(`done: ${scenario.label} -c${scenario.connections} with ${workers} worker(s)`);
    }
    sections.push(
      [
        `### ${workers} process${workers > 1 ? 'es' : ''} each (nginx worker_processes ${workers}, Pier --workers=${workers})`,
        '',
        '| load | target | req/s (median) | req/s per round | p50 ms | p99 ms | proxy CPU us/req | proxy RSS MiB |',
        '|---|---|---|---|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
    await stopChild(pier);
    if (baseline) await stopChild(baseline);
    await nginx.stop();
  }
} finally {
  for (const child of children) await stopChild(child);
  for (const nginx of nginxes) await nginx.stop().catch(() => undefined);
  if (baselineRoot) spawnSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', baselineRoot]);
  await rm(tmp, { recursive: true, force: true });
}

async function pierArgsOn(port: number, workers: number): Promise<string[]> {
  return ['serve', '--manifests', tmp, '--bind-address=127.0.0.1', `--http-port=${port}`, `--https-port=${await freePort()}`, `--healthz-port=${await freePort()}`, `--default-server-port=${await freePort()}`, '--log-level=warn', `--workers=${workers}`];
}

/** Pier at `ref`, in a git worktree at `dir`, with its own dependencies (ours when the lockfiles match). */
async function checkOutBaseline(ref: string, dir: string): Promise<string> {
  const added = spawnSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', dir, ref], { encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`git worktree add ${ref} failed: ${added.stderr}`);
  const ourLock = await readFile(join(ROOT, 'package-lock.json'), 'utf8');
  const theirLock = await readFile(join(dir, 'package-lock.json'), 'utf8');
  if (ourLock === theirLock) {
    spawnSync('ln', ['-s', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
  } else {
    const installed = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
    if (installed.status !== 0) throw new Error(`npm ci for the baseline ${ref} failed`);
  }
  return dir;
}

function runWrkWarmup(port: number, path: string, connections: number): void {
  spawnSync('wrk', ['-t1', `-c${connections}`, '-d2s', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}${path}`], { stdio: 'ignore' });
}

const nginxVersion = spawnSync('sh', ['-c', 'nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1'], { encoding: 'utf8' }).stdout.trim();
const report = [
  '<!-- data-plane:start -->',
  `Run on ${started.toISOString()} with \`node bench/data-plane.ts --rounds ${ROUNDS} --duration ${DURATION_S} --workers ${WORKER_COUNTS.join(',')}${BASELINE_REF ? ` --baseline ${BASELINE_REF}` : ''}\``,
  `(${cpus().length} cores, Node ${process.version}, ${nginxVersion}; wrk -t1, keep-alive, ${DURATION_S} s per round, ${ROUNDS} alternating rounds per target after a 2 s warm-up;`,
  'backend: one Node http process; CPU and RSS are the proxy\'s whole process tree, from /proc).',
  '',
  ...sections,
  '<!-- data-plane:end -->',
].join('\n');
console.log(report);
if (!values['no-write']) {
  const file = join(ROOT, 'BENCHMARKS.md');
  const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n\n## Data plane\n\n<!-- data-plane:start -->\n<!-- data-plane:end -->\n');
  await writeFile(file, current.replace(/<!-- data-plane:start -->[\s\S]*<!-- data-plane:end -->/, report));
}

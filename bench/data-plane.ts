// Data-plane benchmark: Pier against nginx (and the backend direct, and @fastify/reply-from),
// side by side in one run, in alternating rounds, as ratios. Writes its table into BENCHMARKS.md.
// Usage: node bench/data-plane.ts [--rounds 3] [--duration 5] [--workers 1,2] [--no-write]
//          [--baseline <git ref> [--baseline-node <node binary>]] [--also-node <version> ...]
//          [--also-flags '<node flags>' ...] [--also-ts]
// --baseline adds Pier as of that commit (checked out into a temporary git worktree, and built as
// its image would build it when it has tsconfig.build.json) as one more
// target in the same alternating rounds, so a change is measured before and after in one run.
// --also-node adds this Pier on another Node release (its official build, from the npm registry's
// node-linux-<arch> package), to compare Node lines in the same rounds; --also-flags adds this Pier
// started with those Node flags (V8 heap settings, say); --also-ts adds it run from the TypeScript
// sources (Node stripping the types) instead of the image's compiled JavaScript.
// Besides throughput it records each Pier's footprint: start-up time (spawn to listening port) and
// the RSS of the primary and of each worker, idle (3 s after start) and after load.
// Installs nginx and wrk from Debian on first use (root). Everything runs on 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCommands, freePort, startNginx, type RunningNginx } from './lib/tools.ts';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { cpuSeconds, rssMiB, rssOfPrimaryAndChildren } from './lib/proc.ts';
import { INGRESS_CLASS_YAML, backendManifest } from '../test/helpers/manifests.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'baseline-node': { type: 'string' },
    'also-node': { type: 'string', multiple: true, default: [] },
    'also-flags': { type: 'string', multiple: true, default: [] },
    'also-ts': { type: 'boolean', default: false },
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
const OTHER_NODE_VERSIONS = values['also-node'] ?? [];
/** Idle RSS is read this long after the port opens, once start-up's garbage has had a chance to go. */
const IDLE_SETTLE_MS = 3_000;
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

/** A Pier to measure: its entry script (compiled, as the image runs it, or TypeScript) and Node binary. */
interface PierVariant {
  readonly name: string;
  readonly node: string;
  readonly entry: string;
  readonly nodeFlags?: readonly string[];
}

interface Footprint {
  readonly startMs: number;
  readonly primaryMiB: number;
  /** The largest worker's RSS; null when --workers=1 (one process). */
  readonly workerMiB: number | null;
}

interface Sample {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerRequest: number | null;
  readonly rssMiB: number | null;
  readonly footprint: { primaryMiB: number; workerMiB: number | null } | null;
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

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.once('close', () => socket.destroy());
    socket.once('connect', () => socket.end());
  });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
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
    footprint: target.pid ? footprintOf(target.pid) : null,
  };
}

function footprintOf(pid: number): { primaryMiB: number; workerMiB: number | null } {
  const { primaryMiB, childrenMiB } = rssOfPrimaryAndChildren(pid);
  return { primaryMiB, workerMiB: childrenMiB.length > 0 ? Math.max(...childrenMiB) : null };
}

function startPier(variant: PierVariant, args: readonly string[]): ChildProcess {
  // Flags before the script; node:cluster gives the workers the primary's flags too.
  return spawn(variant.node, [...(variant.nodeFlags ?? []), variant.entry, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Starts the variant alone, times it to its listening port, reads its idle RSS, stops it. */
async function measureStart(variant: PierVariant, workers: number): Promise<Footprint> {
  const port = await freePort();
  const args = await pierArgsOn(port, workers);
  const started = performance.now();
  const pier = startPier(variant, args);
  try {
    await waitForPort(port);
    const startMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    return { startMs, ...footprintOf(pier.pid as number) };
  } finally {
    await stopChild(pier);
  }
}

/** The official Node build of `version` for this machine, from the npm registry. */
function nodeBinary(version: string, dir: string): string {
  const arch = process.arch === 'x64' ? 'x64' : process.arch;
  const packed = spawnSync('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', dir], { encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`npm pack node-linux-${arch}@${version} failed: ${packed.stderr}`);
  const tarball = join(dir, packed.stdout.trim().split('\n').at(-1) as string);
  const into = join(dir, `node-${version}`);
  spawnSync('mkdir', ['-p', into]);
  if (spawnSync('tar', ['xzf', tarball, '-C', into]).status !== 0) throw new Error(`cannot unpack ${tarball}`);
  return join(into, 'package', 'bin', 'node');
}

/** The checkout at `root` compiled as the image builds it (tsconfig.build.json), runnable from `dir`. */
function buildAsTheImageDoes(root: string, dir: string): string {
  const built = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', dir], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed: ${built.stdout}${built.stderr}`);
  spawnSync('cp', [join(root, 'package.json'), dir]);
  spawnSync('ln', ['-s', join(root, 'node_modules'), join(dir, 'node_modules')]);
  return join(dir, 'operator', 'pier.js');
}

/** The baseline as its own image would run it: compiled with its flags when it has a build config, else from its sources. */
async function baselineVariant(root: string): Promise<PierVariant> {
  if (!existsSync(join(root, 'tsconfig.build.json'))) return { name: BASELINE_NAME, node: BASELINE_NODE, entry: join(root, 'bin/pier.mjs') };
  return { name: BASELINE_NAME, node: BASELINE_NODE, entry: buildAsTheImageDoes(root, join(tmp, 'baseline-build')), nodeFlags: await imageNodeFlags(root) };
}

/** The Node flags the image starts Pier with: what its ENTRYPOINT has between `node` and the script. */
async function imageNodeFlags(root = ROOT): Promise<string[]> {
  const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
  const entrypoint = [...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)].at(-1)?.[1];
  const command: string[] = entrypoint ? JSON.parse(entrypoint) : [];
  return command.slice(1).filter((arg) => arg.startsWith('--'));
}

const mib = (value: number | null): string => (value === null ? '-' : value.toFixed(0));

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
// Its own folder: `pier serve` reads every YAML file under it (the baseline's worktree is in tmp too).
const manifestsDir = join(tmp, 'manifests');
const sections: string[] = [];
let baselineRoot: string | null = null;
try {
  const backendPort = await freePort();
  const backend = spawn(process.execPath, [join(ROOT, 'bench/peers/backend.mjs'), String(backendPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(backend);
  await waitForLine(backend, 'ready');
  await mkdir(manifestsDir);
  await writeManifests(manifestsDir, backendPort);
  baselineRoot = BASELINE_REF ? await checkOutBaseline(BASELINE_REF, join(tmp, 'baseline')) : null;

  const replyFromPort = await freePort();
  const replyFrom = spawn(process.execPath, [join(ROOT, 'bench/peers/reply-from.mjs'), String(replyFromPort), `http://127.0.0.1:${backendPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(replyFrom);
  await waitForLine(replyFrom, 'ready');

  const compiled = buildAsTheImageDoes(ROOT, join(tmp, 'build'));
  const imageFlags = await imageNodeFlags();
  const variants: PierVariant[] = [
    { name: 'pier', node: process.execPath, entry: compiled, nodeFlags: imageFlags },
    ...(values['also-ts'] ? [{ name: 'pier from .ts', node: process.execPath, entry: join(ROOT, 'bin/pier.mjs') }] : []),
    ...(values['also-flags'] ?? []).map((flags) => ({ name: `pier ${flags}`, node: process.execPath, entry: compiled, nodeFlags: flags.split(/\s+/) })),
    ...(baselineRoot ? [await baselineVariant(baselineRoot)] : []),
    ...OTHER_NODE_VERSIONS.map((version) => ({ name: `pier on Node ${version}`, node: nodeBinary(version, tmp), entry: compiled, nodeFlags: imageFlags })),
  ];
  const nodeVersions = new Map(variants.map((variant) => [variant.name, spawnSync(variant.node, ['--version'], { encoding: 'utf8' }).stdout.trim()]));

  for (const workers of WORKER_COUNTS) {
    // Start-up and idle footprint: each variant started alone, in alternating rounds.
    const starts = new Map(variants.map((variant) => [variant.name, [] as Footprint[]]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of variants) starts.get(variant.name)?.push(await measureStart(variant, workers));
    }
    const nginxPort = await freePort();
    const nginx = await startNginx(nginxHttpBlock(nginxPort, backendPort), workers, nginxPort);
    nginxes.push(nginx);
    const running: { variant: PierVariant; port: number; process: ChildProcess }[] = [];
    for (const variant of variants) {
      const port = await freePort();
      const pier = startPier(variant, await pierArgsOn(port, workers));
      children.push(pier);
      running.push({ variant, port, process: pier });
      await waitForPort(port);
    }
    const pier = running[0]?.process as ChildProcess;
    const others = running.slice(1);

    const targets: Target[] = [
      { name: 'direct', port: backendPort, pid: null },
      { name: 'nginx', port: nginxPort, pid: nginx.process.pid ?? null },
      { name: 'pier', port: running[0]?.port as number, pid: pier.pid ?? null },
      { name: 'reply-from', port: replyFromPort, pid: replyFrom.pid ?? null },
      ...others.map((other) => ({ name: other.variant.name, port: other.port, pid: other.process.pid ?? null })),
    ];
    const loaded = new Map<string, Sample[]>();
    const rows: string[] = [];
    for (const scenario of SCENARIOS) {
      // Warm every target up (JIT, connection pools), then alternate A B C D rounds.
      for (const target of targets) runWrkWarmup(target.port, scenario.path, scenario.connections);
      const samples = new Map(targets.map((target) => [target.name, [] as Sample[]]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of targets) samples.get(target.name)?.push(measure(target, scenario.path, scenario.connections));
      }
      for (const [name, list] of samples) loaded.set(name, [...(loaded.get(name) ?? []), ...list]);
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
        `| ${scenario.label}, -c${scenario.connections} | **Pier ratios** | Pier/nginx **${ratio('nginx')}**, Pier/direct ${ratio('direct')}, Pier/reply-from ${ratio('reply-from')}${others.map((other) => `, Pier/${other.variant.name} **${ratio(other.variant.name)}**`).join('')} | | | p99 Pier/nginx ${pier && nginxStats ? (pier.p99 / nginxStats.p99).toFixed(2) : ''} | | |`,
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
        '',
        `Footprint with --workers=${workers}: start-up is spawn to listening port; idle RSS ${IDLE_SETTLE_MS / 1000} s after that (medians of ${ROUNDS} starts); loaded RSS is the largest seen after any load round above.`,
        '',
        '| Pier | Node | start-up ms | idle primary MiB | idle worker MiB | loaded primary MiB | loaded worker MiB |',
        '|---|---|---|---|---|---|---|',
        ...variants.map((variant) => {
          const list = starts.get(variant.name) ?? [];
          const idleWorkers = list.map((start) => start.workerMiB).filter((value): value is number => value !== null);
          const underLoad = (loaded.get(variant.name) ?? []).map((sample) => sample.footprint).filter((value) => value !== null);
          const loadedWorkers = underLoad.map((value) => value.workerMiB).filter((value): value is number => value !== null);
          return `| ${variant.name} | ${nodeVersions.get(variant.name)} | ${median(list.map((start) => start.startMs)).toFixed(0)} | ${mib(median(list.map((start) => start.primaryMiB)))} | ${mib(idleWorkers.length ? median(idleWorkers) : null)} | ${mib(underLoad.length ? Math.max(...underLoad.map((value) => value.primaryMiB)) : null)} | ${mib(loadedWorkers.length ? Math.max(...loadedWorkers) : null)} |`;
        }),
      ].join('\n'),
    );
    for (const { process: child } of running) await stopChild(child);
    await nginx.stop();
  }
} finally {
  for (const child of children) await stopChild(child);
  for (const nginx of nginxes) await nginx.stop().catch(() => undefined);
  if (baselineRoot) spawnSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', baselineRoot]);
  await rm(tmp, { recursive: true, force: true });
}

async function pierArgsOn(port: number, workers: number): Promise<string[]> {
  return ['serve', '--manifests', manifestsDir, '--bind-address=127.0.0.1', `--http-port=${port}`, `--https-port=${await freePort()}`, `--healthz-port=${await freePort()}`, `--default-server-port=${await freePort()}`, '--log-level=warn', `--workers=${workers}`];
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
  `Run on ${started.toISOString()} with \`node bench/data-plane.ts --rounds ${ROUNDS} --duration ${DURATION_S} --workers ${WORKER_COUNTS.join(',')}${BASELINE_REF ? ` --baseline ${BASELINE_REF}` : ''}${values['baseline-node'] ? ` --baseline-node ${values['baseline-node']}` : ''}${OTHER_NODE_VERSIONS.map((version) => ` --also-node ${version}`).join('')}${(values['also-flags'] ?? []).map((flags) => ` --also-flags '${flags}'`).join('')}${values['also-ts'] ? ' --also-ts' : ''}\``,
  `(${cpus().length} cores, Node ${process.version}, ${nginxVersion}; wrk -t1, keep-alive, ${DURATION_S} s per round, ${ROUNDS} alternating rounds per target after a 2 s warm-up;`,
  'backend: one Node http process; CPU and RSS are the proxy\'s whole process tree, from /proc).',
  `\`pier\` runs as the image runs it: the JavaScript tsc emits (tsconfig.build.json), started with the Dockerfile's \`node ${(await imageNodeFlags()).join(' ')}\`.`,
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

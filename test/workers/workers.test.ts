// `pier serve --workers=N` end to end: the real command with real proxy worker processes and a real
// backend. Which worker answered is read from /metrics (pier_worker_requests_total carries each
// worker's slot) and the workers' pids from the log (`proxy worker ready worker=S pid=P`); no test
// hook exists inside Pier. Every request here opens its own connection (no keep-alive), so the
// kernel picks a worker afresh each time.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuLimitedCgroup } from '../helpers/cgroup.ts';
import { startPier, type PierProcess } from '../standalone/pier-process.ts';
import { handshake, httpsGetOnNewConnection, type HttpsExchange } from '../helpers/certs.ts';
import { INGRESS_CLASS_YAML, backendManifest } from '../helpers/manifests.ts';

const WORKERS = 2;
const REQUEST_TIMEOUT_MS = 5_000;
const WAIT_MS = 20_000;
/** Requests in flight at once in the loops below. */
const CONCURRENCY = 8;
/** The pool's bound on a heartbeat answer (proxy/workers.ts), plus a heartbeat interval and slack. */
const HANG_DETECTION_MS = 10_000 + 1_000 + 9_000;

interface Backend {
  readonly server: Server;
  readonly port: number;
  /** URLs of the requests received so far. */
  readonly received: string[];
}

/** Answers `backend <url>`, after `x-delay-ms` milliseconds when the request asks for it. */
async function startBackend(): Promise<Backend> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    received.push(req.url ?? '/');
    setTimeout(() => res.end(`backend ${req.url}`), Number(req.headers['x-delay-ms'] ?? 0));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, received };
}

/** A manifest directory with Pier's IngressClass and alpha.example routed to the backend. */
async function manifestDir(prefix: string, backendPort: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'class.yaml'), INGRESS_CLASS_YAML);
  await writeFile(join(dir, 'alpha.yaml'), backendManifest('alpha', 'alpha.example', backendPort));
  return dir;
}

/** One request on a connection of its own; rejects on a network error (a reset, say). */
function get(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

async function scrape(pier: PierProcess, name: string): Promise<Sample[]> {
  const { status, body } = await get(pier.ports.healthz, 'localhost', '/metrics');
  assert.equal(status, 200);
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

/** Requests for this Ingress with this status answered by each worker slot, as /metrics counts them. */
async function answeredBySlot(pier: PierProcess, ingress: string, status = '200'): Promise<Map<string, number>> {
  const bySlot = new Map<string, number>();
  for (const sample of await scrape(pier, 'pier_worker_requests_total')) {
    if (sample.labels.ingress !== ingress || sample.labels.status !== status) continue;
    const slot = sample.labels.worker as string;
    bySlot.set(slot, (bySlot.get(slot) ?? 0) + sample.value);
  }
  return bySlot;
}

/** The pid the log last reported ready for each worker slot. */
function workerPids(pier: PierProcess): Map<string, number> {
  const pids = new Map<string, number>();
  for (const match of pier.log().matchAll(/proxy worker ready worker=(\d+) pid=(\d+)/g)) pids.set(match[1] as string, Number(match[2]));
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sends CONCURRENCY requests at a time until every worker slot has answered one with 200 (or the wait ends). */
async function untilEverySlotAnswers(pier: PierProcess, ingress: string, host: string): Promise<Map<string, number>> {
  let counts = new Map<string, number>();
  await until(async () => {
    await Promise.all(Array.from({ length: CONCURRENCY }, () => get(pier.ports.http, host).catch(() => null)));
    counts = await answeredBySlot(pier, ingress);
    return Array.from({ length: WORKERS }, (_, slot) => counts.get(String(slot)) ?? 0).every((count) => count > 0);
  }, `every worker answers ${host}`);
  return counts;
}

describe('pier serve --workers=2', () => {
  let dir: string;
  let backend: Backend;
  let pier: PierProcess;

  before(async () => {
    backend = await startBackend();
    dir = await manifestDir('pier-workers-', backend.port);
    pier = await startPier(['serve', '--manifests', dir, `--workers=${WORKERS}`]);
  });

  after(async () => {
    await pier?.stop();
    backend?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs two proxy worker processes besides the primary, each logged ready with its own pid', () => {
    const pids = workerPids(pier);
    assert.deepEqual([...pids.keys()].sort(), ['0', '1']);
    assert.equal(new Set(pids.values()).size, WORKERS);
    assert.ok(![...pids.values()].includes(pier.child.pid as number), 'workers are processes of their own');
    assert.match(pier.log(), /listening http=\d+ https=\d+ defaultServer=\d+ healthz=\d+/);
  });

  it('serves requests from both workers, and /metrics adds up what each worker counted', async () => {
    const sentBefore = backend.received.length;
    const counts = await untilEverySlotAnswers(pier, 'alpha', 'alpha.example');
    assert.ok((counts.get('0') ?? 0) > 0 && (counts.get('1') ?? 0) > 0, `both workers answered: ${JSON.stringify([...counts])}`);
    const forwarded = backend.received.length - sentBefore;
    // pier_requests_total is the workers' counters summed by prom-client's aggregator; each of
    // them is incremented as its response finishes, so the scrape may briefly trail the backend.
    await until(async () => {
      const total = (await scrape(pier, 'pier_requests_total')).filter((s) => s.labels.ingress === 'alpha' && s.labels.status === '200').reduce((sum, s) => sum + s.value, 0);
      const perWorker = [...(await answeredBySlot(pier, 'alpha')).values()].reduce((sum, n) => sum + n, 0);
      return total === forwarded && perWorker === forwarded;
    }, `pier_requests_total and the per-worker counts both reach ${forwarded}`);
    // The primary's own metrics are in the same scrape.
    const changes = await scrape(pier, 'pier_config_changes_total');
    assert.ok(changes.some((s) => s.labels.result === 'applied' && s.value >= 1), 'the primary counts configuration changes');
  });

  it('sends a changed manifest to every worker: each of them then answers the new host', async () => {
    await writeFile(join(dir, 'beta.yaml'), backendManifest('beta', 'beta.example', backend.port));
    const counts = await untilEverySlotAnswers(pier, 'beta', 'beta.example');
    assert.ok((counts.get('0') ?? 0) > 0 && (counts.get('1') ?? 0) > 0);
  });

  it('gives every worker one TLS identity: the same fake certificate, and a session from one worker resumes on the other', async () => {
    const first = await handshake(pier.ports.https, 'alpha.example');
    assert.ok(first.session, 'the first handshake got a session ticket');
    /** New connections, CONCURRENCY at a time, until each worker has answered at least one of them. */
    const untilBothWorkersAnswer = async (session?: Buffer): Promise<HttpsExchange[]> => {
      const before = await answeredBySlot(pier, 'alpha');
      const answers: HttpsExchange[] = [];
      await until(async () => {
        answers.push(...(await Promise.all(Array.from({ length: CONCURRENCY }, () => httpsGetOnNewConnection(pier.ports.https, 'alpha.example', session)))));
        const after = await answeredBySlot(pier, 'alpha');
        return Array.from({ length: WORKERS }, (_, slot) => String(slot)).every((slot) => (after.get(slot) ?? 0) > (before.get(slot) ?? 0));
      }, 'both workers answer over HTTPS');
      assert.deepEqual([...new Set(answers.map((answer) => answer.status))], [200]);
      return answers;
    };

    const full = await untilBothWorkersAnswer();
    assert.deepEqual([...new Set(full.map((answer) => answer.fingerprint))], [first.fingerprint], 'one certificate, whichever worker answered');
    const resuming = await untilBothWorkersAnswer(first.session);
    assert.equal(resuming.filter((answer) => !answer.resumed).length, 0, `every connection resumed the first session (${resuming.length} connections)`);
  });

  it('keeps serving from the other worker while one is SIGKILLed, then restarts it with the current table', { timeout: 60_000 }, async (t) => {
    const [killedPid, survivorPid] = [workerPids(pier).get('0') as number, workerPids(pier).get('1') as number];
    let running = true;
    let killedAt = 0;
    let restartedAt = 0;
    const results: { readonly at: number; readonly outcome: 'ok' | 'status' | 'network'; readonly detail: string }[] = [];
    const loop = async (): Promise<void> => {
      while (running) {
        try {
          const { status, body } = await get(pier.ports.http, 'alpha.example', '/during-kill');
          results.push({ at: Date.now(), outcome: status === 200 ? 'ok' : 'status', detail: `${status} ${body}` });
        } catch (error) {
          results.push({ at: Date.now(), outcome: 'network', detail: (error as Error).message });
        }
      }
    };
    const loops = Array.from({ length: CONCURRENCY }, loop);
    try {
      await until(() => results.length >= 50, 'the client loops are under way');
      process.kill(killedPid, 'SIGKILL');
      killedAt = Date.now();
      await until(() => (workerPids(pier).get('0') ?? killedPid) !== killedPid, 'worker 0 is back with a new process');
      restartedAt = Date.now();
      await until(() => results.filter((r) => r.at > restartedAt).length >= 50, 'requests go on after the restart');
    } finally {
      running = false;
      await Promise.all(loops);
    }

    // What is asserted: every answer that came back was a 200; the only failures are network errors
    // (resets of connections the killed worker had accepted), at most one per client loop, since each
    // loop has one request in flight; and requests kept succeeding between the kill and the restart.
    const failures = results.filter((r) => r.outcome !== 'ok');
    assert.deepEqual(failures.filter((r) => r.outcome === 'status'), [], 'no request got an error status');
    assert.ok(failures.length <= CONCURRENCY, `at most ${CONCURRENCY} reset requests, got ${failures.length}: ${JSON.stringify(failures)}`);
    assert.ok(isAlive(survivorPid), 'the other worker was not touched');
    assert.match(pier.log(), new RegExp(`proxy worker restarting worker=0 pid=${killedPid} reason="killed by SIGKILL"`));
    const meanwhile = results.filter((r) => r.outcome === 'ok' && r.at > killedAt && r.at < restartedAt).length;
    t.diagnostic(`${results.length} requests, ${failures.length} reset, ${meanwhile} answered in the ${restartedAt - killedAt} ms before the restart was logged`);
    assert.ok(meanwhile > 0 || restartedAt - killedAt < 100, `requests succeeded while worker 0 was down (${meanwhile} in ${restartedAt - killedAt} ms)`);

    // beta.example came with a later table than the one the pool started with: the new process
    // answering it (its counter starts at zero) shows it was started with the current table.
    const before = (await answeredBySlot(pier, 'beta')).get('0') ?? 0;
    assert.equal(before, 0, 'the restarted worker has answered nothing yet');
    await untilEverySlotAnswers(pier, 'beta', 'beta.example');
    assert.equal((await get(pier.ports.healthz, 'localhost', '/healthz')).status, 200);
  });

  it('kills and restarts a worker that stops answering heartbeats, serving from the other one meanwhile', { timeout: 60_000 }, async () => {
    const hungPid = workerPids(pier).get('1') as number;
    process.kill(hungPid, 'SIGSTOP');
    try {
      // A stopped process can't accept: every fresh connection goes to the worker that runs.
      for (let i = 0; i < 20; i += 1) assert.equal((await get(pier.ports.http, 'alpha.example', '/while-hung')).status, 200);
      await pier.waitForLog(new RegExp(`proxy worker restarting worker=1 pid=${hungPid} reason="no answer to a heartbeat within 10000 ms"`), HANG_DETECTION_MS);
      await until(() => (workerPids(pier).get('1') ?? hungPid) !== hungPid, 'worker 1 is back with a new process');
      await until(() => !isAlive(hungPid), 'the hung process is gone');
    } finally {
      if (isAlive(hungPid)) process.kill(hungPid, 'SIGKILL');
    }
    await untilEverySlotAnswers(pier, 'alpha', 'alpha.example');
    const restarts = await scrape(pier, 'pier_worker_restarts_total');
    assert.deepEqual(Object.fromEntries(restarts.map((s) => [s.labels.reason, s.value])), { exited: 1, hung: 1 });
  });
});

describe('stopping pier serve --workers=2', () => {
  let dir: string;
  let backend: Backend;

  before(async () => {
    backend = await startBackend();
    dir = await manifestDir('pier-workers-stop-', backend.port);
  });

  after(async () => {
    backend?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('on SIGTERM, finishes the request under way, exits 0 and leaves no worker process behind', { timeout: 30_000 }, async () => {
    const pier = await startPier(['serve', '--manifests', dir, `--workers=${WORKERS}`, '--shutdown-grace-period=10s']);
    const pids = [...workerPids(pier).values()];
    try {
      assert.equal(pids.length, WORKERS);
      const slow = get(pier.ports.http, 'alpha.example', '/slow', { 'x-delay-ms': '1000' });
      await until(() => backend.received.includes('/slow'), 'the slow request reaches the backend');
      const code = await pier.stop();
      assert.deepEqual(await slow, { status: 200, body: 'backend /slow' });
      assert.equal(code, 0);
      assert.deepEqual(pids.filter(isAlive), [], 'no worker outlives the primary');
      assert.match(pier.log(), /draining graceMs=10000/);
    } finally {
      await pier.stop();
      for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    }
  });

  it('its workers exit by themselves when the primary is SIGKILLed', { timeout: 30_000 }, async () => {
    const pier = await startPier(['serve', '--manifests', dir, `--workers=${WORKERS}`]);
    const pids = [...workerPids(pier).values()];
    try {
      assert.equal(pids.length, WORKERS);
      pier.child.kill('SIGKILL');
      await once(pier.child, 'exit');
      await until(() => pids.every((pid) => !isAlive(pid)), 'both workers have exited');
    } finally {
      await pier.stop();
      for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    }
  });
});

describe('pier serve with the default --workers', () => {
  const cgroupCases = [
    { name: 'runs one process, with no workers, in a container limited to half a CPU on a machine with more', cpus: 0.5, workers: 0 },
    { name: 'runs two workers in a container limited to 1.5 CPUs (rounded up)', cpus: 1.5, workers: 2 },
  ];
  for (const testCase of cgroupCases) {
    it(testCase.name, { timeout: 30_000 }, async () => {
      assert.ok(availableParallelism() >= 2, 'this test needs a machine with at least 2 CPUs to tell the limit from the CPU count');
      const backend = await startBackend();
      const dir = await manifestDir('pier-workers-cgroup-', backend.port);
      const cgroup = cpuLimitedCgroup(testCase.cpus, `pier-cpus-${testCase.cpus}`);
      const pier = await startPier(['serve', '--manifests', dir], { defaultWorkers: true, cgroup: cgroup.dir });
      try {
        assert.equal(workerPids(pier).size, testCase.workers);
        assert.deepEqual(await get(pier.ports.http, 'alpha.example', '/x'), { status: 200, body: 'backend /x' });
      } finally {
        assert.equal(await pier.stop(), 0);
        cgroup.remove();
        backend.server.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('runs one proxy process per CPU and serves through them', { timeout: 30_000 }, async () => {
    const backend = await startBackend();
    const dir = await manifestDir('pier-workers-default-', backend.port);
    const pier = await startPier(['serve', '--manifests', dir], { defaultWorkers: true });
    try {
      const cpus = availableParallelism();
      // One CPU means one process, with no worker processes at all.
      assert.equal(workerPids(pier).size, cpus > 1 ? cpus : 0);
      assert.deepEqual(await get(pier.ports.http, 'alpha.example', '/x'), { status: 200, body: 'backend /x' });
      assert.equal((await get(pier.ports.healthz, 'localhost', '/healthz')).status, 200);
    } finally {
      assert.equal(await pier.stop(), 0);
      backend.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

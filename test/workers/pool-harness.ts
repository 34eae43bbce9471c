// A WorkerPool run in the test process (which becomes the node:cluster primary), with real worker
// processes on loopback ports chosen by the kernel, and what the tests read back from it.
import cluster from 'node:cluster';
import { Registry } from 'prom-client';
import { createLogger } from '../../proxy/log.ts';
import type { RouteTableSpec } from '../../operator/routes/types.ts';
import type { BoundPorts } from '../../proxy/server.ts';
import { WorkerPool } from '../../proxy/workers.ts';

const WAIT_MS = 20_000;

export interface RunningPool {
  readonly pool: WorkerPool;
  readonly ports: BoundPorts;
}

/** Starts `count` workers serving `spec`. Ticket keys rotate only when a test says so. */
export async function startPool(count: number, spec: RouteTableSpec): Promise<RunningPool> {
  const pool = new WorkerPool(
    {
      count,
      proxy: { bindAddress: '127.0.0.1', httpPort: 0, httpsPort: 0, defaultServerPort: 0, timeouts: { connectMs: 1_000, readMs: 5_000, sendMs: 5_000 }, ticketKeyRotationMs: 3_600_000 },
      drainMs: 1_000,
      logLevel: 'error',
    },
    new Registry(),
    createLogger('error', () => undefined),
  );
  pool.swap(spec);
  return { pool, ports: await pool.listen() };
}

/** Requests answered so far by each worker slot, from the workers' own metrics. */
export async function answeredBySlot(pool: WorkerPool): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const { slot, metrics } of await pool.workerMetrics()) {
    const requests = metrics.find((metric) => metric.name === 'pier_requests_total');
    counts.set(slot, (requests?.values ?? []).reduce((sum, value) => sum + value.value, 0));
  }
  return counts;
}

/** Sends batches (each `batch()` a round of requests) until every worker slot has answered one more. */
export async function untilEveryWorkerAnswers<T>(pool: WorkerPool, workers: number, batch: () => Promise<T[]>): Promise<T[]> {
  const before = await answeredBySlot(pool);
  const answers: T[] = [];
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    answers.push(...(await batch()));
    const now = await answeredBySlot(pool);
    if (Array.from({ length: workers }, (_, slot) => slot).every((slot) => (now.get(slot) ?? 0) > (before.get(slot) ?? 0))) return answers;
    if (Date.now() > deadline) throw new Error(`not every worker answered within ${WAIT_MS} ms`);
  }
}

/** SIGKILLs one worker process and waits until the pool has restarted it and all are ready again. */
export async function killOneWorker(pool: WorkerPool, workers: number): Promise<void> {
  const victim = Object.values(cluster.workers ?? {})[0];
  if (!victim?.process.pid) throw new Error('no worker process to kill');
  victim.process.kill('SIGKILL');
  const deadline = Date.now() + WAIT_MS;
  while (!victim.isDead() || pool.readyCount < workers) {
    if (Date.now() > deadline) throw new Error('the killed worker was not restarted');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

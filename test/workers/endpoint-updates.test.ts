// Endpoint updates through the WorkerPool (what endpoint churn uses instead of a new table): every
// worker takes them, and a worker restarted afterwards starts with them too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkerPool } from '../../proxy/workers.ts';
import { Resources, send, startUpstream, tableFor, type Upstream } from '../helpers/upstreams.ts';
import { answeredBySlot, killOneWorker, startPool, untilEveryWorkerAnswers } from './pool-harness.ts';

const WORKERS = 2;
const HOST = 'app.example';
/** Requests sent at once, each on a connection of its own, so that the kernel spreads them over the workers. */
const CONCURRENCY = 6;

describe('endpoint updates across proxy workers', { timeout: 60_000 }, () => {
  const resources = new Resources();
  let pool: WorkerPool;
  let httpPort: number;
  let first: Upstream;
  let second: Upstream;

  const bodiesFromEveryWorker = async (): Promise<string[]> =>
    untilEveryWorkerAnswers(pool, WORKERS, () => Promise.all(Array.from({ length: CONCURRENCY }, async () => (await send(httpPort, { host: HOST })).body.toString())));

  before(async () => {
    first = await startUpstream(resources, (_req, res) => res.end('first'));
    second = await startUpstream(resources, (_req, res) => res.end('second'));
    const running = await startPool(WORKERS, tableFor(HOST, [first.endpoint]));
    pool = running.pool;
    httpPort = running.ports.http;
  });
  after(async () => {
    await pool?.close(1_000);
    await resources.closeAll();
  });

  it('reaches every worker: each of them then sends requests to the new endpoints', async () => {
    assert.deepEqual([...new Set(await bodiesFromEveryWorker())], ['first']);
    const [upstream] = tableFor(HOST, [second.endpoint]).upstreams;
    assert.equal(pool.updateEndpoints([upstream!]), true);
    // Each worker handles its IPC messages in order: once it has answered this, it has the update.
    await answeredBySlot(pool);
    assert.deepEqual([...new Set(await bodiesFromEveryWorker())], ['second']);
  });

  it('starts a worker restarted after the update with the updated endpoints', async () => {
    await killOneWorker(pool, WORKERS);
    assert.deepEqual([...new Set(await bodiesFromEveryWorker())], ['second']);
  });

  it('refuses an upstream the current table does not have', () => {
    const [upstream] = tableFor(HOST, [first.endpoint], 'absent').upstreams;
    assert.equal(pool.updateEndpoints([upstream!]), false);
  });
});

// Route tables sent to proxy workers as what changed (proxy/table-delta.ts): a WorkerPool of real
// worker processes serving many hosts takes changes of one host at a time, each sent as a small
// delta, and real requests on every worker reach the new paths while the untouched hosts still
// answer; a worker restarted afterwards starts from the whole current table; an endpoint update
// survives a later change that doesn't mention its upstream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { serialize } from 'node:v8';
import type { RouteTableSpec, UpstreamSpec, VirtualHostSpec } from '../../proxy/route-spec.ts';
import type { PrimaryMessage, WorkerPool } from '../../proxy/workers.ts';
import { Resources, send, startUpstream, type Upstream } from '../helpers/upstreams.ts';
import { answeredBySlot, killOneWorker, startPool, untilEveryWorkerAnswers } from './pool-harness.ts';

const WORKERS = 2;
const HOSTS = 300;
/** Requests sent at once, each on a connection of its own, so that the kernel spreads them over the workers. */
const CONCURRENCY = 6;

const hostName = (index: number): string => `h-${String(index).padStart(3, '0')}.example`;
const upstreamId = (index: number): string => `default/svc-${String(index).padStart(3, '0')}:80`;
const virtualHost = (index: number, path: string): VirtualHostSpec => ({
  host: hostName(index),
  routes: [{ path, match: 'prefix', pathType: 'Prefix', upstream: upstreamId(index), ingress: { namespace: 'default', name: `ingress-${index}` } }],
  fallback: null,
});
const upstreamSpec = (index: number, backend: Upstream): UpstreamSpec => ({ id: upstreamId(index), namespace: 'default', service: `svc-${index}`, servicePort: '80', endpoints: [backend.endpoint] });

/** Every table/change message the pool sends its workers from now on, with its size on the wire. */
function recordTableMessages(): { readonly sent: { readonly type: string; readonly bytes: number }[] } {
  const sent: { type: string; bytes: number }[] = [];
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (!worker) continue;
    const original = worker.send.bind(worker) as (message: PrimaryMessage) => boolean;
    worker.send = ((message: PrimaryMessage) => {
      if (message.type === 'swap' || message.type === 'delta') sent.push({ type: message.type, bytes: serialize(message).length });
      return original(message);
    }) as typeof worker.send;
  }
  return { sent };
}

describe('table changes sent to proxy workers as deltas', { timeout: 90_000 }, () => {
  const resources = new Resources();
  let pool: WorkerPool;
  let httpPort: number;
  let first: Upstream;
  let second: Upstream;
  /** The last table swapped in; each change replaces one host object and keeps the others. */
  let spec: RouteTableSpec;
  /** The path each changed host routes now. */
  const changedPaths = new Map<number, string>();

  /**
   * Sends these requests (host, path, expected `status body`) CONCURRENCY at a time, each on a
   * connection of its own, until every worker has answered some; returns the answers that differ.
   */
  const wrongAnswersFromEveryWorker = async (requests: readonly (readonly [string, string, string])[]): Promise<string[]> => {
    const answers = await untilEveryWorkerAnswers(pool, WORKERS, () =>
      Promise.all(
        Array.from({ length: Math.max(CONCURRENCY, requests.length) }, (_, index) => requests[index % requests.length] as readonly [string, string, string]).map(async ([host, path, expected]) => {
          const response = await send(httpPort, { host, path });
          const answer = response.status === 200 ? `200 ${response.body.toString()}` : String(response.status);
          return answer === expected ? null : `${host}${path}: ${answer}, expected ${expected}`;
        }),
      ),
    );
    return answers.filter((answer) => answer !== null);
  };

  before(async () => {
    first = await startUpstream(resources, (req, res) => res.end(`first ${req.url}`));
    second = await startUpstream(resources, (req, res) => res.end(`second ${req.url}`));
    spec = {
      virtualHosts: Array.from({ length: HOSTS }, (_, index) => virtualHost(index, '/v0')),
      defaultBackend: null,
      upstreams: Array.from({ length: HOSTS }, (_, index) => upstreamSpec(index, first)),
    };
    const running = await startPool(WORKERS, spec);
    pool = running.pool;
    httpPort = running.ports.http;
  });
  after(async () => {
    await pool?.close(1_000);
    await resources.closeAll();
  });

  it('applies several changes in a row, each to one host of many, on every worker: new paths answer, old ones 404, untouched hosts as before', async () => {
    const recorded = recordTableMessages();
    const wholeTableBytes = serialize({ type: 'swap', spec } satisfies PrimaryMessage).length;
    for (const [round, index] of [17, 150, 17, 299].entries()) {
      const path = `/v${round + 1}`;
      const virtualHosts = spec.virtualHosts.map((each) => (each.host === hostName(index) ? virtualHost(index, path) : each));
      spec = { ...spec, virtualHosts, upstreams: [...spec.upstreams] };
      pool.swap(spec);
      changedPaths.set(index, path);
    }
    // Each worker handles its IPC messages in order: once it has answered this, it has every change.
    await answeredBySlot(pool);

    const wrong = await wrongAnswersFromEveryWorker([
      [hostName(17), '/v3/page', '200 first /v3/page'],
      [hostName(17), '/v1/page', '404'],
      [hostName(150), '/v2', '200 first /v2'],
      [hostName(150), '/v0', '404'],
      [hostName(299), '/v4', '200 first /v4'],
      [hostName(0), '/v0/untouched', '200 first /v0/untouched'],
      [hostName(200), '/v0', '200 first /v0'],
    ]);
    assert.deepEqual(wrong, []);

    assert.deepEqual([...new Set(recorded.sent.map((message) => message.type))], ['delta'], 'started workers get the changes, not whole tables');
    assert.equal(recorded.sent.length, 4 * WORKERS);
    for (const { bytes } of recorded.sent) assert.ok(bytes * 50 < wholeTableBytes, `a delta of ${bytes} bytes against ${wholeTableBytes} for the whole table`);
  });

  it('starts a worker restarted after those changes with the whole current table', async () => {
    await killOneWorker(pool, WORKERS);
    const requests = [...changedPaths].flatMap(([index, path]) => [[hostName(index), `${path}/after`, `200 first ${path}/after`] as const, [hostName(index), '/v0', '404'] as const]);
    assert.deepEqual(await wrongAnswersFromEveryWorker([...requests, [hostName(1), '/v0/untouched', '200 first /v0/untouched']]), []);
  });

  it('keeps an endpoint update through a later change that does not mention its upstream', async () => {
    const moved = upstreamSpec(5, second);
    assert.equal(pool.updateEndpoints([moved]), true);
    // The next table lists the same endpoints, as objects of its own, and changes another host.
    const upstreams = spec.upstreams.map((each) => (each.id === moved.id ? { ...moved, endpoints: [{ ...second.endpoint }] } : each));
    const virtualHosts = spec.virtualHosts.map((each) => (each.host === hostName(6) ? virtualHost(6, '/moved') : each));
    spec = { ...spec, virtualHosts, upstreams };
    pool.swap(spec);
    await answeredBySlot(pool);

    assert.deepEqual(await wrongAnswersFromEveryWorker([[hostName(5), '/v0', '200 second /v0'], [hostName(6), '/moved', '200 first /moved']]), []);
  });
});

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Agent } from 'node:http';
import type { Endpoint, RouteTableSpec } from '../../operator/routes/types.ts';
import { Resources, send, startProxy, startUpstream, tableFor } from '../helpers/upstreams.ts';

const HOST = 'app.example.com';

/** `HOST` to `first` for every path, plus (when given) `/extra` to `second` and another host. */
function tableWith(first: Endpoint, second?: Endpoint): RouteTableSpec {
  const base = tableFor(HOST, [first], 'first');
  if (!second) return base;
  const ingress = { namespace: 'default', name: 'second-ingress' };
  const [host] = base.virtualHosts;
  return {
    virtualHosts: [
      { ...host!, routes: [{ path: '/extra', match: 'prefix', pathType: 'Prefix', upstream: 'default/second:80', ingress }, ...host!.routes] },
      { host: 'other.example.com', routes: [{ path: '/', match: 'prefix', pathType: 'Prefix', upstream: 'default/second:80', ingress }], fallback: null },
    ],
    defaultBackend: null,
    upstreams: [...base.upstreams, { id: 'default/second:80', namespace: 'default', service: 'second', servicePort: '80', endpoints: [second] }],
  };
}

describe('swapping the route table', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('loses no request while the table is swapped 150 times under keep-alive load', async () => {
    const a = await startUpstream(resources, (_req, res) => res.end('a'));
    const b = await startUpstream(resources, (_req, res) => res.end('b'));
    const proxy = await startProxy(resources);
    const tables = [tableWith(a.endpoint), tableWith(b.endpoint, a.endpoint)];
    proxy.server.swap(tables[0]!);

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    resources.add(() => agent.destroy());
    let swapping = true;
    const failures: string[] = [];
    const answers = new Map<string, number>();
    const worker = async (id: number): Promise<void> => {
      // Bounded: stops when the swapping stops, and never runs more than 5000 requests.
      for (let i = 0; swapping && i < 5000; i++) {
        const path = i % 2 === 0 ? `/w${id}/${i}` : `/extra/${i}`;
        try {
          const response = await send(proxy.ports.http, { host: HOST, path, agent });
          const body = response.body.toString();
          if (response.status !== 200) failures.push(`${path}: ${response.status} ${body}`);
          answers.set(body, (answers.get(body) ?? 0) + 1);
        } catch (error) {
          failures.push(`${path}: ${String(error)}`);
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, id) => worker(id));

    let swaps = 0;
    const deadline = Date.now() + 4000;
    while (swaps < 150 && Date.now() < deadline) {
      proxy.server.swap(tables[++swaps % 2]!);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    swapping = false;
    await Promise.all(workers);

    assert.equal(swaps, 150, 'the swap loop ran out of time');
    assert.deepEqual(failures, []);
    assert.ok((answers.get('a') ?? 0) > 0 && (answers.get('b') ?? 0) > 0, `both tables served: ${JSON.stringify([...answers])}`);
  });

  it('lets a request under way on the old table finish after a swap removed its route', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await startUpstream(resources, (_req, res) => {
      res.writeHead(200, ['Content-Type', 'text/plain']);
      res.write('started ');
      arrived();
      void released.then(() => res.end('and finished'));
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [slow.endpoint]));

    const inFlight = send(proxy.ports.http, { host: HOST, path: '/slow' });
    await requestArrived;
    proxy.server.swap({ virtualHosts: [], defaultBackend: null, upstreams: [] });
    const afterSwap = await send(proxy.ports.http, { host: HOST, path: '/slow' });
    release();
    const response = await inFlight;

    assert.equal(afterSwap.status, 404, 'the new table no longer routes the host');
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'started and finished');
  });

  it('keeps the old table when a spec fails to compile', async () => {
    const a = await startUpstream(resources, (_req, res) => res.end('a'));
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [a.endpoint]));
    const broken = tableFor(HOST, [a.endpoint]);
    const bad: RouteTableSpec = {
      ...broken,
      virtualHosts: [{ host: HOST, routes: [{ path: '/(unclosed', match: 'regex', pathType: 'ImplementationSpecific', upstream: 'default/web:80', ingress: { namespace: 'default', name: 'x' } }], fallback: null }],
    };
    assert.throws(() => proxy.server.swap(bad));
    const response = await send(proxy.ports.http, { host: HOST });
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'a');
  });
});

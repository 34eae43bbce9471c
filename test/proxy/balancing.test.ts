import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'node:http';
import { Resources, send, startProxy, startUpstream, tableFor, type Proxy, type Upstream } from '../helpers/upstreams.ts';

const HOST = 'app.example.com';

describe('round-robin across endpoints', { timeout: 20_000 }, () => {
  const resources = new Resources();
  let proxy: Proxy;
  const backends: Upstream[] = [];

  before(async () => {
    for (let i = 0; i < 10; i++) backends.push(await startUpstream(resources, (_req, res) => res.end(String(i))));
    proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, backends.map((backend) => backend.endpoint)));
  });
  after(() => resources.closeAll(), { timeout: 5000 });

  const countAnswers = (bodies: string[]): number[] => {
    const counts = Array<number>(10).fill(0);
    for (const body of bodies) counts[Number(body)]! += 1;
    return counts;
  };

  it('sends 100 sequential requests over 10 endpoints, 10 to each', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    resources.add(() => agent.destroy());
    const bodies: string[] = [];
    for (let i = 0; i < 100; i++) {
      const response = await send(proxy.ports.http, { host: HOST, agent });
      assert.equal(response.status, 200);
      bodies.push(response.body.toString());
    }
    assert.deepEqual(countAnswers(bodies), Array(10).fill(10));
  });

  it('sends 100 concurrent requests over 10 endpoints, 10 to each', async () => {
    const responses = await Promise.all(Array.from({ length: 100 }, () => send(proxy.ports.http, { host: HOST })));
    assert.ok(responses.every((response) => response.status === 200));
    assert.deepEqual(countAnswers(responses.map((response) => response.body.toString())), Array(10).fill(10));
  });
});

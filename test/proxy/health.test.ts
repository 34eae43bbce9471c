import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCALHOST, Resources, closedPort, headerValues, send, startProxy, startUpstream, tableFor, type Proxy } from '../helpers/upstreams.ts';

describe('/healthz and request metrics on the HTTP port', { timeout: 20_000 }, () => {
  const resources = new Resources();
  let proxy: Proxy;

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => res.end(`backend ${req.url}`));
    proxy = await startProxy(resources);
    const table = tableFor('app.example.com', [upstream.endpoint]);
    const empty = tableFor('empty.example.com', [], 'empty');
    const dead = tableFor('dead.example.com', [{ address: LOCALHOST, port: await closedPort() }], 'dead');
    proxy.server.swap({
      virtualHosts: [...table.virtualHosts, ...empty.virtualHosts, ...dead.virtualHosts],
      defaultBackend: null,
      upstreams: [...table.upstreams, ...empty.upstreams, ...dead.upstreams],
    });
  });
  after(() => resources.closeAll(), { timeout: 5000 });

  it('answers /healthz with 200 for a host no rule names', async () => {
    for (const host of ['10.0.0.7', 'unknown.example.com', '']) {
      const response = await send(proxy.ports.http, { host, path: '/healthz' });
      assert.equal(response.status, 200, host);
      assert.equal(response.body.toString(), 'ok');
      assert.deepEqual(headerValues(response.rawHeaders, 'server'), ['pier']);
    }
  });

  it('answers /healthz before any route table was loaded', async () => {
    const fresh = await startProxy(resources);
    const response = await send(fresh.ports.http, { host: 'anything', path: '/healthz' });
    assert.equal(response.status, 200);
  });

  it("forwards /healthz to the backend for a host a rule names (it is the app's path there)", async () => {
    const response = await send(proxy.ports.http, { host: 'app.example.com', path: '/healthz' });
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'backend /healthz');
  });

  it('counts answered requests in pier_requests_total by service and status', async () => {
    await send(proxy.ports.http, { host: 'app.example.com', path: '/counted' });
    await send(proxy.ports.http, { host: 'empty.example.com' });
    await send(proxy.ports.http, { host: 'dead.example.com' });
    await send(proxy.ports.http, { host: 'nobody.example.com', path: '/x' });
    const text = await proxy.metrics.registry.getSingleMetricAsString('pier_requests_total');
    const count = (labels: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`pier_requests_total{${labels}}`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    assert.ok(count('namespace="default",ingress="web-ingress",service="web",status="200"') >= 2, text);
    assert.equal(count('namespace="default",ingress="empty-ingress",service="empty",status="503"'), 1, text);
    assert.equal(count('namespace="default",ingress="dead-ingress",service="dead",status="502"'), 1, text);
    assert.equal(count('namespace="",ingress="",service="",status="404"'), 1, text);
  });
});

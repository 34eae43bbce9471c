// One request pipeline for plain HTTP and upgrades: a WebSocket upgrade gets exactly the answer a
// GET for the same target gets (bad request, health check, no route, a route's HTTPS redirect), and
// both are counted. Real sockets, raw requests (test/helpers/raw-http.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runStages, type Answer, type Exchange, type RequestStage } from '../../proxy/pipeline.ts';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { makeCertificate, tlsIngress, tlsSecret } from '../helpers/certs.ts';
import { rawRequest, statusOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';


function headerOf(answer: string, name: string): string | undefined {
  const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
  return head.split('\r\n').find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
}

describe('the request pipeline', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;

  before(async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('backend'));
    proxy = await startTlsProxy(resources);
    proxy.apply([...localService('web', upstream.port), tlsIngress('secure', ['secure.example'], [{ hosts: ['secure.example'], secretName: 'secure' }]), tlsSecret('secure', makeCertificate(['secure.example']))]);
  });
  after(() => resources.closeAll());

  const cases = [
    { name: 'Two Host headers are a 400 before any route is looked up', head: 'GET / HTTP/1.1\r\nHost: secure.example\r\nHost: other.example\r\n', status: 400 },
    { name: 'The default server\'s /healthz answers 200 for a host no rule names', head: 'GET /healthz HTTP/1.1\r\nHost: 10.0.0.1\r\n', status: 200 },
    { name: 'A host with no route is a 404', head: 'GET /chat HTTP/1.1\r\nHost: nobody.example\r\n', status: 404 },
    { name: 'A route\'s HTTPS redirect applies to plain HTTP, with the same Location', head: 'GET /chat?room=1 HTTP/1.1\r\nHost: secure.example\r\n', status: 308 },
  ];
  for (const testCase of cases) {
    it(`${testCase.name}, for a GET and a WebSocket upgrade alike`, async () => {
      const plain = await rawRequest(proxy.http, `${testCase.head}Connection: close\r\n\r\n`);
      const upgrade = await rawRequest(proxy.http, `${testCase.head}${WEBSOCKET_UPGRADE}\r\n`);
      assert.equal(statusOf(plain), testCase.status, plain);
      assert.equal(statusOf(upgrade), testCase.status, upgrade);
      assert.equal(headerOf(upgrade, 'location'), headerOf(plain, 'location'));
      if (testCase.status === 308) assert.equal(headerOf(upgrade, 'location'), `https://secure.example:${proxy.https}/chat?room=1`);
    });
  }

  it('counts answers to upgrades as it counts answers to requests', async () => {
    const count = async (): Promise<number> => {
      const metric = (await proxy.metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === 'pier_requests_total');
      return metric?.values.filter((value) => String(value.labels.status) === '404').reduce((sum, value) => sum + value.value, 0) ?? 0;
    };
    const before = await count();
    await rawRequest(proxy.http, `GET / HTTP/1.1\r\nHost: nobody.example\r\n${WEBSOCKET_UPGRADE}\r\n`);
    assert.equal(await count(), before + 1);
  });
});

describe('runStages', () => {
  const exchange = { secure: false, host: 'a.example', path: '/', requested: { url: '/', host: 'a.example', fromAbsoluteForm: false } } as Exchange;
  const teapot: Answer = { status: 418, contentType: 'text/plain', headers: [], body: 'teapot\n' };
  const calls: string[] = [];
  const pass = (name: string): RequestStage => () => (calls.push(name), null);
  const answer = (name: string): RequestStage => () => (calls.push(name), teapot);

  it('lets a request through when there are no stages', () => assert.equal(runStages([], exchange), null));

  it('runs stages in order and stops at the first answer', () => {
    calls.length = 0;
    assert.equal(runStages([pass('a'), answer('b'), pass('c')], exchange), teapot);
    assert.deepEqual(calls, ['a', 'b']);
  });
});

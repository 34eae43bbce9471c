// CORS on real sockets, with the cases of ingress-nginx's test/e2e/annotations/cors.go: `*` by
// default, a listed origin echoed (ports exact, `*.` one label), preflights answered 204 by the
// proxy, the headers on every answer of the location, the backend's own replaced.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { simpleIngress } from '../helpers/objects.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';
const CORS_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers', 'access-control-max-age'];

describe('CORS', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  const reached: string[] = [];

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => {
      reached.push(`${req.method} ${req.headers.host}`);
      res.setHeader('access-control-allow-origin', 'https://from-the-backend.example');
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end('backend');
    });
    proxy = await startTlsProxy(resources);
    proxy.apply([
      ...localService('web', upstream.port),
      simpleIngress('any', 'any.example', '/', 'web', { annotations: { [`${A}/enable-cors`]: 'true' } }),
      simpleIngress('listed', 'listed.example', '/', 'web', {
        annotations: {
          [`${A}/enable-cors`]: 'true',
          [`${A}/cors-allow-origin`]: 'https://origin.cors.com:8080, https://*.wild.cors.com',
          [`${A}/cors-allow-credentials`]: 'false',
          [`${A}/cors-expose-headers`]: 'X-Total',
          [`${A}/cors-max-age`]: '600',
        },
      }),
      simpleIngress('off', 'off.example', '/', 'web', { annotations: { [`${A}/cors-allow-origin`]: 'https://origin.cors.com' } }),
    ]);
  });
  after(() => resources.closeAll());

  const corsOf = (headers: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(CORS_HEADERS.filter((name) => headers[name] !== undefined).map((name) => [name, headers[name]]));

  it('with enable-cors alone, answers every request with `*` and the documented defaults, in place of the backend\'s own', async () => {
    const response = await send(proxy.http, { host: 'any.example', headers: ['Origin', 'https://anything.example'] });
    assert.equal(response.status, 200);
    assert.deepEqual(corsOf(response.headers), {
      'access-control-allow-origin': '*',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
      'access-control-allow-headers': 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
      'access-control-max-age': '1728000',
    });
  });

  it('answers a preflight itself with 204, and the backend never sees it', async () => {
    reached.length = 0;
    const response = await send(proxy.http, { host: 'any.example', method: 'OPTIONS', headers: ['Origin', 'https://anything.example', 'Access-Control-Request-Method', 'PUT'] });
    assert.equal(response.status, 204);
    assert.equal(response.headers['access-control-allow-origin'], '*');
    assert.deepEqual(reached, []);
  });

  it('echoes a listed origin exactly, port included, and gives others no CORS headers', async () => {
    const listed = await send(proxy.http, { host: 'listed.example', headers: ['Origin', 'https://origin.cors.com:8080'] });
    assert.deepEqual(corsOf(listed.headers), {
      'access-control-allow-origin': 'https://origin.cors.com:8080',
      'access-control-allow-methods': 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
      'access-control-allow-headers': 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
      'access-control-expose-headers': 'X-Total',
      'access-control-max-age': '600',
    });
    for (const origin of ['https://origin.cors.com', 'https://origin.cors.com:8081', 'https://evil.example/https://origin.cors.com:8080']) {
      const other = await send(proxy.http, { host: 'listed.example', headers: ['Origin', origin] });
      assert.equal(other.headers['access-control-allow-origin'], 'https://from-the-backend.example', `${origin}: the backend's own header passes`);
    }
  });

  it('matches `*.` to exactly one label', async () => {
    const one = await send(proxy.http, { host: 'listed.example', headers: ['Origin', 'https://sub.wild.cors.com'] });
    assert.equal(one.headers['access-control-allow-origin'], 'https://sub.wild.cors.com');
    const two = await send(proxy.http, { host: 'listed.example', headers: ['Origin', 'https://a.b.wild.cors.com'] });
    assert.equal(two.headers['access-control-allow-origin'], 'https://from-the-backend.example');
  });

  it('passes a preflight from an origin not listed to the backend, as ingress-nginx does', async () => {
    reached.length = 0;
    const response = await send(proxy.http, { host: 'listed.example', method: 'OPTIONS', headers: ['Origin', 'https://other.example'] });
    assert.equal(response.status, 200);
    assert.deepEqual(reached, ['OPTIONS listed.example']);
  });

  it('puts the headers on the backend\'s errors too, and does nothing without enable-cors', async () => {
    const failed = await send(proxy.http, { host: 'any.example', path: '/fail', headers: ['Origin', 'https://x.example'] });
    assert.deepEqual([failed.status, failed.headers['access-control-allow-origin']], [500, '*']);
    const off = await send(proxy.http, { host: 'off.example', headers: ['Origin', 'https://origin.cors.com'] });
    assert.equal(off.headers['access-control-allow-origin'], 'https://from-the-backend.example');
  });
});

// custom-http-errors and the default-backend annotation on real sockets, as ingress-nginx's
// docs/user-guide/custom-errors.md and test/e2e/annotations/{customhttperrors,default_backend}.go
// describe them: the error backend gets `/` with the X-Code family of headers, and the client
// gets its answer; default-backend serves a location whose Service has no ready endpoints.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { service, simpleIngress } from '../helpers/objects.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';
const ERROR_HEADERS = ['x-code', 'x-format', 'x-original-uri', 'x-namespace', 'x-ingress-name', 'x-service-name', 'x-service-port', 'x-request-id'];

describe('custom error pages and default-backend', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let objects: KubeObject[];

  before(async () => {
    const app = await startUpstream(resources, (req, res) => {
      const path = (req.url ?? '').split('?')[0];
      res.statusCode = path === '/missing' ? 404 : path === '/broken' ? 500 : 200;
      res.end(`app ${req.url}`);
    });
    const errors = await startUpstream(resources, (req, res) => {
      res.statusCode = Number(req.headers['x-code'] ?? 500);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, ...Object.fromEntries(ERROR_HEADERS.map((name) => [name, req.headers[name]])) }));
    });
    proxy = await startTlsProxy(resources);
    objects = [
      ...localService('app', app.port),
      ...localService('error-pages', errors.port),
      service('empty'),
      simpleIngress('custom', 'custom.example', '/', 'app', { annotations: { [`${A}/custom-http-errors`]: '404,503', [`${A}/default-backend`]: 'error-pages' } }),
      simpleIngress('empty', 'empty.example', '/', 'empty', { annotations: { [`${A}/custom-http-errors`]: '503' } }),
      simpleIngress('fallback', 'fallback.example', '/', 'empty', { annotations: { [`${A}/default-backend`]: 'app' } }),
      simpleIngress('nobackend', 'nobackend.example', '/', 'app', { annotations: { [`${A}/custom-http-errors`]: '500' } }),
    ];
    proxy.apply(objects);
  });
  after(() => resources.closeAll());

  it('replaces a listed status with the error backend\'s answer to "/", with the X-Code headers', async () => {
    const response = await send(proxy.http, { host: 'custom.example', path: '/missing?q=1', headers: ['Accept', 'text/html', 'X-Request-ID', 'abc123'] });
    assert.equal(response.status, 404);
    assert.deepEqual(JSON.parse(response.body.toString()), {
      method: 'GET',
      url: '/',
      host: 'custom.example',
      'x-code': '404',
      'x-format': 'text/html',
      'x-original-uri': '/missing?q=1',
      'x-namespace': 'default',
      'x-ingress-name': 'custom',
      'x-service-name': 'app',
      'x-service-port': '80',
      'x-request-id': 'abc123',
    });
  });

  it('passes statuses it doesn\'t list, and successful answers, through unchanged', async () => {
    const broken = await send(proxy.http, { host: 'custom.example', path: '/broken' });
    assert.deepEqual([broken.status, broken.body.toString()], [500, 'app /broken']);
    const fine = await send(proxy.http, { host: 'custom.example', path: '/ok' });
    assert.deepEqual([fine.status, fine.body.toString()], [200, 'app /ok']);
  });

  it('replaces the proxy\'s own 503 for a Service without endpoints too (error backend: --default-backend-service)', async () => {
    proxy.apply(objects, { defaultBackendService: { namespace: 'default', name: 'error-pages' } });
    const response = await send(proxy.http, { host: 'empty.example', path: '/x' });
    assert.equal(response.status, 503);
    assert.equal((JSON.parse(response.body.toString()) as Record<string, string>)['x-code'], '503');
    proxy.apply(objects);
  });

  it('sends the requests of a location whose Service has no endpoints to the default-backend annotation\'s Service, path unchanged', async () => {
    const response = await send(proxy.http, { host: 'fallback.example', path: '/keep/path' });
    assert.deepEqual([response.status, response.body.toString()], [200, 'app /keep/path']);
  });

  it('answers with the built-in default backend\'s 404 when there is no error backend, as ingress-nginx\'s own default backend does', async () => {
    const response = await send(proxy.http, { host: 'nobackend.example', path: '/broken' });
    assert.deepEqual([response.status, response.body.toString()], [404, 'default backend - 404\n']);
  });

  it('uses --default-backend-service as the error backend when the Ingress names none', async () => {
    proxy.apply(objects, { defaultBackendService: { namespace: 'default', name: 'error-pages' } });
    const response = await send(proxy.http, { host: 'nobackend.example', path: '/broken' });
    assert.equal(response.status, 500);
    assert.equal((JSON.parse(response.body.toString()) as Record<string, string>)['x-service-name'], 'app');
    proxy.apply(objects);
  });
});

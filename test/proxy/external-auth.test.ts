// auth-url on real sockets, against a real auth service shaped like oauth2-proxy's /oauth2/auth
// (202 with X-Auth-Request-User for a session cookie, 401 otherwise), as ingress-nginx's
// docs/examples/auth/oauth-external-auth and test/e2e/annotations/auth.go use it.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { closedPort, Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { simpleIngress } from '../helpers/objects.ts';
import type { KubeObject } from '../../operator/model.ts';
import { rawRequest, statusOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

interface AuthCall {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
}

describe('external auth (auth-url)', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  const authCalls: AuthCall[] = [];
  const backendSaw: IncomingHttpHeaders[] = [];

  before(async () => {
    const auth = await startUpstream(resources, (req, res) => {
      let bodyBytes = 0;
      req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      req.on('end', () => {
        authCalls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
        const cookie = req.headers.cookie ?? '';
        if (cookie.includes('session=ok')) {
          res.writeHead(202, { 'x-auth-request-user': 'alice', 'set-cookie': 'session=ok; Path=/; HttpOnly' });
        } else if (cookie.includes('session=banned')) {
          res.writeHead(403);
        } else if (cookie.includes('session=broken')) {
          res.writeHead(502);
        } else {
          res.writeHead(401, { 'www-authenticate': 'Bearer realm="example"' });
        }
        res.end('auth says');
      });
    });
    const backend = await startUpstream(resources, (req, res) => {
      backendSaw.push(req.headers);
      res.end(`backend ${req.method} ${req.url}`);
    });
    backend.server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    proxy = await startTlsProxy(resources);
    const authUrl = `http://127.0.0.1:${auth.port}/oauth2/auth`;
    proxy.apply([
      ...localService('web', backend.port),
      simpleIngress('app', 'app.example', '/', 'web', { annotations: { [`${A}/auth-url`]: authUrl, [`${A}/auth-response-headers`]: 'X-Auth-Request-User, X-Auth-Request-Email' } }),
      simpleIngress('signin', 'signin.example', '/', 'web', { annotations: { [`${A}/auth-url`]: authUrl, [`${A}/auth-signin`]: 'https://login.example/oauth2/start' } }),
      simpleIngress('signin-rd', 'rd.example', '/', 'web', { annotations: { [`${A}/auth-url`]: authUrl, [`${A}/auth-signin`]: 'https://login.example/oauth2/start?rd=https://$host$escaped_request_uri' } }),
      simpleIngress('down', 'down.example', '/', 'web', { annotations: { [`${A}/auth-url`]: `http://127.0.0.1:${await closedPort()}/auth` } }),
    ]);
  });
  after(() => resources.closeAll());

  it('answers 401 with the service\'s WWW-Authenticate when it says 401, and the backend sees nothing', async () => {
    backendSaw.length = 0;
    const response = await send(proxy.http, { host: 'app.example', path: '/private' });
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="example"');
    assert.deepEqual(backendSaw, []);
  });

  it('lets a signed-in request through with the service\'s X-Auth-Request-User and Set-Cookie, never a client\'s own', async () => {
    backendSaw.length = 0;
    authCalls.length = 0;
    const response = await send(proxy.http, { host: 'app.example', method: 'POST', path: '/orders?page=2', headers: ['Cookie', 'session=ok', 'X-Auth-Request-User', 'admin'], body: 'order body' });
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'backend POST /orders?page=2');
    assert.deepEqual(response.headers['set-cookie'], ['session=ok; Path=/; HttpOnly']);
    assert.equal(backendSaw[0]?.['x-auth-request-user'], 'alice');
    const call = authCalls[0] as AuthCall;
    assert.deepEqual([call.method, call.url, call.bodyBytes], ['GET', '/oauth2/auth', 0]);
    assert.equal(call.headers['x-original-url'], 'http://app.example/orders?page=2');
    assert.equal(call.headers['x-original-method'], 'POST');
    assert.equal(call.headers['x-sent-from'], 'nginx-ingress-controller');
    assert.equal(call.headers['x-auth-request-redirect'], '/orders?page=2');
    assert.equal(call.headers['x-real-ip'], '127.0.0.1');
    assert.equal(call.headers.cookie, 'session=ok');
    assert.equal(call.headers['content-length'], undefined);
    assert.equal(backendSaw[0]?.['x-request-id'], call.headers['x-request-id'], 'one request id for the sub-request and the request');
  });

  it('removes a client\'s copy of a listed header the service doesn\'t send (X-Auth-Request-Email)', async () => {
    backendSaw.length = 0;
    const response = await send(proxy.http, { host: 'app.example', headers: ['Cookie', 'session=ok', 'X-Auth-Request-Email', 'admin@example.com'] });
    assert.equal(response.status, 200);
    assert.equal(backendSaw[0]?.['x-auth-request-email'], undefined);
  });

  it('passes 403 to the client, and answers 500 for any other answer or no answer', async () => {
    const statuses = await Promise.all([
      send(proxy.http, { host: 'app.example', headers: ['Cookie', 'session=banned'] }),
      send(proxy.http, { host: 'app.example', headers: ['Cookie', 'session=broken'] }),
      send(proxy.http, { host: 'down.example', headers: ['Cookie', 'session=ok'] }),
    ]);
    assert.deepEqual(statuses.map((response) => response.status), [403, 500, 500]);
  });

  it('turns a 401 into a 302 to auth-signin, adding rd=<the request URL> as ingress-nginx does', async () => {
    const response = await send(proxy.http, { host: 'signin.example', path: '/a%20b?x=1' });
    assert.equal(response.status, 302);
    assert.equal(response.headers.location, `https://login.example/oauth2/start?rd=http://signin.example${encodeURIComponent('/a%20b?x=1')}`);
  });

  it('fills auth-signin\'s own rd variables instead, when it has one', async () => {
    const response = await send(proxy.http, { host: 'rd.example', path: '/dashboard?tab=1' });
    assert.equal(response.headers.location, `https://login.example/oauth2/start?rd=https://rd.example${encodeURIComponent('/dashboard?tab=1')}`);
  });

  it('asks the service about a WebSocket upgrade too', async () => {
    const refused = await rawRequest(proxy.http, `GET /ws HTTP/1.1\r\nHost: app.example\r\n${WEBSOCKET_UPGRADE}\r\n`);
    assert.equal(statusOf(refused), 401);
    const allowed = await rawRequest(proxy.http, `GET /ws HTTP/1.1\r\nHost: app.example\r\nCookie: session=ok\r\n${WEBSOCKET_UPGRADE}\r\n`);
    assert.equal(statusOf(allowed), 101);
  });
});

describe('auth-cache-key and auth-proxy-set-headers on real sockets', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let objects: KubeObject[];
  const authCalls: AuthCall[] = [];
  const backendSaw: IncomingHttpHeaders[] = [];
  const callsFor = (token: string): number => authCalls.filter((call) => call.headers.authorization === `Bearer ${token}`).length;

  before(async () => {
    // Bearer tokens as an API gateway's auth service sees them: alice is let in, "no-store" and
    // "cookie" are let in with answers a cache must not keep, anyone else is refused.
    const auth = await startUpstream(resources, (req, res) => {
      authCalls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: 0 });
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (token === 'alice') res.writeHead(200, { 'x-auth-request-user': 'alice' });
      else if (token === 'no-store') res.writeHead(200, { 'x-auth-request-user': 'no-store', 'cache-control': 'no-store' });
      else if (token === 'cookie') res.writeHead(200, { 'x-auth-request-user': 'cookie', 'set-cookie': 'seen=1' });
      else res.writeHead(401, { 'www-authenticate': 'Bearer realm="api"' });
      res.end();
    });
    const backend = await startUpstream(resources, (req, res) => {
      backendSaw.push(req.headers);
      res.end('backend');
    });
    proxy = await startTlsProxy(resources);
    const cached = {
      [`${A}/auth-url`]: `http://127.0.0.1:${auth.port}/verify`,
      [`${A}/auth-cache-key`]: '$http_authorization',
      [`${A}/auth-response-headers`]: 'X-Auth-Request-User',
      [`${A}/auth-proxy-set-headers`]: 'auth-headers',
    };
    objects = [
      ...localService('api', backend.port),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'auth-headers', namespace: 'default' }, data: { 'X-Auth-Tenant': 'shop', 'X-Original-Path': '$request_uri', 'X-Client': '$remote_addr' } } as KubeObject,
      simpleIngress('cached', 'cached.example', '/', 'api', { annotations: cached }),
      simpleIngress('other', 'other.example', '/', 'api', { annotations: cached }),
      simpleIngress('no-map', 'nomap.example', '/', 'api', { annotations: { ...cached, [`${A}/auth-proxy-set-headers`]: 'missing' } }),
    ];
    proxy.apply(objects);
  });
  after(() => resources.closeAll());

  const asUser = (host: string, token: string, path = '/') => send(proxy.http, { host, path, headers: ['Authorization', `Bearer ${token}`] });

  it('asks the auth service once per key while its verdict is fresh, and copies the kept headers upstream every time', async () => {
    backendSaw.length = 0;
    const answers = [await asUser('cached.example', 'alice'), await asUser('cached.example', 'alice'), await asUser('cached.example', 'alice')];
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200]);
    assert.equal(callsFor('alice'), 1);
    assert.deepEqual(backendSaw.map((headers) => headers['x-auth-request-user']), ['alice', 'alice', 'alice']);
  });

  it('keeps a 401 too (ingress-nginx\'s default 200 202 401 5m), with its WWW-Authenticate', async () => {
    const answers = [await asUser('cached.example', 'mallory'), await asUser('cached.example', 'mallory')];
    assert.deepEqual(answers.map((answer) => [answer.status, answer.headers['www-authenticate']]), [[401, 'Bearer realm="api"'], [401, 'Bearer realm="api"']]);
    assert.equal(callsFor('mallory'), 1);
  });

  it('keeps no verdict whose answer says no-store or sets a cookie', async () => {
    for (let i = 0; i < 2; i++) {
      assert.equal((await asUser('cached.example', 'no-store')).status, 200);
      assert.equal((await asUser('cached.example', 'cookie')).status, 200);
    }
    assert.deepEqual([callsFor('no-store'), callsFor('cookie')], [2, 2]);
  });

  it('keeps each location\'s verdicts apart: the same key on another host asks again', async () => {
    const before = callsFor('alice');
    assert.equal((await asUser('other.example', 'alice')).status, 200);
    assert.equal(callsFor('alice'), before + 1);
  });

  it('keeps the verdicts across a route-table swap', async () => {
    const before = callsFor('alice');
    proxy.apply(objects);
    assert.equal((await asUser('cached.example', 'alice')).status, 200);
    assert.equal(callsFor('alice'), before);
  });

  it('sends the ConfigMap\'s headers, nginx variables filled in, to the auth service and not to the backend', async () => {
    backendSaw.length = 0;
    assert.equal((await asUser('cached.example', 'fresh-token', '/orders?page=2')).status, 401);
    const call = authCalls.at(-1) as AuthCall;
    assert.deepEqual([call.headers['x-auth-tenant'], call.headers['x-original-path'], call.headers['x-client']], ['shop', '/orders?page=2', '127.0.0.1']);
    assert.equal((await asUser('cached.example', 'alice')).status, 200);
    assert.equal(backendSaw[0]?.['x-auth-tenant'], undefined);
  });

  it('closes a location whose auth-proxy-set-headers ConfigMap doesn\'t exist: 503, and neither service is asked', async () => {
    const calls = authCalls.length;
    backendSaw.length = 0;
    assert.equal((await asUser('nomap.example', 'alice')).status, 503);
    assert.deepEqual([authCalls.length, backendSaw.length], [calls, 0]);
  });
});

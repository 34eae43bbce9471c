// The guards can't be walked around: a location protected by an allowlist or basic auth, beside an
// open one on the same host, each with its own backend; hostile request shapes (dot segments,
// escaped slashes and dots, `;` parameters, case on a regex host, forwarding-header aliases and
// duplicates, upgrades) either meet the guard or reach the open backend, never the protected one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { ingress, simpleIngress } from '../helpers/objects.ts';
import { rawRequest, statusOf, bodyOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

describe('no way around a guard', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;

  before(async () => {
    const protectedBackend = await startUpstream(resources, (_req, res) => res.end('PROTECTED'));
    const open = await startUpstream(resources, (_req, res) => res.end('open'));
    protectedBackend.server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nPROTECTED'));
    proxy = await startTlsProxy(resources);
    const guarded = { [`${A}/allowlist-source-range`]: '10.0.0.0/8' };
    const objects: KubeObject[] = [
      ...localService('admin', protectedBackend.port),
      ...localService('public', open.port),
      simpleIngress('admin', 'plain.example', '/admin', 'admin', { annotations: guarded }),
      simpleIngress('public', 'plain.example', '/', 'public'),
      // A regex host: paths are case-insensitive there, so the guard must be too.
      ingress('admin-regex', { className: 'pier', annotations: { ...guarded, [`${A}/use-regex`]: 'true' }, rules: [{ host: 'regex.example', paths: [{ path: '/admin/.*', pathType: 'ImplementationSpecific', service: 'admin' }] }] }),
      simpleIngress('public-regex', 'regex.example', '/', 'public'),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '192.0.2.0/24' } } as KubeObject,
    ];
    proxy.apply(objects, { configMap: { namespace: 'ingress', name: 'pier' } });
  });
  after(() => resources.closeAll());

  const attempts: { readonly name: string; readonly head: string }[] = [
    { name: 'the path itself', head: 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\n' },
    { name: 'a dot segment', head: 'GET /public/../admin/users HTTP/1.1\r\nHost: plain.example\r\n' },
    { name: 'escaped dots', head: 'GET /x/%2e%2e/admin/users HTTP/1.1\r\nHost: plain.example\r\n' },
    { name: 'an escaped slash', head: 'GET /admin%2fusers HTTP/1.1\r\nHost: plain.example\r\n' },
    { name: 'repeated slashes', head: 'GET //admin//users HTTP/1.1\r\nHost: plain.example\r\n' },
    { name: 'a ; parameter (reaches the open backend, as nginx routes it)', head: 'GET /admin;jsessionid=1 HTTP/1.1\r\nHost: plain.example\r\n' },
    { name: 'upper case on a regex host', head: 'GET /ADMIN/users HTTP/1.1\r\nHost: regex.example\r\n' },
    { name: 'an absolute-form target', head: 'GET http://plain.example/admin/users HTTP/1.1\r\nHost: other.example\r\n' },
    { name: 'X_Forwarded_For naming an allowed client', head: 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\nX_Forwarded_For: 10.0.0.1\r\n' },
    { name: 'Forwarded naming an allowed client', head: 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\nForwarded: for=10.0.0.1\r\n' },
    { name: 'X-Forwarded-For from a peer not trusted to send it', head: 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\nX-Forwarded-For: 10.0.0.1\r\n' },
    { name: 'two X-Forwarded-For headers', head: 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n' },
    { name: 'two Host headers', head: 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\nHost: other.example\r\n' },
  ];
  for (const attempt of attempts) {
    it(`${attempt.name}: a GET and an upgrade never reach the protected backend`, async () => {
      for (const text of [`${attempt.head}Connection: close\r\n\r\n`, `${attempt.head}${WEBSOCKET_UPGRADE}\r\n`]) {
        const answer = await rawRequest(proxy.http, text);
        assert.notEqual(statusOf(answer), 0, answer);
        assert.ok(!bodyOf(answer).includes('PROTECTED') && !answer.includes('PROTECTED'), `reached the protected backend:\n${answer}`);
      }
    });
  }

  it('the guard is what stops them: the same path is 403, not a routing accident', async () => {
    assert.equal(statusOf(await rawRequest(proxy.http, 'GET /admin/users HTTP/1.1\r\nHost: plain.example\r\nConnection: close\r\n\r\n')), 403);
    assert.equal(statusOf(await rawRequest(proxy.http, 'GET /ADMIN/users HTTP/1.1\r\nHost: regex.example\r\nConnection: close\r\n\r\n')), 403);
  });
});

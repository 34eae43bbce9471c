// allowlist/denylist source ranges on real sockets, from IPv4 and IPv6 loopback clients to a proxy
// listening on both, for plain requests and WebSocket upgrades alike; and the client address with
// use-forwarded-headers, as the backend sees it in X-Real-IP and X-Forwarded-For.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { ProxyServer } from '../../proxy/server.ts';
import { createMetrics } from '../../proxy/metrics.ts';
import { DEFAULT_TIMEOUTS, Resources, startUpstream } from '../helpers/upstreams.ts';
import { simpleIngress } from '../helpers/objects.ts';
import { WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { compute } from '../routes/route-helpers.ts';
import { localService } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

/** GET through the proxy from a loopback address of one family; the status and body. */
function get(address: '127.0.0.1' | '::1', port: number, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path: '/', headers: { host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

/** A WebSocket upgrade's status line, from a loopback address of one family. */
function upgradeStatus(address: '127.0.0.1' | '::1', port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, address, () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n${WEBSOCKET_UPGRADE}\r\n`));
    let answer = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject).on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

describe('source ranges on IPv4 and IPv6 loopback', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let server: ProxyServer;
  let port: number;
  let objects: KubeObject[];

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => res.end(`real-ip=${req.headers['x-real-ip']} xff=${req.headers['x-forwarded-for']}`));
    upstream.server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    server = new ProxyServer({ bindAddress: '::', httpPort: 0, defaultServerPort: 0, timeouts: DEFAULT_TIMEOUTS }, createMetrics());
    port = (await server.listen()).http;
    resources.add(() => server.close(200));
    objects = [
      ...localService('web', upstream.port),
      simpleIngress('v4', 'v4.example', '/', 'web', { annotations: { [`${A}/allowlist-source-range`]: '127.0.0.0/8' } }),
      simpleIngress('v6', 'v6.example', '/', 'web', { annotations: { [`${A}/allowlist-source-range`]: '::1/128' } }),
      simpleIngress('deny6', 'deny6.example', '/', 'web', { annotations: { [`${A}/denylist-source-range`]: '::1' } }),
    ];
    server.swap(compute(objects).table);
  });
  after(() => resources.closeAll());

  it('lets each family through only the list that names it', async () => {
    const statuses = await Promise.all([
      get('127.0.0.1', port, 'v4.example'),
      get('::1', port, 'v4.example'),
      get('127.0.0.1', port, 'v6.example'),
      get('::1', port, 'v6.example'),
      get('127.0.0.1', port, 'deny6.example'),
      get('::1', port, 'deny6.example'),
    ]);
    assert.deepEqual(statuses.map((answer) => answer.status), [200, 403, 403, 200, 200, 403]);
  });

  it('answers a WebSocket upgrade from outside the list with the same 403', async () => {
    assert.deepEqual(await Promise.all([upgradeStatus('127.0.0.1', port, 'v4.example'), upgradeStatus('::1', port, 'v4.example')]), [101, 403]);
  });

  it('with use-forwarded-headers, a trusted peer names the client, and the backend gets it in X-Real-IP and the chain in X-Forwarded-For', async () => {
    const settings = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '127.0.0.1/32' } } as KubeObject;
    const guarded = simpleIngress('office', 'office.example', '/', 'web', { annotations: { [`${A}/allowlist-source-range`]: '203.0.113.0/24' } });
    server.swap(compute([...objects, guarded, settings], { configMap: { namespace: 'ingress', name: 'pier' } }).table);
    const viaTrusted = await get('127.0.0.1', port, 'office.example', { 'x-forwarded-for': '203.0.113.9' });
    assert.deepEqual(viaTrusted, { status: 200, body: 'real-ip=203.0.113.9 xff=203.0.113.9, 127.0.0.1' });
    const viaUntrusted = await get('::1', port, 'office.example', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(viaUntrusted.status, 403, '::1 is not in proxy-real-ip-cidr, so its X-Forwarded-For is not believed');
    server.swap(compute(objects).table);
  });
});

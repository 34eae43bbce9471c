// limit-rps / limit-rpm: the leaky bucket as nginx's limit_req with nodelay, on a clock the test
// gives it (ingress-nginx's docs: burst = rate × limit-burst-multiplier), then on real sockets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { RequestRateLimit } from '../../proxy/rate-limit.ts';
import { eventually, Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { statusOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { ingress, simpleIngress } from '../helpers/objects.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

describe('the request-rate limit', () => {
  const cases: { rule: string; perSecond: number; burst: number; requests: readonly (readonly [client: string, atMs: number])[]; allowed: readonly boolean[] }[] = [
    {
      rule: 'limit-rps 5 with the default multiplier lets a fresh client through 1 + 25 requests at once, then refuses',
      perSecond: 5, burst: 25,
      requests: Array.from({ length: 27 }, () => ['a', 0] as const),
      allowed: [...Array(26).fill(true), false],
    },
    {
      rule: 'The bucket drains at the rate: a second later, five more fit',
      perSecond: 5, burst: 0,
      requests: [['a', 0], ['a', 0], ['a', 199], ['a', 200], ['a', 399], ['a', 400]],
      allowed: [true, false, false, true, false, true],
    },
    {
      rule: 'A refused request doesn\'t count, and each client has its own bucket',
      perSecond: 1, burst: 1,
      requests: [['a', 0], ['a', 0], ['a', 0], ['a', 0], ['b', 0], ['a', 1000]],
      allowed: [true, true, false, false, true, true],
    },
    {
      rule: 'limit-rpm 60 is one request a second',
      perSecond: 1, burst: 0,
      requests: [['a', 0], ['a', 500], ['a', 1000], ['a', 1999], ['a', 2000]],
      allowed: [true, false, true, false, true],
    },
  ];
  for (const testCase of cases) {
    it(testCase.rule, () => {
      const limit = new RequestRateLimit(testCase.perSecond, testCase.burst);
      assert.deepEqual(testCase.requests.map(([client, at]) => limit.allow(client, at)), testCase.allowed);
    });
  }
});

describe('rate limits on real sockets', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let objects: KubeObject[];

  before(async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('ok'));
    proxy = await startTlsProxy(resources);
    // limit-rpm 1 × multiplier 1: two requests at once, then none for a minute, so the test can't race the clock.
    const strict = { [`${A}/limit-rpm`]: '1', [`${A}/limit-burst-multiplier`]: '1' };
    objects = [
      ...localService('web', upstream.port),
      ingress('shared', { className: 'pier', annotations: strict, rules: [{ host: 'shared.example', paths: [{ path: '/a', service: 'web' }, { path: '/b', service: 'web' }] }] }),
      simpleIngress('exempt', 'exempt.example', '/', 'web', { annotations: { ...strict, [`${A}/limit-whitelist`]: '127.0.0.1/32' } }),
      simpleIngress('coded', 'coded.example', '/', 'web', { annotations: strict }),
    ];
    proxy.apply([...objects, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'limit-req-status-code': '429' } } as KubeObject], { configMap: { namespace: 'ingress', name: 'pier' } });
  });
  after(() => resources.closeAll());

  const statuses = async (host: string, paths: readonly string[]): Promise<number[]> => {
    const answers: number[] = [];
    for (const path of paths) answers.push((await send(proxy.http, { host, path })).status);
    return answers;
  };

  it('counts every location of one Ingress in one zone, and answers limit-req-status-code past the burst', async () => {
    assert.deepEqual(await statuses('shared.example', ['/a', '/b', '/a', '/b']), [200, 200, 429, 429]);
  });

  it('never limits a client in limit-whitelist', async () => {
    assert.deepEqual(await statuses('exempt.example', ['/', '/', '/', '/']), [200, 200, 200, 200]);
  });

  it('keeps a client\'s bucket across a route-table swap', async () => {
    assert.deepEqual(await statuses('coded.example', ['/', '/']), [200, 200]);
    proxy.apply([...objects, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'limit-req-status-code': '429' } } as KubeObject], { configMap: { namespace: 'ingress', name: 'pier' } });
    assert.deepEqual(await statuses('coded.example', ['/']), [429]);
  });
});

describe('limit-connections on real sockets', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  /** Responses the backend holds until the test lets them go. */
  const held: ServerResponse[] = [];
  const tunnels: Socket[] = [];

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end('ok');
    });
    upstream.server.on('upgrade', (_req, socket: Socket) => {
      tunnels.push(socket);
      // As a WebSocket server does: the client's end ends the connection.
      socket.on('end', () => socket.end());
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    proxy = await startTlsProxy(resources);
    proxy.apply([
      ...localService('web', upstream.port),
      simpleIngress('two', 'two.example', '/', 'web', { annotations: { [`${A}/limit-connections`]: '2' } }),
      simpleIngress('one', 'one.example', '/', 'web', { annotations: { [`${A}/limit-connections`]: '1' } }),
      simpleIngress('exempt', 'exempt.example', '/', 'web', { annotations: { [`${A}/limit-connections`]: '1', [`${A}/limit-allowlist`]: '127.0.0.0/8' } }),
      simpleIngress('guarded', 'guarded.example', '/', 'web', { annotations: { [`${A}/limit-connections`]: '1', [`${A}/auth-type`]: 'basic', [`${A}/auth-secret`]: 'users' } }),
      // An htpasswd line as `openssl passwd -apr1` writes it.
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'users', namespace: 'default' }, type: 'Opaque', data: { auth: Buffer.from(`alice:${execFileSync('openssl', ['passwd', '-apr1', 'alice-pw'], { encoding: 'utf8' }).trim()}\n`).toString('base64') } } as KubeObject,
    ]);
  });
  after(() => {
    for (const socket of tunnels) socket.destroy();
    return resources.closeAll();
  });

  const releaseHeld = (): void => {
    for (const res of held.splice(0)) res.end('released');
  };

  it('answers 503 to a third request while two from the same client are in progress, and takes it once one ends', async () => {
    const first = send(proxy.http, { host: 'two.example', path: '/hold' });
    const second = send(proxy.http, { host: 'two.example', path: '/hold' });
    await eventually(() => held.length === 2, 3000, 'two held requests');
    assert.equal((await send(proxy.http, { host: 'two.example' })).status, 503);
    (held.shift() as ServerResponse).end('released');
    assert.equal((await first).status, 200);
    assert.equal((await send(proxy.http, { host: 'two.example' })).status, 200);
    releaseHeld();
    assert.equal((await second).status, 200);
  });

  /** Requests until one is answered 200 (at most 100, so a leak fails instead of hanging): their statuses. */
  const untilServed = async (host: string): Promise<number[]> => {
    const statuses: number[] = [];
    while (statuses.at(-1) !== 200 && statuses.length < 100) statuses.push((await send(proxy.http, { host })).status);
    return statuses;
  };

  it('counts a WebSocket as in progress until it closes', async () => {
    const client = connect(proxy.http, '127.0.0.1');
    const upgraded = new Promise<string>((resolve) => client.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    client.write(`GET /ws HTTP/1.1\r\nHost: one.example\r\n${WEBSOCKET_UPGRADE}\r\n`);
    assert.equal(statusOf(await upgraded), 101);
    assert.equal((await send(proxy.http, { host: 'one.example' })).status, 503);
    client.destroy();
    const statuses = await untilServed('one.example');
    assert.equal(statuses.at(-1), 200, `the slot never came back: ${statuses.length} answers of 503`);
  });

  it('gives the slot back when a later stage answers (basic auth\'s 401), so refused requests never pile up', async () => {
    const refused: number[] = [];
    for (let i = 0; i < 3; i++) refused.push((await send(proxy.http, { host: 'guarded.example' })).status);
    assert.deepEqual(refused, [401, 401, 401]);
    const signedIn = await send(proxy.http, { host: 'guarded.example', headers: ['Authorization', `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`] });
    assert.equal(signedIn.status, 200);
  });

  it('never limits a client in limit-allowlist', async () => {
    const holding = [send(proxy.http, { host: 'exempt.example', path: '/hold' }), send(proxy.http, { host: 'exempt.example', path: '/hold' })];
    await eventually(() => held.length === 2, 3000, 'two held requests');
    assert.equal((await send(proxy.http, { host: 'exempt.example' })).status, 200);
    releaseHeld();
    await Promise.all(holding);
  });
});

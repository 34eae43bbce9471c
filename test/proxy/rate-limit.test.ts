// limit-rps / limit-rpm: the leaky bucket as nginx's limit_req with nodelay, on a clock the test
// gives it (ingress-nginx's docs: burst = rate × limit-burst-multiplier), then on real sockets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { RequestRateLimit } from '../../proxy/rate-limit.ts';
import { Resources, send, startUpstream } from '../helpers/upstreams.ts';
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

// Upstreams outlive a route-table swap: their round-robin position stays, a swap updates their
// endpoints in place, and a table that fails to compile changes nothing. Real sockets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RouteTableSpec } from '../../proxy/route-spec.ts';
import { UpstreamPools } from '../../proxy/upstream-pools.ts';
import { LOCALHOST, Resources, send, startProxy, startUpstream, tableFor, type Proxy } from '../helpers/upstreams.ts';

describe('upstreams across swaps', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: Proxy;
  let ports: number[];

  before(async () => {
    const names = ['a', 'b', 'c'];
    ports = await Promise.all(names.map(async (name) => (await startUpstream(resources, (_req, res) => res.end(name))).port));
    proxy = await startProxy(resources);
  });
  after(() => resources.closeAll());

  const body = async (host = 'app.example.com'): Promise<string> => (await send(proxy.ports.http, { host })).body.toString();
  const endpoints = (...indexes: number[]) => indexes.map((index) => ({ address: LOCALHOST, port: ports[index] as number }));
  /** The same upstream, plus a host that has nothing to do with it. */
  const withUnrelatedHost = (spec: RouteTableSpec): RouteTableSpec => ({ ...spec, virtualHosts: [...spec.virtualHosts, { ...(tableFor('other.example.com', []).virtualHosts[0]!), routes: [] }] });

  it('keeps the round-robin position through a swap that leaves the upstream in place', async () => {
    proxy.server.swap(tableFor('app.example.com', endpoints(0, 1)));
    assert.equal(await body(), 'a');
    proxy.server.swap(withUnrelatedHost(tableFor('app.example.com', endpoints(0, 1))));
    assert.equal(await body(), 'b', 'the next request goes to the next endpoint, not back to the first');
    assert.equal(await body(), 'a');
  });

  it('gives a kept upstream the new table\'s endpoints', async () => {
    proxy.server.swap(tableFor('app.example.com', endpoints(0, 1)));
    proxy.server.swap(tableFor('app.example.com', endpoints(2)));
    assert.deepEqual([await body(), await body()], ['c', 'c']);
  });

  it('changes nothing when the new table fails to compile, endpoints included', async () => {
    proxy.server.swap(tableFor('app.example.com', endpoints(0)));
    const broken = tableFor('app.example.com', endpoints(2));
    const withBadRegex: RouteTableSpec = {
      ...broken,
      virtualHosts: [{ ...broken.virtualHosts[0]!, routes: [...broken.virtualHosts[0]!.routes, { ...broken.virtualHosts[0]!.routes[0]!, path: '/(?=x)', match: 'regex' }] }],
    };
    assert.throws(() => proxy.server.swap(withBadRegex), /regex path/);
    assert.deepEqual([await body(), await body()], ['a', 'a']);
  });

  it('replaces the endpoints of a kept upstream only when they changed, not when a new table lists equal ones', () => {
    const pools = new UpstreamPools();
    const committed = (spec: RouteTableSpec) => {
      const prepared = pools.prepare(spec.upstreams);
      prepared.commit();
      return prepared.byId.get('default/web:80')!;
    };
    const upstream = committed(tableFor('app.example.com', endpoints(0, 1)));
    const origins = upstream.originsFor('HTTP');
    assert.equal(committed(tableFor('app.example.com', endpoints(0, 1))), upstream);
    assert.equal(upstream.originsFor('HTTP'), origins, 'equal endpoints in a new list leave the origins as they were');
    committed(tableFor('app.example.com', endpoints(1, 0)));
    assert.deepEqual(upstream.originsFor('HTTP'), [`http://${LOCALHOST}:${ports[1]}`, `http://${LOCALHOST}:${ports[0]}`]);
  });
});

// A route table built with the one it replaces takes over the compiled hosts whose specs did not
// change (the same objects), so a swap costs what changed: the untouched hosts route to the very
// targets they had, the changed ones by their new spec, and anything a target is built from
// besides its own spec (table-wide settings, its upstreams) changing compiles them all again.
// First the tables themselves, with the proxy's stage compiler and upstream pools; then real sockets.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Endpoint, RouteSpec, RouteTableSpec, UpstreamSpec, VirtualHostSpec } from '../../proxy/route-spec.ts';
import { RouteTable, type Target } from '../../proxy/route-table.ts';
import { stageCompiler } from '../../proxy/stages.ts';
import type { Exchange } from '../../proxy/pipeline.ts';
import { UpstreamPools } from '../../proxy/upstream-pools.ts';
import { Resources, send, startProxy, startUpstream } from '../helpers/upstreams.ts';

const compileStages = stageCompiler({ httpsEnabled: true, redirectPortSuffix: () => '', rateLimits: new Map(), connectionLimits: new Map() });
const ERRORS = 'default/errors:80';

const route = (path: string, upstream: string, extra: Partial<RouteSpec> = {}): RouteSpec => ({
  path,
  match: 'prefix',
  pathType: 'Prefix',
  upstream,
  ingress: { namespace: 'default', name: upstream.slice('default/'.length, -':80'.length) },
  ...extra,
});
const upstream = (name: string, endpoints: readonly Endpoint[] = [{ address: '10.0.0.1', port: 8080 }]): UpstreamSpec => ({ id: `default/${name}:80`, namespace: 'default', service: name, servicePort: '80', endpoints });

/** Hosts of every kind a lookup finds: the catch-all, a wildcard, one with an alias, a regex with a fallback, error pages on another upstream. */
function hosts(): VirtualHostSpec[] {
  return [
    { host: '', routes: [route('/', 'default/any:80')], fallback: null },
    { host: '*.wild.example', routes: [route('/', 'default/wild:80')], fallback: null },
    { host: 'a.example', aliases: ['alias-a.example'], routes: [route('/', 'default/a:80', { rateLimit: { zone: 'a', rps: 5, rpsBurst: 5, rpm: 0, rpmBurst: 0, allowlist: [], status: 503 } })], fallback: null },
    { host: 'b.example', routes: [route('/old', 'default/b:80'), route('/re/[0-9]+', 'default/b:80', { match: 'regex' })], fallback: { upstream: 'default/b:80', ingress: null } },
    { host: 'c.example', routes: [route('/', 'default/c:80', { customErrors: { codes: [503], upstream: ERRORS } })], fallback: null },
  ];
}

function table(virtualHosts: readonly VirtualHostSpec[] = hosts(), fields: Partial<RouteTableSpec> = {}): RouteTableSpec {
  return { virtualHosts, defaultBackend: null, upstreams: ['a', 'any', 'b', 'c', 'errors', 'wild'].map((name) => upstream(name)), ...fields };
}

/** What ProxyServer.swap does with the tables: pooled upstreams, the previous table lent. */
function swapIn(pools: UpstreamPools, spec: RouteTableSpec, previous: RouteTable | null): RouteTable {
  const prepared = pools.prepare(spec.upstreams);
  const compiled = new RouteTable(spec, compileStages, prepared, previous);
  prepared.commit();
  return compiled;
}

/** `spec` with the same host objects in a new array, `b.example` replaced by one routing `/new` instead of `/old`. */
function withBChanged(spec: RouteTableSpec): RouteTableSpec {
  const virtualHosts = spec.virtualHosts.map((each) => (each.host === 'b.example' ? { ...each, routes: [route('/new', 'default/b:80')] } : each));
  return { ...spec, virtualHosts, upstreams: [...spec.upstreams] };
}

/** Requests that reach every host but b.example, by exact name, alias, wildcard and catch-all. */
const UNTOUCHED: readonly (readonly [string, string])[] = [
  ['a.example', '/x'],
  ['alias-a.example', '/x'],
  ['one.wild.example', '/'],
  ['unknown.example', '/'],
  ['c.example', '/'],
];

/** The headers a target's response stages give an HTTPS answer with none. */
const hstsOf = (target: Target): string[] => {
  const headers: string[] = [];
  for (const stage of target.responseStages) stage({ secure: true } as Exchange, 200, headers);
  return headers;
};

const matched = (compiled: RouteTable, host: string, path: string): Target => {
  const target = compiled.match(host, path);
  assert.ok(target, `${host}${path} is routed`);
  return target;
};

describe('route tables built with the table they replace', () => {
  it('route the hosts a swap left untouched to the same compiled targets, and the changed host by its new spec', () => {
    const pools = new UpstreamPools();
    const first = swapIn(pools, table(), null);
    const second = swapIn(pools, withBChanged(first.spec), first);

    for (const [host, path] of UNTOUCHED) assert.equal(matched(second, host, path), matched(first, host, path), `${host}${path} keeps its target`);
    assert.equal(matched(second, 'b.example', '/new/page').route?.path, '/new');
    // /old and the regex are gone: the host's fallback takes them, compiled anew with the host.
    assert.equal(matched(second, 'b.example', '/old').route, null);
    assert.equal(matched(second, 'b.example', '/re/12').route, null);
    assert.notEqual(matched(second, 'b.example', '/old'), matched(first, 'b.example', '/old'));
  });

  it('keep the untouched hosts through several swaps in a row, each changing another host', () => {
    const pools = new UpstreamPools();
    let current = swapIn(pools, table(), null);
    const original = matched(current, 'one.wild.example', '/');
    for (const [index, name] of ['a.example', 'c.example', 'b.example', 'a.example'].entries()) {
      const spec = current.spec;
      const virtualHosts = spec.virtualHosts.map((each) => (each.host === name ? { ...each, routes: [route(`/v${index}`, each.routes[0]!.upstream)] } : each));
      current = swapIn(pools, { ...spec, virtualHosts }, current);
      assert.equal(matched(current, name, `/v${index}`).route?.path, `/v${index}`);
    }
    assert.equal(matched(current, 'one.wild.example', '/'), original);
  });

  const SETTINGS: readonly (readonly [string, Partial<RouteTableSpec>, (target: Target) => void])[] = [
    ['the body size limit', { bodySizeLimit: 7 }, (target) => assert.equal(target.bodySizeLimit, 7)],
    ['HSTS', { https: { hsts: 'max-age=5', redirectCode: 308, noRedirectPrefixes: [] } }, (target) => assert.deepEqual(hstsOf(target), ['strict-transport-security', 'max-age=5'])],
    ['use-forwarded-headers', { useForwardedHeaders: true }, () => undefined],
    ['proxy-read-timeout', { timeouts: { readMs: 1234 } }, (target) => assert.equal(target.timeouts?.readMs, 1234)],
    ['proxy-next-upstream', { nextUpstream: { conditions: [], tries: 1, timeoutMs: 0 } }, (target) => assert.equal(target.nextUpstream.tries, 1)],
  ];
  for (const [setting, fields, check] of SETTINGS) {
    it(`compile every host again when ${setting} changes`, () => {
      const pools = new UpstreamPools();
      const first = swapIn(pools, table(), null);
      const second = swapIn(pools, { ...table(first.spec.virtualHosts), ...fields }, first);
      for (const [host, path] of UNTOUCHED) {
        assert.notEqual(matched(second, host, path), matched(first, host, path), `${host}${path} compiled again`);
        check(matched(second, host, path));
      }
    });
  }

  it('keep the compiled hosts when the table-wide settings are new objects of equal value, or ones no target reads', () => {
    const pools = new UpstreamPools();
    const https = { hsts: 'max-age=5', redirectCode: 308, noRedirectPrefixes: ['/.well-known/acme-challenge'] };
    const first = swapIn(pools, table(hosts(), { https }), null);
    const second = swapIn(pools, table(first.spec.virtualHosts, { https: { ...https, noRedirectPrefixes: [...https.noRedirectPrefixes] }, underscoresInHeaders: true }), first);
    for (const [host, path] of UNTOUCHED) assert.equal(matched(second, host, path), matched(first, host, path));
    assert.equal(second.headerPolicy.underscoresInHeaders, true);
  });

  it('compile a host again when an upstream it uses is no longer the same Upstream object', () => {
    const pools = new UpstreamPools();
    const first = swapIn(pools, table(), null);
    const errorsOf = (compiled: RouteTable) => matched(compiled, 'c.example', '/').errorPages?.upstream;
    assert.equal(errorsOf(first)?.spec.id, ERRORS);

    // The error backend leaves the table (c.example's spec object stays): c.example is compiled against its absence.
    const withoutErrors = { ...first.spec, upstreams: first.spec.upstreams.filter((each) => each.id !== ERRORS) };
    const second = swapIn(pools, withoutErrors, first);
    assert.notEqual(matched(second, 'c.example', '/'), matched(first, 'c.example', '/'));
    assert.deepEqual(errorsOf(second)?.originsFor('HTTP'), []);
    assert.equal(matched(second, 'a.example', '/'), matched(first, 'a.example', '/'), 'a host not using it is kept');

    // It comes back as a new Upstream: c.example is compiled again to use that one.
    const third = swapIn(pools, table(first.spec.virtualHosts), second);
    const prepared = pools.prepare(third.spec.upstreams);
    assert.equal(errorsOf(third), prepared.byId.get(ERRORS));
    assert.notEqual(errorsOf(third), errorsOf(first));
    assert.deepEqual(errorsOf(third)?.originsFor('HTTP'), ['http://10.0.0.1:8080']);
  });

  it('compile every host of a table built from scratch, equal to the previous one but sharing none of its objects, into the same routes', () => {
    const pools = new UpstreamPools();
    const first = swapIn(pools, table(), null);
    const second = swapIn(pools, table(), first);
    for (const [host, path] of UNTOUCHED) {
      assert.notEqual(matched(second, host, path), matched(first, host, path));
      assert.deepEqual(matched(second, host, path).route, matched(first, host, path).route);
      assert.equal(matched(second, host, path).upstream, matched(first, host, path).upstream, 'the pooled upstream, as before');
    }
  });

  it('compile a changed host whose regex RE2 refuses into an error, leaving the previous table as it was', () => {
    const pools = new UpstreamPools();
    const first = swapIn(pools, table(), null);
    const broken = { ...first.spec, virtualHosts: first.spec.virtualHosts.map((each) => (each.host === 'b.example' ? { ...each, routes: [route('/(?=x)', 'default/b:80', { match: 'regex' })] } : each)) };
    assert.throws(() => swapIn(pools, broken, first), /regex path/);
    assert.equal(matched(first, 'b.example', '/old').route?.path, '/old');
  });
});

describe('swapping a table that changes one host, on real sockets', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('routes the changed host by its new paths and the others as before, round-robin position included', async () => {
    const a1 = await startUpstream(resources, (req, res) => res.end(`a1 ${req.url}`));
    const a2 = await startUpstream(resources, (req, res) => res.end(`a2 ${req.url}`));
    const b = await startUpstream(resources, (req, res) => res.end(`b ${req.url}`));
    const proxy = await startProxy(resources);
    const hostA: VirtualHostSpec = { host: 'a.example', routes: [route('/', 'default/a:80')], fallback: null };
    const hostB = (path: string): VirtualHostSpec => ({ host: 'b.example', routes: [route(path, 'default/b:80')], fallback: null });
    const upstreams = [upstream('a', [a1.endpoint, a2.endpoint]), upstream('b', [b.endpoint])];
    const body = async (host: string, path: string) => {
      const response = await send(proxy.ports.http, { host, path });
      return `${response.status} ${response.body.toString()}`;
    };

    proxy.server.swap({ virtualHosts: [hostA, hostB('/old')], defaultBackend: null, upstreams });
    assert.equal(await body('a.example', '/1'), '200 a1 /1');
    assert.equal(await body('b.example', '/old'), '200 b /old');

    proxy.server.swap({ virtualHosts: [hostA, hostB('/new')], defaultBackend: null, upstreams: [...upstreams] });
    assert.equal(await body('a.example', '/2'), '200 a2 /2', 'the untouched host goes on round-robin where it was');
    assert.equal(await body('b.example', '/new/page'), '200 b /new/page');
    assert.equal((await body('b.example', '/old')).slice(0, 3), '404');
  });

  it("sends an untouched host's requests to the new endpoints when a swap changes only its upstream's", async () => {
    const before = await startUpstream(resources, (_req, res) => res.end('before'));
    const after = await startUpstream(resources, (_req, res) => res.end('after'));
    const proxy = await startProxy(resources);
    const hostA: VirtualHostSpec = { host: 'a.example', routes: [route('/', 'default/a:80')], fallback: null };

    proxy.server.swap({ virtualHosts: [hostA], defaultBackend: null, upstreams: [upstream('a', [before.endpoint])] });
    assert.equal((await send(proxy.ports.http, { host: 'a.example' })).body.toString(), 'before');
    proxy.server.swap({ virtualHosts: [hostA], defaultBackend: null, upstreams: [upstream('a', [after.endpoint])] });
    assert.equal((await send(proxy.ports.http, { host: 'a.example' })).body.toString(), 'after');
  });
});

// Table deltas (proxy/table-delta.ts), what the workers' primary sends instead of whole tables:
// for pairs of tables, applying the delta to the first gives the second, unchanged hosts stay the
// receiver's own objects, and the delta carries only what changed. Pure functions, no sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { KeyMaterial, type CertificateSpec, type RouteTableSpec, type UpstreamSpec, type VirtualHostSpec } from '../../proxy/route-spec.ts';
import { applyTableDelta, changedHosts, tableDelta, withEndpointUpdates, type ListDelta, type RouteTableDelta } from '../../proxy/table-delta.ts';

const ingress = (name: string) => ({ namespace: 'default', name });
const host = (name: string, path = '/'): VirtualHostSpec => ({
  host: name,
  routes: [{ path, match: 'prefix', pathType: 'Prefix', upstream: `default/${name}:80`, ingress: ingress(name) }],
  fallback: null,
});
const upstream = (name: string, port = 8080): UpstreamSpec => ({ id: `default/${name}:80`, namespace: 'default', service: name, servicePort: '80', endpoints: [{ address: '10.0.0.1', port }] });
const certificate = (id: string, pem = `cert of ${id}`): CertificateSpec => ({ id, secret: `default/${id}`, subject: id, notAfter: '2030-01-01T00:00:00Z', material: new KeyMaterial(pem, `key of ${id}`) });

const NAMES = ['a.example', 'b.example', 'c.example', 'd.example'];

/** A table with every kind of field, built afresh on each call (no object shared with another call). */
function baseTable(): RouteTableSpec {
  return {
    virtualHosts: NAMES.map((name) => host(name)),
    defaultBackend: null,
    upstreams: NAMES.map((name) => upstream(name)),
    tls: { certificates: [certificate('one'), certificate('two')], hosts: [{ host: 'a.example', certificate: 'one' }, { host: 'b.example', certificate: 'two' }], defaultCertificate: null },
    https: { hsts: 'max-age=10', redirectCode: 308, noRedirectPrefixes: ['/.well-known/acme-challenge'] },
    useForwardedHeaders: true,
    bodySizeLimit: 1024,
  };
}

/** `table` with its hosts and upstreams in new arrays but the same objects: what the operator hands over. */
function edited(table: RouteTableSpec, change: (hosts: VirtualHostSpec[], upstreams: UpstreamSpec[]) => void, fields: Partial<RouteTableSpec> = {}): RouteTableSpec {
  const hosts = [...table.virtualHosts];
  const upstreams = [...table.upstreams];
  change(hosts, upstreams);
  return { ...table, ...fields, virtualHosts: hosts, upstreams };
}

const indexOf = (name: string) => NAMES.indexOf(name);

interface Expected {
  /** Host names the delta carries (added or changed), and those it removes. */
  readonly hosts?: readonly string[];
  readonly removedHosts?: readonly string[];
  readonly upstreams?: readonly string[];
  readonly removedUpstreams?: readonly string[];
  /** Fields sent whole, and fields cleared. */
  readonly changed?: readonly string[];
  readonly cleared?: readonly string[];
  /** Certificate ids and TLS host names the TLS part carries. */
  readonly certificates?: readonly string[];
  readonly tlsHosts?: readonly string[];
  /** The host list travels whole (it is not sorted by a unique name). */
  readonly wholeHosts?: boolean;
}

interface Case {
  readonly name: string;
  /** The table changed from; absent, baseTable(). */
  readonly previous?: () => RouteTableSpec;
  readonly next: (previous: RouteTableSpec) => RouteTableSpec;
  readonly expected: Expected;
}

const CASES: readonly Case[] = [
  { name: 'nothing changed (new arrays, same objects)', next: (previous) => edited(previous, () => undefined), expected: {} },
  {
    name: 'a host is added between two others and one at the end',
    next: (previous) => edited(previous, (hosts, upstreams) => {
      hosts.splice(2, 0, host('bb.example'));
      hosts.push(host('z.example'));
      upstreams.splice(2, 0, upstream('bb.example'));
      upstreams.push(upstream('z.example'));
    }),
    expected: { hosts: ['bb.example', 'z.example'], upstreams: ['default/bb.example:80', 'default/z.example:80'] },
  },
  {
    name: 'a host is added before every other',
    next: (previous) => edited(previous, (hosts) => hosts.unshift(host('0.example'))),
    expected: { hosts: ['0.example'] },
  },
  {
    name: 'the first and the last host are removed, with their upstreams',
    next: (previous) => edited(previous, (hosts, upstreams) => {
      hosts.splice(3, 1);
      hosts.splice(0, 1);
      upstreams.splice(3, 1);
      upstreams.splice(0, 1);
    }),
    expected: { removedHosts: ['a.example', 'd.example'], removedUpstreams: ['default/a.example:80', 'default/d.example:80'] },
  },
  {
    name: 'one host changes (a new path)',
    next: (previous) => edited(previous, (hosts) => (hosts[indexOf('c.example')] = host('c.example', '/v2'))),
    expected: { hosts: ['c.example'] },
  },
  {
    name: 'one host is added, one changed and one removed at once',
    next: (previous) => edited(previous, (hosts) => {
      hosts[indexOf('b.example')] = host('b.example', '/v2');
      hosts.splice(indexOf('c.example'), 1);
      hosts.push(host('e.example'));
    }),
    expected: { hosts: ['b.example', 'e.example'], removedHosts: ['c.example'] },
  },
  {
    name: 'a host is rebuilt as a new but equal object',
    next: (previous) => edited(previous, (hosts) => (hosts[indexOf('b.example')] = host('b.example'))),
    expected: {},
  },
  {
    name: "an upstream's endpoints change",
    next: (previous) => edited(previous, (_hosts, upstreams) => (upstreams[indexOf('d.example')] = upstream('d.example', 9090))),
    expected: { upstreams: ['default/d.example:80'] },
  },
  {
    name: 'a certificate is rotated (new id, new PEM) and its host moves to it',
    next: (previous) => ({ ...previous, tls: { ...previous.tls!, certificates: [previous.tls!.certificates[0]!, certificate('two-rotated')], hosts: [previous.tls!.hosts[0]!, { host: 'b.example', certificate: 'two-rotated' }] } }),
    expected: { certificates: ['two-rotated'], tlsHosts: ['b.example'] },
  },
  {
    name: "a certificate's PEM changes under the same id (JSON would not show it)",
    next: (previous) => ({ ...previous, tls: { ...previous.tls!, certificates: [previous.tls!.certificates[0]!, certificate('two', 'other PEM')] } }),
    expected: { certificates: ['two'] },
  },
  {
    name: 'a TLS host is added and the default certificate set',
    next: (previous) => ({ ...previous, tls: { ...previous.tls!, hosts: [...previous.tls!.hosts, { host: 'c.example', certificate: 'one' }], defaultCertificate: 'one' } }),
    expected: { tlsHosts: ['c.example'] },
  },
  {
    name: 'TLS is removed altogether',
    next: (previous) => {
      const { tls: _tls, ...rest } = previous;
      return rest;
    },
    expected: { cleared: ['tls'] },
  },
  {
    name: 'TLS is added to a table that had none',
    previous: () => (({ tls: _tls, ...rest }) => rest)(baseTable()),
    next: () => baseTable(),
    expected: { changed: ['tls'] },
  },
  {
    name: 'the body size limit and HSTS change',
    next: (previous) => ({ ...previous, bodySizeLimit: 2048, https: { ...previous.https!, hsts: null } }),
    expected: { changed: ['bodySizeLimit', 'https'] },
  },
  {
    name: 'use-forwarded-headers is cleared and stream ports are added',
    next: (previous) => {
      const { useForwardedHeaders: _cleared, ...rest } = previous;
      return { ...rest, streams: [{ protocol: 'TCP', port: 9000, upstream: 'default/a.example:80', acceptProxyProtocol: false, sendProxyProtocol: false }] };
    },
    expected: { changed: ['streams'], cleared: ['useForwardedHeaders'] },
  },
  {
    name: 'the HTTPS settings are rebuilt as a new but equal object',
    next: (previous) => ({ ...previous, https: { ...previous.https!, noRedirectPrefixes: [...previous.https!.noRedirectPrefixes] } }),
    expected: {},
  },
  {
    name: 'the whole table is built again from scratch, with one host changed',
    next: () => edited(baseTable(), (hosts) => (hosts[indexOf('a.example')] = host('a.example', '/v2'))),
    expected: { hosts: ['a.example'] },
  },
  {
    name: 'the hosts are out of order (not sorted by name)',
    next: (previous) => edited(previous, (hosts) => hosts.reverse()),
    expected: { wholeHosts: true },
  },
];

const keysOf = <T>(delta: ListDelta<T>, keyOf: (item: T) => string): { upserted: string[]; removed: string[] } =>
  'whole' in delta ? { upserted: delta.whole.map(keyOf), removed: [] } : { upserted: delta.upserted.map(keyOf), removed: [...delta.removed] };

/** The structured clone a worker receives over IPC ('advanced' serialization). */
const overIpc = <T>(value: T): T => deserialize(serialize(value)) as T;

function assertCarries(delta: RouteTableDelta, expected: Expected): void {
  const hosts = keysOf(delta.virtualHosts, (virtualHost) => virtualHost.host);
  assert.equal('whole' in delta.virtualHosts, expected.wholeHosts ?? false, 'hosts sent whole');
  if (!expected.wholeHosts) {
    assert.deepEqual(hosts.upserted, expected.hosts ?? [], 'hosts carried');
    assert.deepEqual(hosts.removed, expected.removedHosts ?? [], 'hosts removed');
  }
  const upstreams = keysOf(delta.upstreams, (upstream) => upstream.id);
  assert.deepEqual(upstreams.upserted, expected.upstreams ?? [], 'upstreams carried');
  assert.deepEqual(upstreams.removed, expected.removedUpstreams ?? [], 'upstreams removed');
  assert.deepEqual(Object.keys(delta.changed).sort(), [...(expected.changed ?? [])].sort(), 'fields sent whole');
  assert.deepEqual([...delta.cleared].sort(), [...(expected.cleared ?? [])].sort(), 'fields cleared');
  const certificates = delta.tls ? keysOf(delta.tls.certificates, (each) => each.id).upserted : [];
  const tlsHosts = delta.tls ? keysOf(delta.tls.hosts, (each) => each.host).upserted : [];
  assert.deepEqual(certificates, expected.certificates ?? [], 'certificates carried');
  assert.deepEqual(tlsHosts, expected.tlsHosts ?? [], 'TLS hosts carried');
}

describe('route table deltas', () => {
  for (const { name, previous: makePrevious = baseTable, next: makeNext, expected } of CASES) {
    it(`turns a table into the next one when ${name}, keeping the untouched hosts' objects`, () => {
      const previous = makePrevious();
      const next = makeNext(previous);
      const delta = tableDelta(previous, next);
      assertCarries(delta, expected);

      const applied = applyTableDelta(previous, delta);
      assert.deepStrictEqual(applied, next);
      const previousByName = new Map(previous.virtualHosts.map((virtualHost) => [virtualHost.host, virtualHost]));
      const carried = new Set(changedHosts(delta));
      for (const virtualHost of applied.virtualHosts) {
        const before = previousByName.get(virtualHost.host);
        if (!carried.has(virtualHost) && before !== undefined) assert.equal(virtualHost, before, `${virtualHost.host} is still the receiver's own object`);
      }

      // As a worker sees it: its table and the delta are both structured clones.
      assert.deepStrictEqual(applyTableDelta(overIpc(previous), overIpc(delta)), overIpc(next));
    });
  }

  it('sends a change of one host among thousands in a message the size of that host', () => {
    const names = Array.from({ length: 5_000 }, (_, index) => `app-${String(index).padStart(5, '0')}.example`);
    const previous: RouteTableSpec = { virtualHosts: names.map((name) => host(name)), defaultBackend: null, upstreams: names.map((name) => upstream(name)) };
    const next = edited(previous, (hosts) => (hosts[2_500] = host(names[2_500]!, '/v2')));
    const delta = tableDelta(previous, next);
    assert.deepEqual(changedHosts(delta).map((virtualHost) => virtualHost.host), [names[2_500]]);
    const deltaBytes = serialize({ type: 'delta', delta }).length;
    const wholeBytes = serialize({ type: 'swap', spec: next }).length;
    assert.ok(deltaBytes < 1_000, `delta ${deltaBytes} bytes`);
    assert.ok(wholeBytes > 500 * deltaBytes, `whole table ${wholeBytes} bytes, delta ${deltaBytes}`);
  });

  it('replaces the endpoints of the upstreams an update names and keeps the others as they are', () => {
    const previous = baseTable();
    const moved = upstream('b.example', 9999);
    const updated = withEndpointUpdates(previous, [moved]);
    assert.equal(updated.upstreams[indexOf('b.example')], moved);
    assert.equal(updated.upstreams[indexOf('a.example')], previous.upstreams[indexOf('a.example')]);
    assert.equal(updated.virtualHosts, previous.virtualHosts);
  });
});

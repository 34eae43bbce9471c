// Tables derived from the ones they replace (compiled-table.ts: route table, certificate contexts,
// upstream pools) route exactly as tables compiled from scratch for the same spec. Random sequences
// of changes (fast-check, seeded) to hosts with aliases and wildcards, the catch-all, the default
// backend, upstreams and their endpoints, certificates and TLS hosts go through two chains: one
// swapping each spec in as ProxyServer does, one as a proxy worker gets it (a delta from the
// primary, through structured clone, applied to its own copy). After every step both chains must
// answer a set of requests and SNI names as a table compiled from scratch does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { compileNextTable, emptyTable, updateTableEndpoints, type CompiledTable } from '../../proxy/compiled-table.ts';
import { KeyMaterial, type CertificateSpec, type Endpoint, type FallbackSpec, type RouteSpec, type RouteTableSpec, type TlsHostSpec, type UpstreamSpec, type VirtualHostSpec } from '../../proxy/route-spec.ts';
import { RouteTable, type StageCompiler, type Target } from '../../proxy/route-table.ts';
import { stageCompiler } from '../../proxy/stages.ts';
import { applyTableDelta, sortedListsOf, tableDeltaFrom, withEndpointUpdates, type SortedLists } from '../../proxy/table-delta.ts';
import { CertificateContexts, secureContextFor } from '../../proxy/tls-contexts.ts';
import { makeFakeCertificate } from '../../proxy/tls-fake-certificate.ts';
import { UpstreamPools } from '../../proxy/upstream-pools.ts';

const compileStages = stageCompiler({ httpsEnabled: true, redirectPortSuffix: () => '', rateLimits: new Map(), connectionLimits: new Map() });
const fakeContext = secureContextFor(makeFakeCertificate(new Date()));

/** Host names a spec may have: the catch-all, wildcards one and two labels deep, exact names under and beside them. */
const HOSTS = ['', '*.example', '*.w.example', 'a.example', 'b.example', 'c.w.example', 'w.example', 'x.example'] as const;
/** Aliases, some of them other hosts' names (the last host in order that has a name gets it). */
const ALIASES = ['a.example', 'alias.example', '*.w.example', 'c.w.example', '*.alias.example', 'other.example'] as const;
const UPSTREAMS = ['default/u0:80', 'default/u1:80', 'default/u2:80', 'default/u3:80', 'default/u4:80'] as const;
const PATHS = ['/', '/a', '/a/b', '/b'] as const;
const CERTIFICATES = ['c0', 'c1', 'c2', 'refused'] as const;
const TLS_HOSTS = ['a.example', '*.w.example', 'b.example', '*.example', 'x.example', 'w.example'] as const;

/** Requests every step is checked with: names, aliases, wildcard matches one label deep and not two, unknown names. */
const REQUEST_HOSTS = ['a.example', 'b.example', 'w.example', 'c.w.example', 'd.w.example', 'deep.c.w.example', 'x.example', 'y.x.example', 'z.example', 'alias.example', 'q.alias.example', 'other.example', 'example'];
const REQUEST_PATHS = ['/', '/a', '/a/b', '/b/c', '/r/12', '/zzz'];
const SERVER_NAMES = [...REQUEST_HOSTS, 'A.Example.', 'q.w.example'];

// The PEM of each certificate id (the id is a hash of it in the operator: the same id, the same PEM).
const PEMS = new Map<string, KeyMaterial>(CERTIFICATES.map((id) => [id, id === 'refused' ? new KeyMaterial('not a certificate', 'not a key') : ((pem) => new KeyMaterial(pem.certificatePem, pem.keyPem))(makeFakeCertificate(new Date()))]));

interface RouteChoice {
  readonly path: number;
  readonly match: 'prefix' | 'exact' | 'regex';
  readonly upstream: number;
  /** custom-http-errors on another upstream, or null. */
  readonly errors: number | null;
}

type Op =
  | { readonly kind: 'host'; readonly name: number; readonly routes: readonly RouteChoice[]; readonly fallback: number | null; readonly aliases: readonly string[] }
  | { readonly kind: 'remove-host'; readonly name: number }
  | { readonly kind: 'upstream'; readonly upstream: number; readonly endpoints: number }
  | { readonly kind: 'remove-upstream'; readonly upstream: number }
  /** DataPlane.updateEndpoints after the swap; `kept`: the next specs carry the update too (as the operator's do), else they set the old endpoints again. */
  | { readonly kind: 'endpoint-update'; readonly upstream: number; readonly endpoints: number; readonly kept: boolean }
  /** A new object for the certificate (its id, so its PEM, unchanged). */
  | { readonly kind: 'certificate'; readonly certificate: number }
  | { readonly kind: 'remove-certificate'; readonly certificate: number }
  | { readonly kind: 'tls-host'; readonly name: number; readonly certificate: number }
  | { readonly kind: 'remove-tls-host'; readonly name: number }
  | { readonly kind: 'default-backend'; readonly upstream: number | null }
  | { readonly kind: 'default-certificate'; readonly certificate: number | null }
  | { readonly kind: 'body-size-limit'; readonly bytes: number }
  /** This step's spec lists its hosts, certificates or TLS hosts out of order (not walked: built from scratch). */
  | { readonly kind: 'unsorted'; readonly list: 'virtualHosts' | 'certificates' | 'tlsHosts' };

const index = (size: number) => fc.nat({ max: size - 1 });
const routeChoice: fc.Arbitrary<RouteChoice> = fc.record({ path: index(PATHS.length), match: fc.constantFrom('prefix', 'prefix', 'exact', 'regex'), upstream: index(UPSTREAMS.length), errors: fc.option(index(UPSTREAMS.length), { freq: 4 }) });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('host' as const), name: index(HOSTS.length), routes: fc.array(routeChoice, { maxLength: 3 }), fallback: fc.option(index(UPSTREAMS.length), { freq: 3 }), aliases: fc.subarray([...ALIASES], { maxLength: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove-host' as const), name: index(HOSTS.length) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('upstream' as const), upstream: index(UPSTREAMS.length), endpoints: index(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove-upstream' as const), upstream: index(UPSTREAMS.length) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('endpoint-update' as const), upstream: index(UPSTREAMS.length), endpoints: index(4), kept: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('certificate' as const), certificate: index(CERTIFICATES.length) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove-certificate' as const), certificate: index(CERTIFICATES.length) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tls-host' as const), name: index(TLS_HOSTS.length), certificate: index(CERTIFICATES.length + 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove-tls-host' as const), name: index(TLS_HOSTS.length) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('default-backend' as const), upstream: fc.option(index(UPSTREAMS.length)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('default-certificate' as const), certificate: fc.option(index(CERTIFICATES.length + 1)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('body-size-limit' as const), bytes: fc.constantFrom(1024, 2048) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unsorted' as const), list: fc.constantFrom('virtualHosts' as const, 'certificates' as const, 'tlsHosts' as const) }) },
);

const upstreamSpec = (id: string, variant: number): UpstreamSpec => ({
  id,
  namespace: 'default',
  service: id.slice('default/'.length, -':80'.length),
  servicePort: '80',
  endpoints: ([[], [{ address: '10.0.0.1', port: 8080 }], [{ address: '10.0.0.2', port: 8080 }], [{ address: '10.0.0.1', port: 8080 }, { address: '10.0.0.3', port: 8080 }]] as Endpoint[][])[variant] ?? [],
});

/**
 * The operator's side: the objects of the current spec by key, each list handed over sorted in a
 * new array that holds the very objects of the last one where nothing changed.
 */
class Model {
  readonly hosts = new Map<string, VirtualHostSpec>();
  readonly upstreams = new Map<string, UpstreamSpec>();
  readonly certificates = new Map<string, CertificateSpec>();
  readonly tlsHosts = new Map<string, TlsHostSpec>();
  defaultBackend: FallbackSpec | null = null;
  defaultCertificate: string | null = null;
  bodySizeLimit: number | undefined = undefined;
  /** Each host object gets a version in its Ingress name, so a stale compiled host shows. */
  #version = 0;

  apply(op: Op): void {
    switch (op.kind) {
      case 'host': {
        const name = HOSTS[op.name] as string;
        const ingress = { namespace: 'default', name: `${name || 'catch-all'}@${++this.#version}` };
        const routes: RouteSpec[] = op.routes.map((choice) => ({
          path: choice.match === 'regex' ? '/r/[0-9]+' : (PATHS[choice.path] as string),
          match: choice.match,
          pathType: choice.match === 'regex' ? 'ImplementationSpecific' : choice.match === 'exact' ? 'Exact' : 'Prefix',
          upstream: UPSTREAMS[choice.upstream] as string,
          ingress,
          ...(choice.errors === null ? {} : { customErrors: { codes: [503], upstream: UPSTREAMS[choice.errors] as string } }),
        }));
        const fallback = op.fallback === null ? null : { upstream: UPSTREAMS[op.fallback] as string, ingress };
        this.hosts.set(name, { host: name, ...(op.aliases.length > 0 ? { aliases: op.aliases } : {}), routes, fallback });
        return;
      }
      case 'remove-host':
        this.hosts.delete(HOSTS[op.name] as string);
        return;
      case 'upstream': {
        const id = UPSTREAMS[op.upstream] as string;
        this.upstreams.set(id, upstreamSpec(id, op.endpoints));
        return;
      }
      case 'remove-upstream':
        this.upstreams.delete(UPSTREAMS[op.upstream] as string);
        return;
      case 'endpoint-update':
        return;
      case 'certificate': {
        const id = CERTIFICATES[op.certificate] as string;
        this.certificates.set(id, { id, secret: `default/${id}@${++this.#version}`, subject: id, notAfter: '2030-01-01T00:00:00Z', material: PEMS.get(id) as KeyMaterial });
        return;
      }
      case 'remove-certificate':
        this.certificates.delete(CERTIFICATES[op.certificate] as string);
        return;
      case 'tls-host': {
        const host = TLS_HOSTS[op.name] as string;
        // One past the certificates: an id no certificate has.
        this.tlsHosts.set(host, { host, certificate: CERTIFICATES[op.certificate] ?? 'missing' });
        return;
      }
      case 'remove-tls-host':
        this.tlsHosts.delete(TLS_HOSTS[op.name] as string);
        return;
      case 'default-backend':
        this.defaultBackend = op.upstream === null ? null : { upstream: UPSTREAMS[op.upstream] as string, ingress: null };
        return;
      case 'default-certificate':
        this.defaultCertificate = op.certificate === null ? null : (CERTIFICATES[op.certificate] ?? 'missing');
        return;
      case 'body-size-limit':
        this.bodySizeLimit = op.bytes;
        return;
      case 'unsorted':
        return;
    }
  }

  /** The spec, with the lists named reversed. */
  spec(unsorted: ReadonlySet<string>): RouteTableSpec {
    const sorted = <T>(map: ReadonlyMap<string, T>, list: string): T[] => {
      const items = [...map.keys()].sort().map((key) => map.get(key) as T);
      return unsorted.has(list) ? items.reverse() : items;
    };
    return {
      virtualHosts: sorted(this.hosts, 'virtualHosts'),
      defaultBackend: this.defaultBackend,
      upstreams: sorted(this.upstreams, 'upstreams'),
      tls: { certificates: sorted(this.certificates, 'certificates'), hosts: sorted(this.tlsHosts, 'tlsHosts'), defaultCertificate: this.defaultCertificate },
      ...(this.bodySizeLimit === undefined ? {} : { bodySizeLimit: this.bodySizeLimit }),
    };
  }
}

/** What a request gets from a table, as data (Target objects differ between tables). */
function routed(routes: RouteTable, host: string, path: string): unknown {
  const target: Target | null = routes.match(host, path);
  if (target === null) return { named: routes.hasNamedHost(host), target: null };
  return {
    named: routes.hasNamedHost(host),
    route: target.route && `${target.route.match} ${target.route.path} -> ${target.route.upstream}`,
    ingress: target.ingress?.name ?? null,
    upstream: target.upstream.spec.id,
    origins: target.upstream.originsFor('HTTP'),
    errorPages: target.errorPages && { upstream: target.errorPages.upstream?.spec.id ?? null, origins: target.errorPages.upstream?.originsFor('HTTP') ?? [] },
    bodySizeLimit: target.bodySizeLimit,
  };
}

/** Everything the checks compare about a table. */
function answers(table: CompiledTable): unknown {
  const { routes, certificates } = table;
  return {
    requests: REQUEST_HOSTS.flatMap((host) => REQUEST_PATHS.map((path) => [`${host}${path}`, routed(routes, host, path)])),
    certificates: SERVER_NAMES.map((name) => [name, certificates.certificateIdFor(name)]),
    defaultCertificate: certificates.defaultCertificateId,
    unusable: certificates.unusable,
  };
}

/** forServerName gives one context per certificate certificateIdFor names, and the default context for the default. */
function assertContextsFollowIds(table: CompiledTable): void {
  const { certificates } = table;
  const contextOf = new Map<string | null, unknown>([[certificates.defaultCertificateId, certificates.defaultContext]]);
  for (const name of SERVER_NAMES) {
    const id = certificates.certificateIdFor(name);
    const context = certificates.forServerName(name);
    if (!contextOf.has(id)) contextOf.set(id, context);
    assert.equal(context, contextOf.get(id), `${name} gets the context of ${id ?? 'the fake certificate'}`);
  }
}

/** A chain of tables as one proxy process holds them: ProxyServer.swap's and updateEndpoints' steps. */
class Plane {
  readonly #pools = new UpstreamPools();
  table: CompiledTable = emptyTable(fakeContext);
  readonly #stages: StageCompiler;

  constructor(stages: StageCompiler = compileStages) {
    this.#stages = stages;
  }

  swap(spec: RouteTableSpec): void {
    this.table = compileNextTable(spec, this.table, this.#pools, this.#stages, fakeContext).table;
  }

  updateEndpoints(upstreams: readonly UpstreamSpec[]): boolean {
    return updateTableEndpoints(this.table, this.#pools, upstreams);
  }
}

/** The table compiled with nothing to derive it from: its own upstreams, no previous routes or certificates. */
function fromScratch(spec: RouteTableSpec): CompiledTable {
  return { routes: new RouteTable(spec, compileStages), certificates: new CertificateContexts(spec.tls, fakeContext, null) };
}

const overIpc = <T>(value: T): T => deserialize(serialize(value)) as T;

/** Every test of ours runs these many sequences; PIER_PROPERTY_RUNS and PIER_PROPERTY_SEED change them. */
const runs = Number(process.env.PIER_PROPERTY_RUNS ?? 150);
const seed = process.env.PIER_PROPERTY_SEED === undefined ? 20261202 : Number(process.env.PIER_PROPERTY_SEED);

/**
 * Swaps the spec each step's changes make into both chains (the endpoint updates after it) and
 * holds each chain's answers to those of a table compiled from scratch for the same spec.
 */
function checkSequence(steps: readonly (readonly Op[])[]): void {
  const model = new Model();
  const inProcess = new Plane();
  const worker = new Plane();
  /** The primary's last table and which of its lists are sorted; the worker's copy of that table. */
  let sent: { spec: RouteTableSpec; sorted: SortedLists } | null = null;
  let workerSpec: RouteTableSpec | null = null;
  let previousUnsorted = false;

  steps.forEach((ops, step) => {
    for (const op of ops) model.apply(op);
    const spec = model.spec(new Set(ops.flatMap((op) => (op.kind === 'unsorted' ? [op.list] : []))));
    const before = answersWithTargets(inProcess.table);

    inProcess.swap(spec);
    if (sent === null || workerSpec === null) {
      workerSpec = overIpc(spec);
      sent = { spec, sorted: sortedListsOf(spec) };
    } else {
      const { delta, sorted } = tableDeltaFrom(sent.spec, sent.sorted, spec);
      workerSpec = applyTableDelta(workerSpec, overIpc(delta));
      sent = { spec, sorted };
    }
    worker.swap(workerSpec);

    // Endpoint updates after the swap, to both processes, as the runtime sends them.
    let expected = spec;
    for (const op of ops) {
      if (op.kind !== 'endpoint-update') continue;
      const id = UPSTREAMS[op.upstream] as string;
      if (!model.upstreams.has(id)) continue;
      const update = [upstreamSpec(id, op.endpoints)];
      assert.ok(inProcess.updateEndpoints(update), 'the in-process table has the upstream');
      sent = { spec: withEndpointUpdates(sent.spec, update), sorted: sent.sorted };
      workerSpec = withEndpointUpdates(workerSpec, update);
      assert.ok(worker.updateEndpoints(update), "the worker's table has the upstream");
      expected = withEndpointUpdates(expected, update);
      if (op.kept) model.upstreams.set(id, update[0] as UpstreamSpec);
    }

    const wanted = answers(fromScratch(expected));
    const context = `after step ${step} (${ops.map((op) => op.kind).join(', ')})`;
    assert.deepStrictEqual(answers(inProcess.table), wanted, `in process, ${context}`);
    assert.deepStrictEqual(answers(worker.table), wanted, `on the worker, ${context}`);
    assertContextsFollowIds(inProcess.table);
    assertContextsFollowIds(worker.table);
    assert.deepStrictEqual(workerSpec, overIpc(sent.spec), `the worker's table is the primary's, ${context}`);

    // A step that touches no host, no upstream's presence and no table-wide setting keeps every
    // route's compiled target (after a step with a list out of order, the next table is built from scratch).
    const keepsTargets = ops.every((op) => KEEPS_TARGETS.has(op.kind) || (op.kind === 'upstream' && before.upstreamIds.has(UPSTREAMS[op.upstream] as string)));
    if (keepsTargets && !previousUnsorted) {
      const after = answersWithTargets(inProcess.table);
      for (const [request, target] of before.targets) {
        if (after.targets.has(request)) assert.equal(after.targets.get(request), target, `${request} keeps its compiled target, ${context}`);
      }
    }
    previousUnsorted = ops.some((op) => op.kind === 'unsorted');
  });
}

// Named changes for the table-driven cases.
const setHost = (name: (typeof HOSTS)[number], options: { readonly paths?: readonly string[]; readonly upstream?: number; readonly aliases?: readonly (typeof ALIASES)[number][]; readonly fallback?: number; readonly errors?: number } = {}): Op => ({
  kind: 'host',
  name: HOSTS.indexOf(name),
  routes: (options.paths ?? ['/']).map((path) => ({ path: path === 'regex' ? 0 : PATHS.indexOf(path as (typeof PATHS)[number]), match: path === 'regex' ? 'regex' : 'prefix', upstream: options.upstream ?? 0, errors: options.errors ?? null })),
  fallback: options.fallback ?? null,
  aliases: options.aliases ?? [],
});
const removeHost = (name: (typeof HOSTS)[number]): Op => ({ kind: 'remove-host', name: HOSTS.indexOf(name) });
const setUpstream = (upstream: number, endpoints: number): Op => ({ kind: 'upstream', upstream, endpoints });
const removeUpstream = (upstream: number): Op => ({ kind: 'remove-upstream', upstream });
const endpointUpdate = (upstream: number, endpoints: number, kept: boolean): Op => ({ kind: 'endpoint-update', upstream, endpoints, kept });
const setCertificate = (certificate: number): Op => ({ kind: 'certificate', certificate });
const removeCertificate = (certificate: number): Op => ({ kind: 'remove-certificate', certificate });
const setTlsHost = (name: (typeof TLS_HOSTS)[number], certificate: number): Op => ({ kind: 'tls-host', name: TLS_HOSTS.indexOf(name), certificate });
const removeTlsHost = (name: (typeof TLS_HOSTS)[number]): Op => ({ kind: 'remove-tls-host', name: TLS_HOSTS.indexOf(name) });
const REFUSED = CERTIFICATES.indexOf('refused');
const MISSING = CERTIFICATES.length;

/** Three upstreams, two hosts and a wildcard, two certificates for two TLS hosts. */
const BASE: readonly Op[] = [
  setUpstream(0, 1),
  setUpstream(1, 1),
  setUpstream(2, 2),
  setHost('a.example', { paths: ['/', 'regex'], errors: 2 }),
  setHost('b.example', { upstream: 1, fallback: 2 }),
  setHost('*.w.example', { upstream: 2 }),
  setCertificate(0),
  setCertificate(1),
  setTlsHost('a.example', 0),
  setTlsHost('*.w.example', 1),
];

const CASES: readonly (readonly [string, readonly (readonly Op[])[]])[] = [
  ['a host is added, then removed', [[setHost('x.example', { paths: ['/a'] })], [removeHost('x.example')]]],
  ["a host's paths change, then its upstream", [[setHost('a.example', { paths: ['/a', '/b'] })], [setHost('a.example', { paths: ['/a', '/b'], upstream: 1 })]]],
  [
    'an alias is added to one host, moves to another, then names a third host (the last in order has it) until that host goes',
    [[setHost('a.example', { aliases: ['alias.example'] })], [setHost('a.example'), setHost('b.example', { aliases: ['alias.example'] })], [setHost('b.example', { aliases: ['a.example'] })], [removeHost('b.example')]],
  ],
  ['a wildcard alias is added, claimed by a later host too, then left to the first', [[setHost('x.example', { aliases: ['*.alias.example'] })], [setHost('b.example', { aliases: ['*.alias.example'] })], [removeHost('b.example')]]],
  ['a wildcard one label up is added beside exact hosts under it, and wildcards are removed', [[setHost('*.example')], [setHost('c.w.example', { upstream: 1 })], [removeHost('*.w.example')], [removeHost('*.example')]]],
  ['the catch-all is added, changed and removed', [[setHost('', { paths: ['/b'] })], [setHost('', { fallback: 1 })], [removeHost('')]]],
  ["the default backend is set, its upstream's endpoints change, and it is cleared", [[{ kind: 'default-backend', upstream: 1 }], [setUpstream(1, 3)], [{ kind: 'default-backend', upstream: null }]]],
  ["an upstream's endpoints change, it is removed while hosts still name it, and comes back", [[setUpstream(0, 3)], [removeUpstream(0)], [setUpstream(0, 2)]]],
  ["an error pages' upstream is removed and comes back", [[removeUpstream(2)], [setUpstream(2, 3)]]],
  ['endpoint updates the next tables carry, and one they set back', [[endpointUpdate(0, 3, true)], [setHost('x.example')], [endpointUpdate(1, 0, false)], [setHost('x.example', { paths: ['/a'] })]]],
  ['a certificate is rotated: a new id, its TLS host moved to it, the old one dropped', [[setCertificate(2)], [setTlsHost('a.example', 2)], [removeCertificate(0)]]],
  ['a certificate object is made again for the same id', [[setCertificate(0)], [setCertificate(1), setTlsHost('b.example', 1)]]],
  ['TLS hosts are added and removed, exact and wildcard', [[setTlsHost('*.example', 1), setTlsHost('x.example', 0)], [removeTlsHost('*.w.example')], [removeTlsHost('x.example')]]],
  ['a TLS host names a certificate that comes later, and goes again', [[setTlsHost('x.example', 2)], [setCertificate(2)], [removeCertificate(2)]]],
  ['a certificate is refused, its host served the default until it names another', [[setCertificate(REFUSED), setTlsHost('b.example', REFUSED)], [{ kind: 'default-certificate', certificate: 1 }], [setTlsHost('b.example', 0)], [removeCertificate(REFUSED)]]],
  ['the default certificate is set, names a missing certificate, and is cleared', [[{ kind: 'default-certificate', certificate: 0 }], [{ kind: 'default-certificate', certificate: MISSING }], [{ kind: 'default-certificate', certificate: null }]]],
  ['the hosts come out of order once, then in order again', [[{ kind: 'unsorted', list: 'virtualHosts' }, setHost('x.example')], [setHost('x.example', { paths: ['/b'] })]]],
  ['the TLS hosts and certificates come out of order once, then in order again', [[{ kind: 'unsorted', list: 'tlsHosts' }, setTlsHost('x.example', MISSING)], [{ kind: 'unsorted', list: 'certificates' }, setCertificate(2)], [setTlsHost('x.example', 2)]]],
  ['the body size limit changes (every host compiled again)', [[{ kind: 'body-size-limit', bytes: 2048 }], [setHost('a.example', { paths: ['/a'] })]]],
];

describe('tables derived from the ones they replace', () => {
  for (const [name, steps] of CASES) {
    it(`route requests and pick certificates as tables compiled from scratch when ${name}, in process and on a worker`, () => {
      checkSequence([BASE, ...steps]);
    });
  }

  it('route requests and pick certificates as tables compiled from scratch, after every change of random sequences, in process and on a worker', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { minLength: 4, maxLength: 16 }), fc.array(fc.array(opArbitrary, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 20 }), (initial, steps) => checkSequence([initial, ...steps])),
      { numRuns: runs, seed },
    );
  });

  it('keep the context of a certificate whose id stays, and give a TLS host listed twice (out of order) its last entry that has a context', () => {
    const certificate = (id: string): CertificateSpec => ({ id, secret: `default/${id}`, subject: id, notAfter: '2030-01-01T00:00:00Z', material: PEMS.get(id) as KeyMaterial });
    const hosts = [{ host: 'a.example', certificate: 'c0' }, { host: 'b.example', certificate: 'c1' }];
    const first = new CertificateContexts({ certificates: [certificate('c0'), certificate('c1')], hosts, defaultCertificate: null }, fakeContext, null);
    const second = new CertificateContexts({ certificates: [certificate('c0'), certificate('c1')], hosts: [...hosts], defaultCertificate: null }, fakeContext, first);
    assert.equal(second.forServerName('a.example'), first.forServerName('a.example'), 'c0, a new object of the same id, keeps its context');
    assert.notEqual(second.forServerName('a.example'), second.forServerName('b.example'));

    const twice = new CertificateContexts(
      { certificates: [certificate('c1'), certificate('c0'), certificate('refused')], hosts: [{ host: 'b.example', certificate: 'c1' }, { host: 'a.example', certificate: 'c0' }, { host: 'a.example', certificate: 'c1' }, { host: 'b.example', certificate: 'refused' }, { host: 'b.example', certificate: 'missing' }], defaultCertificate: null },
      fakeContext,
      second,
    );
    assert.equal(twice.certificateIdFor('a.example'), 'c1');
    assert.equal(twice.certificateIdFor('b.example'), 'c1', 'the later entries name certificates without a context');
    assert.equal(twice.unusable.length, 1);
    assert.equal(twice.forServerName('b.example'), second.forServerName('b.example'), 'c1 keeps its context through a table built from scratch');
  });

  it('compile only the changed host among thousands, in process and from a delta', () => {
    let compiled = 0;
    const counting: StageCompiler = (target, settings) => {
      compiled++;
      return compileStages(target, settings);
    };
    const names = Array.from({ length: 5_000 }, (_, index) => `app-${String(index).padStart(5, '0')}.example`);
    const host = (name: string, path: string): VirtualHostSpec => ({ host: name, routes: [{ path, match: 'prefix', pathType: 'Prefix', upstream: `default/${name}:80`, ingress: { namespace: 'default', name } }], fallback: null });
    const first: RouteTableSpec = { virtualHosts: names.map((name) => host(name, '/')), defaultBackend: null, upstreams: names.map((name) => upstreamSpec(`default/${name}:80`, 1)) };
    const plane = new Plane(counting);
    plane.swap(first);
    assert.equal(compiled, 5_000);

    // One host changes its path, another is added with its upstream, a third is removed with its upstream.
    const virtualHosts = [...first.virtualHosts];
    virtualHosts[100] = host(names[100] as string, '/v2');
    virtualHosts.splice(4_000, 1);
    virtualHosts.push(host('zz.example', '/'));
    const upstreams = first.upstreams.filter((_, index) => index !== 4_000);
    upstreams.push(upstreamSpec('default/zz.example:80', 2));
    const second: RouteTableSpec = { ...first, virtualHosts, upstreams };
    compiled = 0;
    plane.swap(second);
    assert.equal(compiled, 2, 'the changed host and the added one');
    assert.deepStrictEqual(answersFor(plane.table, [names[100] as string, names[4_000] as string, 'zz.example', names[3] as string]), answersFor(fromScratch(second), [names[100] as string, names[4_000] as string, 'zz.example', names[3] as string]));

    const { delta } = tableDeltaFrom(first, sortedListsOf(first), second);
    const worker = new Plane(counting);
    worker.swap(overIpc(first));
    compiled = 0;
    worker.swap(applyTableDelta(worker.table.routes.spec, overIpc(delta)));
    assert.equal(compiled, 2);
  });
});

/** Ops that leave every host's compiled targets as they are (an upstream's endpoints change in place). */
const KEEPS_TARGETS = new Set<Op['kind']>(['endpoint-update', 'certificate', 'remove-certificate', 'tls-host', 'remove-tls-host', 'default-certificate', 'default-backend']);

/** The Target objects requests get that a route answers (default backends are compiled anew with each table), and the upstream ids in the table. */
function answersWithTargets(table: CompiledTable): { targets: Map<string, Target>; upstreamIds: Set<string> } {
  const targets = new Map<string, Target>();
  for (const host of REQUEST_HOSTS) {
    for (const path of REQUEST_PATHS) {
      const target = table.routes.match(host, path);
      if (target?.route) targets.set(`${host}${path}`, target);
    }
  }
  return { targets, upstreamIds: new Set(table.routes.spec.upstreams.map((upstream) => upstream.id)) };
}

function answersFor(table: CompiledTable, hosts: readonly string[]): unknown {
  return hosts.flatMap((host) => REQUEST_PATHS.map((path) => routed(table.routes, host, path)));
}

// The incremental computation (operator/routes/incremental.ts) against the reference, computeRoutes:
// over random sequences of changes (Ingresses, Services, EndpointSlices, Secrets, ConfigMaps,
// IngressClasses and the clock), after every change the two must give the same result. The
// objects are drawn from small pools so that changes collide the way they do in clusters: shared
// hosts, www pairs, wildcard certificates, aliases, canaries, default backends, regex mode.
// fast-check shrinks a failing sequence to a short one; PIER_PROPERTY_SEED and PIER_PROPERTY_RUNS
// replay or widen a run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import type { KubeObject } from '../../operator/model.ts';
import { computeRoutes } from '../../operator/routes/compute.ts';
import { IncrementalRoutes, type IncrementalOptions } from '../../operator/routes/incremental.ts';
import type { RouteComputation } from '../../operator/routes/types.ts';
import { Store } from '../../operator/store.ts';
import { endpointSlice, externalNameService, ingress, ingressClass, service, type PathSpec, type RuleSpec } from '../helpers/objects.ts';
import { makeCertificate, makeCertificateValidUntil, tlsSecret, type TestCertificate } from '../helpers/certs.ts';
import { BASE_OPTIONS } from './route-helpers.ts';

const A = 'nginx.ingress.kubernetes.io';
const HOUR = 3600_000;

const HOSTS = ['a.example.com', 'www.a.example.com', 'b.example.com', 'x.wild.example.com', '*.wild.example.com', '', 'alias.example.com'];
const PATHS: PathSpec[] = [
  { path: '/', pathType: 'Prefix' },
  { path: '/api', pathType: 'Prefix' },
  { path: '/api/', pathType: 'Prefix' },
  { path: '/api', pathType: 'Exact' },
  { path: '/v1/(.*)', pathType: 'ImplementationSpecific' },
  { path: '/[bad', pathType: 'ImplementationSpecific' },
];
const SERVICES = ['web', 'api', 'gone'];
const NAMES = ['one', 'two', 'three', 'four', 'five'];
const NAMESPACES = ['default', 'team'];
const CREATED = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'];
const ANNOTATIONS: Record<string, string>[] = [
  {},
  { [`${A}/use-regex`]: 'true' },
  { [`${A}/rewrite-target`]: '/$1' },
  { [`${A}/from-to-www-redirect`]: 'true' },
  { [`${A}/server-alias`]: 'alias.example.com' },
  { [`${A}/server-alias`]: 'b.example.com' },
  { [`${A}/canary`]: 'true', [`${A}/canary-weight`]: '30' },
  { [`${A}/ssl-passthrough`]: 'true' },
  { [`${A}/default-backend`]: 'api', [`${A}/custom-http-errors`]: '404,503' },
  { [`${A}/custom-http-errors`]: '502' },
  { [`${A}/auth-type`]: 'basic', [`${A}/auth-secret`]: 'users' },
  { [`${A}/ssl-redirect`]: 'false' },
  { [`${A}/force-ssl-redirect`]: 'true' },
  { [`${A}/service-upstream`]: 'true' },
  { [`${A}/auth-url`]: 'http://auth.example.com/verify', [`${A}/auth-proxy-set-headers`]: 'default/auth-headers' },
];

interface Certificates {
  readonly a: TestCertificate;
  readonly wild: TestCertificate;
  readonly rotated: TestCertificate;
  /** Valid for two hours from the start of the run: the clock moving past it changes the routes with no object changing. */
  readonly shortLived: TestCertificate;
}

/** One change to the cluster, as drawn: each field is an index into a pool above. */
type Change =
  | { readonly kind: 'ingress'; readonly name: number; readonly namespace: number; readonly rules: readonly { host: number; paths: readonly { path: number; service: number }[] }[]; readonly tls: readonly { hosts: readonly number[]; secret: number }[]; readonly annotations: number; readonly className: number; readonly created: number; readonly defaultBackend: boolean }
  | { readonly kind: 'delete-ingress'; readonly name: number; readonly namespace: number }
  | { readonly kind: 'service'; readonly service: number; readonly namespace: number; readonly shape: number }
  | { readonly kind: 'delete-service'; readonly service: number; readonly namespace: number }
  | { readonly kind: 'slice'; readonly service: number; readonly namespace: number; readonly endpoints: readonly { address: number; ready: boolean }[]; readonly port: number }
  | { readonly kind: 'delete-slice'; readonly service: number; readonly namespace: number }
  | { readonly kind: 'secret'; readonly secret: number; readonly namespace: number; readonly content: number }
  | { readonly kind: 'delete-secret'; readonly secret: number; readonly namespace: number }
  | { readonly kind: 'config-map'; readonly which: number; readonly content: number }
  | { readonly kind: 'ingress-class'; readonly present: boolean }
  | { readonly kind: 'clock'; readonly hours: number }
  | { readonly kind: 'status'; readonly name: number; readonly namespace: number };

const SECRETS = ['cert-a', 'cert-wild', 'users', 'short'];

const index = (size: number) => fc.nat({ max: size - 1 });
/** Hosts and paths drawn with the first ones most often, so that Ingresses meet on them (claims, canaries, conflicts). */
const skewed = (size: number) => fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: index(size) });
const changeArbitrary: fc.Arbitrary<Change> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('ingress' as const),
      name: index(NAMES.length),
      namespace: index(NAMESPACES.length),
      rules: fc.array(fc.record({ host: skewed(HOSTS.length), paths: fc.array(fc.record({ path: skewed(PATHS.length), service: skewed(SERVICES.length) }), { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }),
      tls: fc.array(fc.record({ hosts: fc.array(skewed(HOSTS.length), { maxLength: 2 }), secret: index(SECRETS.length + 1) }), { maxLength: 1 }),
      annotations: index(ANNOTATIONS.length),
      className: index(4),
      created: index(CREATED.length),
      defaultBackend: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete-ingress' as const), name: index(NAMES.length), namespace: index(NAMESPACES.length) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('service' as const), service: index(SERVICES.length), namespace: index(NAMESPACES.length), shape: index(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-service' as const), service: index(SERVICES.length), namespace: index(NAMESPACES.length) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('slice' as const),
      service: index(SERVICES.length),
      namespace: index(NAMESPACES.length),
      endpoints: fc.array(fc.record({ address: index(3), ready: fc.boolean() }), { maxLength: 3 }),
      port: index(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-slice' as const), service: index(SERVICES.length), namespace: index(NAMESPACES.length) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('secret' as const), secret: index(SECRETS.length), namespace: index(NAMESPACES.length), content: index(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-secret' as const), secret: index(SECRETS.length), namespace: index(NAMESPACES.length) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('config-map' as const), which: index(3), content: index(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ingress-class' as const), present: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clock' as const), hours: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('status' as const), name: index(NAMES.length), namespace: index(NAMESPACES.length) }) },
);

const htpasswd = `alice:${execFileSync('openssl', ['passwd', '-apr1', 'alice-pw'], { encoding: 'utf8' }).trim()}\n`;

function secretObject(name: string, namespace: string, content: number, certificates: Certificates): KubeObject {
  if (name === 'users') {
    return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', data: { auth: Buffer.from(content === 0 ? htpasswd : 'not an htpasswd line').toString('base64') } } as KubeObject;
  }
  if (name === 'short') return tlsSecret(name, certificates.shortLived, { namespace });
  const certificate = name === 'cert-wild' ? certificates.wild : content === 1 ? certificates.rotated : certificates.a;
  return tlsSecret(name, certificate, content === 2 ? { namespace, type: 'Opaque' } : { namespace });
}

function configMapObject(which: number, content: number): KubeObject {
  const data = [
    [{ 'ssl-redirect': 'false' }, { 'hsts': 'false', 'proxy-body-size': '2m' }, { 'allow-cross-namespace-resources': 'true', 'ssl-redirect': 'bogus' }],
    [{ 'X-Tenant': 'one' }, { 'X-Tenant': 'two' }, { 'bad header': 'x' }],
    [{ '9000': 'default/web:80' }, { '9000': 'team/api:http' }, { '9001': 'nowhere' }],
  ][which]?.[content];
  const name = ['pier-config', 'auth-headers', 'tcp-services'][which] as string;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data } as KubeObject;
}

/** The objects a change writes or the keys it deletes, and how far the clock moves. */
function apply(change: Change, store: Store, certificates: Certificates): number {
  const namespaceOf = (i: number) => NAMESPACES[i] as string;
  switch (change.kind) {
    case 'ingress': {
      const rules: RuleSpec[] = change.rules.map((rule) => ({ host: HOSTS[rule.host] === '' ? undefined : HOSTS[rule.host], paths: rule.paths.map((p) => ({ ...PATHS[p.path], service: SERVICES[p.service] as string, port: p.service === 1 ? 'http' : 80 })) }));
      const object = ingress(NAMES[change.name] as string, {
        namespace: namespaceOf(change.namespace),
        className: [undefined, 'pier', 'pier', 'other'][change.className],
        createdAt: CREATED[change.created],
        annotations: ANNOTATIONS[change.annotations],
        rules,
        ...(change.defaultBackend ? { defaultBackend: { service: 'web', port: 80 } } : {}),
      });
      const tls = change.tls.map((entry) => ({ hosts: entry.hosts.map((h) => HOSTS[h] as string), ...(entry.secret < SECRETS.length ? { secretName: SECRETS[entry.secret] } : {}) }));
      store.set({ ...object, spec: { ...object.spec, ...(tls.length > 0 ? { tls } : {}) } });
      return 0;
    }
    case 'delete-ingress':
      store.delete('Ingress', `${namespaceOf(change.namespace)}/${NAMES[change.name]}`);
      return 0;
    case 'service': {
      const name = SERVICES[change.service] as string;
      const namespace = namespaceOf(change.namespace);
      const shapes = [
        () => service(name, [{ name: 'http', port: 80 }], namespace, '10.96.0.10'),
        () => service(name, [{ name: 'http', port: 80 }, { name: 'alt', port: 81 }], namespace),
        () => service(name, [{ name: 'other', port: 8080 }], namespace),
        () => externalNameService(name, 'backend.example.net', [{ name: 'http', port: 80 }], namespace),
      ];
      store.set((shapes[change.shape] as () => KubeObject)());
      return 0;
    }
    case 'delete-service':
      store.delete('Service', `${namespaceOf(change.namespace)}/${SERVICES[change.service]}`);
      return 0;
    case 'slice': {
      const name = SERVICES[change.service] as string;
      const endpoints = change.endpoints.map((endpoint) => ({ ip: `10.0.${change.service}.${endpoint.address + 1}`, ready: endpoint.ready }));
      store.set(endpointSlice(`${name}-1`, name, endpoints, [{ name: change.port === 0 ? 'http' : 'alt', port: 8080 }], namespaceOf(change.namespace)));
      return 0;
    }
    case 'delete-slice':
      store.delete('EndpointSlice', `${namespaceOf(change.namespace)}/${SERVICES[change.service]}-1`);
      return 0;
    case 'secret':
      store.set(secretObject(SECRETS[change.secret] as string, namespaceOf(change.namespace), change.content, certificates));
      return 0;
    case 'delete-secret':
      store.delete('Secret', `${namespaceOf(change.namespace)}/${SECRETS[change.secret]}`);
      return 0;
    case 'config-map':
      store.set(configMapObject(change.which, change.content));
      return 0;
    case 'ingress-class':
      if (change.present) store.set(ingressClass('pier', 'pier.dev/ingress-controller', true));
      else store.delete('IngressClass', 'pier');
      return 0;
    case 'clock':
      return change.hours * HOUR;
    case 'status': {
      const key = `${namespaceOf(change.namespace)}/${NAMES[change.name]}`;
      const current = store.get('Ingress', key);
      if (current) store.set({ ...current, status: { loadBalancer: { ingress: [{ ip: `192.0.2.${change.name + 1}` }] } } });
      return 0;
    }
  }
}

/** The result with certificate material left out (equal ids are equal material) so results compare as data. */
function comparable(result: RouteComputation): unknown {
  const tls = result.table.tls;
  return { ...result, table: { ...result.table, tls: tls && { ...tls, certificates: tls.certificates.map(({ material: _material, ...rest }) => rest) } } };
}

const OPTION_SETS: { readonly name: string; readonly options: IncrementalOptions }[] = [
  { name: 'the defaults', options: BASE_OPTIONS },
  {
    name: 'every shared input set (controller ConfigMap, default certificate, default backend Service, TCP services, ssl-passthrough)',
    options: {
      ...BASE_OPTIONS,
      configMap: { namespace: 'default', name: 'pier-config' },
      defaultSslCertificate: { namespace: 'default', name: 'cert-a' },
      defaultBackendService: { namespace: 'default', name: 'web' },
      tcpServicesConfigMap: { namespace: 'default', name: 'tcp-services' },
      sslPassthrough: true,
      reservedPorts: [80, 443],
    },
  },
];

function initialObjects(certificates?: Certificates): KubeObject[] {
  const objects = [ingressClass('pier'), service('web'), endpointSlice('web-1', 'web', ['10.0.0.1']), service('api'), endpointSlice('api-1', 'api', ['10.0.1.1'])];
  if (!certificates) return objects;
  return [...objects, ...['cert-a', 'cert-wild', 'users'].map((name) => secretObject(name, 'default', 0, certificates)), configMapObject(1, 0)];
}

describe('incremental route computation', () => {
  const certificates: Certificates = {
    a: makeCertificate(['a.example.com', 'www.a.example.com', 'b.example.com', 'alias.example.com']),
    wild: makeCertificate(['*.wild.example.com']),
    rotated: makeCertificate(['a.example.com', 'b.example.com']),
    shortLived: makeCertificateValidUntil('a.example.com', new Date(Date.now() + 2 * HOUR)),
  };
  const runs = Number(process.env.PIER_PROPERTY_RUNS ?? 300);
  const seed = process.env.PIER_PROPERTY_SEED === undefined ? 20261202 : Number(process.env.PIER_PROPERTY_SEED);

  for (const { name, options } of OPTION_SETS) {
    it(`gives what computeRoutes gives after every change of random sequences, with ${name}`, () => {
      fc.assert(
        fc.property(fc.array(changeArbitrary, { minLength: 1, maxLength: 30 }), (changes) => {
          const store = Store.fromObjects(initialObjects(certificates));
          const engine = new IncrementalRoutes(options);
          let now = Date.now();
          engine.update(store.snapshot(), now);
          changes.forEach((change, step) => {
            now += apply(change, store, certificates);
            const snapshot = store.snapshot();
            const incremental = engine.update(snapshot, now);
            const full = computeRoutes(snapshot, { ...options, now });
            assert.deepStrictEqual(comparable(incremental), comparable(full), `after change ${step + 1} (${change.kind})`);
          });
        }),
        { numRuns: runs, seed },
      );
    });
  }

  it('recomputes only the partition a change touches: the other hosts keep their very objects', () => {
    const objects: KubeObject[] = [...initialObjects()];
    for (let i = 0; i < 50; i++) objects.push(ingress(`app-${i}`, { className: 'pier', rules: [{ host: `app-${i}.example.com`, paths: [{ path: '/', service: 'web' }] }] }));
    const store = Store.fromObjects(objects);
    const engine = new IncrementalRoutes(BASE_OPTIONS);
    const before = engine.update(store.snapshot());
    store.set(ingress('app-7', { className: 'pier', rules: [{ host: 'app-7.example.com', paths: [{ path: '/v2', service: 'web' }] }] }));
    const after = engine.update(store.snapshot());
    const changed = after.table.virtualHosts.filter((host, i) => host !== before.table.virtualHosts[i]).map((host) => host.host);
    assert.deepEqual(changed, ['app-7.example.com']);
    assert.equal(after.table.virtualHosts.find((host) => host.host === 'app-7.example.com')?.routes[0]?.path, '/v2');
  });

  it('changes no route when only an Ingress status is written, as the leader does for every Ingress', () => {
    const site = ingress('site', { className: 'pier', rules: [{ host: 'site.example.com', paths: [{ path: '/', service: 'web' }] }] });
    const store = Store.fromObjects([...initialObjects(), site]);
    const engine = new IncrementalRoutes(BASE_OPTIONS);
    const before = engine.update(store.snapshot());
    store.set({ ...site, metadata: { ...site.metadata, resourceVersion: '2' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } });
    const after = engine.update(store.snapshot());
    assert.equal(after.table.virtualHosts[0], before.table.virtualHosts[0]);
    assert.equal(after.warnings, before.warnings);
  });

  it('moves endpoints without recomputing a route when the same ports stay ready, and recomputes when a Service loses its last one', () => {
    const store = Store.fromObjects([...initialObjects(), ingress('site', { className: 'pier', rules: [{ host: 'site.example.com', paths: [{ path: '/', service: 'web' }] }] })]);
    const engine = new IncrementalRoutes(BASE_OPTIONS);
    const before = engine.update(store.snapshot());
    store.set(endpointSlice('web-1', 'web', ['10.0.0.9']));
    const moved = engine.update(store.snapshot());
    assert.equal(moved.table.virtualHosts[0], before.table.virtualHosts[0]);
    assert.deepEqual(moved.table.upstreams.find((upstream) => upstream.id === 'default/web:80')?.endpoints, [{ address: '10.0.0.9', port: 8080 }]);
    store.set(endpointSlice('web-1', 'web', [{ ip: '10.0.0.9', ready: false }]));
    const drained = engine.update(store.snapshot());
    assert.deepEqual(drained.warnings.map((warning) => warning.reason), ['NoReadyEndpoints']);
  });

  it('computes everything again from a snapshot of another store, and gives the same result', () => {
    const engine = new IncrementalRoutes(BASE_OPTIONS);
    const first = Store.fromObjects([...initialObjects(), ingress('x', { className: 'pier', rules: [{ host: 'x.example.com', paths: [{ path: '/', service: 'web' }] }] })]);
    engine.update(first.snapshot());
    const other = Store.fromObjects([...initialObjects(), ingress('y', { className: 'pier', rules: [{ host: 'y.example.com', paths: [{ path: '/', service: 'api', port: 'http' }] }] })]);
    const snapshot = other.snapshot();
    assert.deepStrictEqual(engine.update(snapshot), computeRoutes(snapshot, BASE_OPTIONS));
  });
});

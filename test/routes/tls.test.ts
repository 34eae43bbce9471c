// Tables for TLS in the route engine (ingress-semantics.md, "TLS"): which certificate each SNI
// host gets, the warning for every Secret that can't be used (its hosts then get the default
// certificate, nothing else changes), redirects, backend protocols and the ConfigMap's HSTS keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { KubeObject } from '../../operator/model.ts';
import type { RouteComputation, RouteOptions } from '../../operator/routes/types.ts';
import { CertificateCache } from '../../operator/routes/tls.ts';
import { DEFAULT_HTTPS_SETTINGS } from '../../proxy/route-spec.ts';
import { backend } from '../helpers/objects.ts';
import { configMap, expiresAt, makeCertificate, makeCertificateValidUntil, makeExpiredCertificate, tlsIngress, tlsSecret, type UnusableKeyShape } from '../helpers/certs.ts';
import { compute, warningsOf } from './route-helpers.ts';

/**
 * The clock the computations use: a little ahead of the wall clock, because openssl stamps each
 * certificate's notBefore with the second it is made, and certificates are made while the suite
 * runs; a clock read before them could find one "not valid yet" (it did, on a loaded machine).
 */
const NOW = Date.now() + 5 * 60_000;
const DAY_MS = 24 * 3600 * 1000;
const foo = makeCertificate(['foo.com']);
const bar = makeCertificate(['bar.com']);
const wildcard = makeCertificate(['*.foo.com']);
const both = makeCertificate(['foo.com', 'bar.com']);
const expired = makeExpiredCertificate('foo.com');

/** Each TLS host with the Secret its certificate came from, e.g. `foo.com=default/foo`. */
function tlsHosts(result: RouteComputation): string[] {
  const secrets = new Map(result.table.tls?.certificates.map((certificate) => [certificate.id, certificate.secret]));
  return (result.table.tls?.hosts ?? []).map(({ host, certificate }) => `${host}=${secrets.get(certificate)}`);
}

function run(objects: KubeObject[], options: Partial<RouteOptions> = {}): RouteComputation {
  return compute([...backend('web'), ...objects], { now: NOW, ...options });
}

describe('TLS: certificates by host', () => {
  const cases: { name: string; objects: KubeObject[]; options?: Partial<RouteOptions>; hosts: string[]; warnings?: string[]; defaultCertificate?: string | null }[] = [
    {
      name: 'A valid Secret gives its certificate to the hosts its spec.tls entry lists',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      hosts: ['foo.com=default/foo'],
    },
    {
      name: 'Hosts are matched case-insensitively and kept lower-case',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['FOO.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      hosts: ['foo.com=default/foo'],
    },
    {
      name: 'A spec.tls entry without hosts covers the rule hosts of its Ingress',
      objects: [tlsIngress('i', ['foo.com', 'bar.com'], [{ secretName: 'both' }]), tlsSecret('both', both)],
      hosts: ['bar.com=default/both', 'foo.com=default/both'],
    },
    {
      name: 'A wildcard TLS host keeps its wildcard, for the proxy to match one label',
      objects: [tlsIngress('i', ['a.foo.com'], [{ hosts: ['*.foo.com'], secretName: 'wild' }]), tlsSecret('wild', wildcard)],
      hosts: ['*.foo.com=default/wild'],
    },
    {
      name: 'The Secret is looked up in the Ingress namespace, not another',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }], { namespace: 'team' }), tlsSecret('foo', foo), ...backend('web', '10.0.0.1', 'team')],
      hosts: [],
      warnings: ['Ingress team/i TlsSecretNotFound'],
    },
    {
      name: 'A missing Secret is a warning and its hosts get the default certificate',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'nope' }])],
      hosts: [],
      warnings: ['Ingress default/i TlsSecretNotFound'],
    },
    {
      name: 'A Secret of another type is a warning',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo, { type: 'Opaque' })],
      hosts: [],
      warnings: ['Ingress default/i TlsSecretInvalid'],
    },
    {
      name: 'A Secret whose tls.crt is not PEM is a warning',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo, { certificatePem: 'not a certificate' })],
      hosts: [],
      warnings: ['Ingress default/i TlsSecretInvalid'],
    },
    {
      name: "A Secret whose key belongs to another certificate is a warning",
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo, { keyPem: bar.keyPem })],
      hosts: [],
      warnings: ['Ingress default/i TlsSecretInvalid'],
    },
    {
      name: 'An expired certificate is a warning',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', expired)],
      hosts: [],
      warnings: ['Ingress default/i TlsSecretInvalid'],
    },
    {
      name: 'A certificate that is not valid yet (by the clock given as input) is a warning',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      options: { now: NOW - 7 * DAY_MS },
      hosts: [],
      warnings: ['Ingress default/i TlsSecretInvalid'],
    },
    {
      name: 'A certificate that does not cover a listed host is a warning for that host only',
      objects: [tlsIngress('i', ['foo.com', 'bar.com'], [{ hosts: ['foo.com', 'bar.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      hosts: ['foo.com=default/foo'],
      warnings: ['Ingress default/i TlsHostMismatch'],
    },
    {
      name: 'A wildcard certificate does not cover its bare domain',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'wild' }]), tlsSecret('wild', wildcard)],
      hosts: [],
      warnings: ['Ingress default/i TlsHostMismatch'],
    },
    {
      name: "An invalid Secret in one Ingress leaves another Ingress's certificate alone",
      objects: [
        tlsIngress('good', ['bar.com'], [{ hosts: ['bar.com'], secretName: 'bar' }]),
        tlsSecret('bar', bar),
        tlsIngress('bad', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]),
        tlsSecret('foo', foo, { keyPem: bar.keyPem }),
      ],
      hosts: ['bar.com=default/bar'],
      warnings: ['Ingress default/bad TlsSecretInvalid'],
    },
    {
      name: 'When two Ingresses give one host different certificates, the older wins and the younger is warned',
      objects: [
        tlsIngress('young', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'both' }], { createdAt: '2024-02-01T00:00:00Z' }),
        tlsIngress('old', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }], { createdAt: '2024-01-01T00:00:00Z' }),
        tlsSecret('foo', foo),
        tlsSecret('both', both),
      ],
      hosts: ['foo.com=default/foo'],
      warnings: ['Ingress default/young TlsHostConflict', 'Ingress default/young PathConflict'],
    },
    {
      name: '--default-ssl-certificate names the default certificate',
      objects: [tlsSecret('default-cert', both, { namespace: 'ingress' })],
      options: { defaultSslCertificate: { namespace: 'ingress', name: 'default-cert' } },
      hosts: [],
      defaultCertificate: 'ingress/default-cert',
    },
    {
      name: 'A --default-ssl-certificate that is missing is a warning on the Secret, and the fake certificate stays',
      objects: [],
      options: { defaultSslCertificate: { namespace: 'ingress', name: 'nope' } },
      hosts: [],
      warnings: ['Secret ingress/nope TlsSecretNotFound'],
      defaultCertificate: null,
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = run(testCase.objects, testCase.options);
      assert.deepEqual(tlsHosts(result), testCase.hosts);
      assert.deepEqual(warningsOf(result), testCase.warnings ?? []);
      if (testCase.defaultCertificate !== undefined) {
        const id = result.table.tls?.defaultCertificate ?? null;
        assert.equal(id === null ? null : result.table.tls?.certificates.find((certificate) => certificate.id === id)?.secret, testCase.defaultCertificate);
      }
    });
  }

  const unusableCases: { shape: UnusableKeyShape; problem: RegExp }[] = [
    { shape: 'rsa512-pkcs8', problem: /OpenSSL refused the certificate and key \(.*ee key too small\)/ },
    { shape: 'dsa1024-pkcs8', problem: /has a dsa key, which no TLS 1\.3 handshake or TLS 1\.2 ECDHE suite can use/ },
  ];
  for (const { shape, problem } of unusableCases) {
    it(`A ${shape} certificate that parses and matches its key but can't serve a handshake is a warning, and its host is reported as on the default certificate`, () => {
      const result = run([tlsIngress('i', ['foo.com', 'bar.com'], [{ hosts: ['foo.com'], secretName: 'weak' }, { hosts: ['bar.com'], secretName: 'bar' }]), tlsSecret('weak', makeCertificate(['foo.com'], shape)), tlsSecret('bar', bar)]);
      assert.deepEqual(tlsHosts(result), ['bar.com=default/bar']);
      assert.deepEqual(warningsOf(result), ['Ingress default/i TlsSecretInvalid']);
      assert.match(result.warnings[0]?.message ?? '', problem);
      assert.match(result.warnings[0]?.message ?? '', /foo\.com gets the default certificate$/);
      assert.deepEqual(result.tlsFallbacks, [{ ingress: { namespace: 'default', name: 'i' }, host: 'foo.com' }]);
    });
  }

  it('reports no fallback for a host that another Ingress gives a usable certificate', () => {
    const result = run([
      tlsIngress('old', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'missing' }], { createdAt: '2024-01-01T00:00:00Z' }),
      tlsIngress('new', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }], { createdAt: '2024-02-01T00:00:00Z' }),
      tlsSecret('foo', foo),
    ]);
    assert.deepEqual(tlsHosts(result), ['foo.com=default/foo']);
    assert.deepEqual(result.tlsFallbacks, []);
  });

  it('reports every host of a missing or mismatched Secret as on the default certificate', () => {
    const result = run([tlsIngress('i', ['foo.com', 'bar.com', 'baz.com'], [{ hosts: ['foo.com', 'baz.com'], secretName: 'missing' }, { hosts: ['bar.com'], secretName: 'foo' }]), tlsSecret('foo', foo)]);
    assert.deepEqual(result.tlsFallbacks.map(({ host }) => host), ['foo.com', 'baz.com', 'bar.com']);
  });

  it('never puts a private key in the JSON form of the table', () => {
    const result = run([tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)]);
    const json = JSON.stringify(result.table);
    assert.ok(!json.includes('PRIVATE KEY'), json);
    assert.ok(!json.includes(Buffer.from(foo.keyPem).toString('base64').slice(0, 40)));
    assert.equal(result.table.tls?.certificates[0]?.material.keyPem, foo.keyPem);
  });

  it('parses an unchanged Secret once across computations, and forgets Secrets that are gone', () => {
    const cache = new CertificateCache();
    const objects = [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)];
    const first = run(objects, { certificateCache: cache });
    const second = run(objects, { certificateCache: cache });
    assert.equal(cache.size, 1);
    // The same parsed entry, not an equal one: the Secret wasn't parsed again.
    assert.ok(first.table.tls?.certificates[0]);
    assert.equal(second.table.tls?.certificates[0]?.material, first.table.tls?.certificates[0]?.material);
    run([objects[0]!, tlsSecret('foo', bar)], { certificateCache: cache });
    assert.equal(cache.size, 1);
  });

  it('gives the same certificate id for the same material, and another for a rotated Secret', () => {
    const ingressObject = tlsIngress('i', ['foo.com', 'bar.com'], [{ hosts: ['foo.com', 'bar.com'], secretName: 'both' }]);
    const a = run([ingressObject, tlsSecret('both', both)]);
    const b = run([ingressObject, tlsSecret('both', both)]);
    const rotated = run([ingressObject, tlsSecret('both', makeCertificate(['foo.com', 'bar.com']))]);
    assert.equal(a.table.tls?.hosts[0]?.certificate, b.table.tls?.hosts[0]?.certificate);
    assert.notEqual(a.table.tls?.hosts[0]?.certificate, rotated.table.tls?.hosts[0]?.certificate);
  });
});

/** Each route as `host path -> redirect` or `host path` when it isn't redirected. */
function redirects(result: RouteComputation): string[] {
  return result.table.virtualHosts.flatMap((virtualHost) => virtualHost.routes.map((route) => `${virtualHost.host}${route.path}${route.httpsRedirect ? ' -> https' : ''}`));
}

describe('TLS: when the same objects give another result by the clock alone', () => {
  const soon = makeCertificateValidUntil('bar.com', new Date(NOW + 3600 * 1000));
  const notBefore = (certificate: typeof foo) => Date.parse(new X509Certificate(certificate.certificatePem).validFrom);
  const cases: { name: string; objects: KubeObject[]; options?: Partial<RouteOptions>; changesAt: number | null }[] = [
    { name: 'Without TLS nothing changes with time', objects: [], changesAt: null },
    {
      name: 'A certificate in use changes the result when it expires',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      changesAt: expiresAt(foo),
    },
    {
      name: 'Of two certificates in use, the one that expires first counts',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo), tlsIngress('j', ['bar.com'], [{ hosts: ['bar.com'], secretName: 'bar' }]), tlsSecret('bar', soon)],
      changesAt: expiresAt(soon),
    },
    {
      name: 'A certificate that is not valid yet changes the result when it becomes valid',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      options: { now: NOW - 7 * DAY_MS },
      changesAt: notBefore(foo),
    },
    {
      name: 'An expired certificate never changes the result again',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', expired)],
      changesAt: null,
    },
    {
      name: 'The --default-ssl-certificate counts like any other certificate',
      objects: [tlsSecret('fallback', soon)],
      options: { defaultSslCertificate: { namespace: 'default', name: 'fallback' } },
      changesAt: expiresAt(soon),
    },
    {
      name: 'Without a clock as input, no time is given',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      options: { now: undefined },
      changesAt: null,
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      assert.equal(run(testCase.objects, testCase.options).certificatesChangeAt, testCase.changesAt);
    });
  }
});

describe('TLS: redirects to https', () => {
  const PREFIX = 'nginx.ingress.kubernetes.io';
  const cases: { name: string; objects: KubeObject[]; options?: Partial<RouteOptions>; routes: string[]; warnings?: string[] }[] = [
    {
      name: 'A host with TLS redirects plain HTTP by default',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      routes: ['foo.com/ -> https'],
    },
    {
      name: 'A host without TLS does not redirect',
      objects: [tlsIngress('i', ['foo.com', 'bar.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]), tlsSecret('foo', foo)],
      routes: ['bar.com/', 'foo.com/ -> https'],
    },
    {
      name: 'A host whose Secret is missing still redirects: it is served with the default certificate',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'nope' }])],
      routes: ['foo.com/ -> https'],
      warnings: ['Ingress default/i TlsSecretNotFound'],
    },
    {
      name: 'A host covered by a wildcard TLS host redirects',
      objects: [tlsIngress('i', ['a.foo.com'], [{ hosts: ['*.foo.com'], secretName: 'wild' }]), tlsSecret('wild', wildcard)],
      routes: ['a.foo.com/ -> https'],
    },
    {
      name: 'ssl-redirect "false" turns the redirect off for that Ingress',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }], { annotations: { [`${PREFIX}/ssl-redirect`]: 'false' } }), tlsSecret('foo', foo)],
      routes: ['foo.com/'],
    },
    {
      name: 'force-ssl-redirect "true" redirects a host without TLS',
      objects: [tlsIngress('i', ['bar.com'], [], { annotations: { [`${PREFIX}/force-ssl-redirect`]: 'true' } })],
      routes: ['bar.com/ -> https'],
    },
    {
      name: 'The ConfigMap ssl-redirect "false" turns the default off, and an annotation turns it back on',
      objects: [
        tlsIngress('off', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'both' }]),
        tlsIngress('on', ['bar.com'], [{ hosts: ['bar.com'], secretName: 'both' }], { annotations: { [`${PREFIX}/ssl-redirect`]: 'true' } }),
        tlsSecret('both', both),
        configMap('pier', { 'ssl-redirect': 'false' }),
      ],
      options: { configMap: { namespace: 'ingress', name: 'pier' } },
      routes: ['bar.com/ -> https', 'foo.com/'],
    },
    {
      name: 'An annotation that is neither "true" nor "false" is a warning and is ignored',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }], { annotations: { [`${PREFIX}/ssl-redirect`]: 'no' } }), tlsSecret('foo', foo)],
      routes: ['foo.com/ -> https'],
      warnings: ['Ingress default/i InvalidAnnotation'],
    },
    {
      name: 'The annotations prefix is --annotations-prefix',
      objects: [tlsIngress('i', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }], { annotations: { 'pier.dev/ssl-redirect': 'false' } }), tlsSecret('foo', foo)],
      options: { annotationsPrefix: 'pier.dev' },
      routes: ['foo.com/'],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = run(testCase.objects, testCase.options);
      assert.deepEqual(redirects(result), testCase.routes);
      assert.deepEqual(warningsOf(result), testCase.warnings ?? []);
    });
  }
});

describe('TLS: backend protocols and the ConfigMap', () => {
  // ingress-nginx names an upstream by Service port only; backend-protocol is the location's.
  const protocolCases = [
    { name: 'Without the annotation, routes speak HTTP', annotation: undefined, protocol: undefined, warnings: [] },
    { name: 'backend-protocol HTTPS makes the route speak HTTPS to the Service port\'s upstream', annotation: 'HTTPS', protocol: 'HTTPS', warnings: [] },
    { name: 'backend-protocol GRPC makes the route speak h2c', annotation: 'GRPC', protocol: 'GRPC', warnings: [] },
    { name: 'backend-protocol is case-insensitive', annotation: 'grpcs', protocol: 'GRPCS', warnings: [] },
    { name: 'An unsupported backend-protocol (FCGI) is a warning, and HTTP is used', annotation: 'FCGI', protocol: undefined, warnings: ['Ingress default/i InvalidAnnotation'] },
  ];
  for (const testCase of protocolCases) {
    it(testCase.name, () => {
      const annotations = testCase.annotation ? { 'nginx.ingress.kubernetes.io/backend-protocol': testCase.annotation } : undefined;
      const result = run([tlsIngress('i', ['foo.com'], [], annotations ? { annotations } : {})]);
      assert.deepEqual(result.table.upstreams.map((upstream) => upstream.id), ['default/web:80']);
      assert.equal(result.table.virtualHosts[0]?.routes[0]?.protocol, testCase.protocol);
      assert.deepEqual(warningsOf(result), testCase.warnings);
    });
  }

  it('shares one upstream between an Ingress that reaches a Service port over HTTP and one that reaches it over gRPC', () => {
    const result = run([
      tlsIngress('plain', ['a.com'], []),
      tlsIngress('grpc', ['b.com'], [], { annotations: { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' } }),
    ]);
    assert.deepEqual(result.table.upstreams.map((upstream) => upstream.id), ['default/web:80']);
    assert.deepEqual(result.table.virtualHosts.map((host) => [host.host, host.routes[0]?.protocol ?? 'HTTP']), [['a.com', 'HTTP'], ['b.com', 'GRPC']]);
  });

  const hstsCases: { name: string; data: Record<string, string> | undefined; hsts: string | null; warnings: string[] }[] = [
    { name: 'Without a ConfigMap, HSTS is a year with subdomains, as in ingress-nginx', data: undefined, hsts: 'max-age=31536000; includeSubDomains', warnings: [] },
    { name: 'hsts-max-age, hsts-include-subdomains and hsts-preload shape the header', data: { 'hsts-max-age': '600', 'hsts-include-subdomains': 'false', 'hsts-preload': 'true' }, hsts: 'max-age=600; preload', warnings: [] },
    { name: 'hsts "false" turns HSTS off', data: { hsts: 'false' }, hsts: null, warnings: [] },
    { name: 'A bad value is a warning on the ConfigMap and its default is used', data: { 'hsts-max-age': 'a year' }, hsts: 'max-age=31536000; includeSubDomains', warnings: ['ConfigMap ingress/pier InvalidConfigMap'] },
  ];
  for (const testCase of hstsCases) {
    it(testCase.name, () => {
      const result = run(testCase.data ? [configMap('pier', testCase.data)] : [], { configMap: { namespace: 'ingress', name: 'pier' } });
      assert.equal(result.table.https?.hsts, testCase.hsts);
      assert.deepEqual(warningsOf(result), testCase.warnings);
    });
  }

  it('A table without HTTPS settings gets what an absent ConfigMap gives: the proxy\'s defaults are ingress-nginx\'s', () => {
    const result = run([], { configMap: { namespace: 'ingress', name: 'pier' } });
    assert.deepEqual(result.table.https, DEFAULT_HTTPS_SETTINGS);
  });

  it('http-redirect-code and no-tls-redirect-locations come from the ConfigMap', () => {
    const result = run([configMap('pier', { 'http-redirect-code': '301', 'no-tls-redirect-locations': '/.well-known/acme-challenge, /public' })], { configMap: { namespace: 'ingress', name: 'pier' } });
    assert.equal(result.table.https?.redirectCode, 301);
    assert.deepEqual(result.table.https?.noRedirectPrefixes, ['/.well-known/acme-challenge', '/public']);
  });
});

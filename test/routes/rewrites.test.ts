// Tables for the rewrite, redirect, body-size and upstream-vhost families and the host-wide regex
// mode: objects in, then requests and what the data plane does with each (decide() with the
// compiled stages, no socket). The cases are ingress-nginx's own: docs/examples/rewrite,
// docs/user-guide/ingress-path-matching.md, test/e2e/annotations/{rewrite,approot,redirect,
// fromtowwwredirect,xforwardedprefix,upstreamvhost}.go.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import { backend, endpointSlice, ingress, service, simpleIngress } from '../helpers/objects.ts';
import { compute, outcomeOf, warningsOf, type RequestOptions } from './route-helpers.ts';

const A = 'nginx.ingress.kubernetes.io';
const services = ['echo', 'service1', 'service2', 'service3', 'other'].flatMap((name) => backend(name));

interface Case {
  readonly rule: string;
  readonly objects: KubeObject[];
  /** [Host header, request target, expected outcome (see outcomeOf), options] */
  readonly requests: readonly (readonly [string, string, string, RequestOptions?])[];
  readonly warnings?: readonly string[];
}

const regexIngress = (name: string, host: string, path: string, service: string, annotations: Record<string, string>, pathType: 'Prefix' | 'Exact' | 'ImplementationSpecific' = 'ImplementationSpecific'): KubeObject =>
  ingress(name, { className: 'pier', annotations, rules: [{ host, paths: [{ path, pathType, service }] }] });

const CASES: Case[] = [
  {
    rule: 'rewrite-target fills in the path\'s groups (docs/examples/rewrite)',
    objects: [regexIngress('rewrite', 'rewrite.bar.com', '/something(/|$)(.*)', 'echo', { [`${A}/use-regex`]: 'true', [`${A}/rewrite-target`]: '/$2' })],
    requests: [
      ['rewrite.bar.com', '/something', 'echo GET /'],
      ['rewrite.bar.com', '/something/', 'echo GET /'],
      ['rewrite.bar.com', '/something/new', 'echo GET /new'],
      ['rewrite.bar.com', '/SomeThing/new', 'echo GET /new', {}],
      ['rewrite.bar.com', '/something/new?a=1&b=%20', 'echo GET /new?a=1&b=%20'],
      ['rewrite.bar.com', '/other', '404'],
    ],
  },
  {
    rule: 'rewrite-target alone switches regex mode on: its path is a regex without use-regex',
    objects: [regexIngress('rewrite', 'rewrite.bar.com', '/api(/|$)(.*)', 'echo', { [`${A}/rewrite-target`]: '/$2' })],
    requests: [['rewrite.bar.com', '/api/users/7', 'echo GET /users/7']],
  },
  {
    rule: 'A target without groups replaces the whole path; a group the path lacks is empty',
    objects: [
      regexIngress('whole', 'r.example', '/foo', 'echo', { [`${A}/rewrite-target`]: '/new/backend' }, 'Prefix'),
      regexIngress('missing', 'm.example', '/x(.*)', 'echo', { [`${A}/rewrite-target`]: '/y/$1/$3' }),
    ],
    requests: [
      ['r.example', '/foo/bar', 'echo GET /new/backend'],
      ['m.example', '/xabc', 'echo GET /y/abc/'],
    ],
  },
  {
    rule: 'A path equal to its target is not rewritten and leaves the host out of regex mode',
    objects: [regexIngress('same', 'same.example', '/', 'echo', { [`${A}/rewrite-target`]: '/' }, 'Prefix'), simpleIngress('exact', 'same.example', '/exact', 'other', { pathType: 'Exact' })],
    requests: [
      ['same.example', '/a/b?c', 'echo GET /a/b?c'],
      ['same.example', '/exact', 'other GET /exact'],
      ['same.example', '/exactly', 'echo GET /exactly'],
    ],
  },
  {
    rule: 'Regex mode reaches every Ingress on the host: longest first, case-insensitive (ingress-path-matching.md)',
    objects: [
      ingress('test-ingress-1', { className: 'pier', rules: [{ host: 'test.com', paths: [{ path: '/foo/bar', service: 'service1' }, { path: '/foo/bar/', service: 'service2' }] }] }),
      regexIngress('test-ingress-2', 'test.com', '/foo/bar/(.+)', 'service3', { [`${A}/rewrite-target`]: '/$1' }),
    ],
    requests: [
      ['test.com', '/foo/bar/1', 'service3 GET /1'],
      ['test.com', '/foo/bar/', 'service2 GET /foo/bar/'],
      ['test.com', '/foo/bar', 'service1 GET /foo/bar'],
      ['test.com', '/FOO/BAR', 'service1 GET /FOO/BAR'],
      ['test.com', '/foo/barbaz', 'service1 GET /foo/barbaz'],
    ],
  },
  {
    rule: 'Outside regex mode, Prefix /foo/bar and /foo/bar/ are one rule, and the second is a conflict',
    objects: [ingress('test-ingress-1', { className: 'pier', rules: [{ host: 'test.com', paths: [{ path: '/foo/bar', service: 'service1' }, { path: '/foo/bar/', service: 'service2' }] }] })],
    requests: [
      ['test.com', '/foo/bar/', 'service1 GET /foo/bar/'],
      ['test.com', '/foo/barbaz', '404'],
    ],
    warnings: ['Ingress default/test-ingress-1 PathConflict'],
  },
  {
    rule: 'First match, not longest exact: the documented warning (ingress-path-matching.md)',
    objects: [
      simpleIngress('foo', 'test.com', '/foo/bar/bar', 'service1'),
      regexIngress('regex', 'test.com', '/foo/bar/[a-z]{3}', 'echo', { [`${A}/use-regex`]: 'true', [`${A}/rewrite-target`]: '/new/backend' }),
    ],
    requests: [['test.com', '/foo/bar/bar', 'echo GET /new/backend']],
  },
  {
    rule: 'A longer plain path still wins over a rewriting "/" (e2e: should use correct longest path match)',
    objects: [simpleIngress('kube-lego', 'rewrite.bar.com', '/.well-known/acme/challenge', 'service1'), regexIngress('rewrite-index', 'rewrite.bar.com', '/', 'echo', { [`${A}/rewrite-target`]: '/new/backend' }, 'Prefix')],
    requests: [
      ['rewrite.bar.com', '/.well-known/acme/challenge', 'service1 GET /.well-known/acme/challenge'],
      ['rewrite.bar.com', '/anything', 'echo GET /new/backend'],
    ],
  },
  {
    rule: 'A rewrite never sends dot segments upstream: /api..%2fadmin can\'t become /../admin',
    objects: [regexIngress('api', 'shop.example', '/api(.*)', 'echo', { [`${A}/rewrite-target`]: '/$1' }), simpleIngress('admin', 'shop.example', '/admin', 'other')],
    requests: [
      ['shop.example', '/api..%2fadmin', 'echo GET /admin'],
      // Routing sees the normalized /admin: that route takes it, and it isn't rewritten.
      ['shop.example', '/api/%2e%2e/admin', 'other GET /api/%2e%2e/admin'],
      ['shop.example', '/api/v1/../v2', 'echo GET /v2'],
    ],
  },
  {
    rule: 'A target that is an http(s) URL is a 302, as nginx\'s rewrite makes it one; the query goes along',
    objects: [regexIngress('away', 'a.example', '/old/(.*)', 'echo', { [`${A}/rewrite-target`]: 'https://b.example/$1' })],
    requests: [['a.example', '/old/x?y=1', '302 https://b.example/x?y=1']],
  },
  {
    rule: 'x-forwarded-prefix goes upstream with a rewrite, and only with one (e2e xforwardedprefix.go)',
    objects: [
      regexIngress('prefixed', 'xfp.example', '/foo(/|$)(.*)', 'echo', { [`${A}/rewrite-target`]: '/$2', [`${A}/x-forwarded-prefix`]: '/test/value' }),
      simpleIngress('plain', 'plain.example', '/', 'other', { annotations: { [`${A}/x-forwarded-prefix`]: '/test/value' } }),
    ],
    requests: [
      ['xfp.example', '/foo/bar', 'echo GET /bar x-forwarded-prefix=/test/value'],
      ['plain.example', '/foo/bar', 'other GET /foo/bar'],
    ],
  },
  {
    rule: 'app-root answers 302 for "/" only, to $scheme://$http_host<app-root> (e2e approot.go)',
    objects: [simpleIngress('approot', 'approot.bar.com', '/', 'echo', { annotations: { [`${A}/app-root`]: '/foo' } })],
    requests: [
      ['approot.bar.com', '/', '302 http://approot.bar.com/foo'],
      ['approot.bar.com:8080', '/?x=1', '302 http://approot.bar.com:8080/foo'],
      ['approot.bar.com', '/', '302 https://approot.bar.com/foo', { secure: true }],
      ['approot.bar.com', '/foo', 'echo GET /foo'],
      ['approot.bar.com', '/index.html', 'echo GET /index.html'],
    ],
  },
  {
    rule: 'permanent-redirect answers every request of the location with 301 and the URL as written',
    objects: [simpleIngress('moved', 'old.example', '/', 'echo', { annotations: { [`${A}/permanent-redirect`]: 'https://new.example/landing' } })],
    requests: [
      ['old.example', '/', '301 https://new.example/landing'],
      ['old.example', '/deep/path?q=1', '301 https://new.example/landing'],
    ],
  },
  {
    rule: 'permanent-redirect-code and temporal-redirect (which wins) set the status (e2e redirect.go)',
    objects: [
      simpleIngress('code', 'code.example', '/', 'echo', { annotations: { [`${A}/permanent-redirect`]: 'https://x.example', [`${A}/permanent-redirect-code`]: '308' } }),
      simpleIngress('both', 'both.example', '/', 'echo', { annotations: { [`${A}/permanent-redirect`]: 'https://p.example', [`${A}/temporal-redirect`]: 'https://t.example', [`${A}/temporal-redirect-code`]: '307' } }),
    ],
    requests: [
      ['code.example', '/', '308 https://x.example'],
      ['both.example', '/', '307 https://t.example'],
    ],
  },
  {
    rule: 'A redirect is per location: another Ingress\'s path on the host is still served',
    objects: [simpleIngress('moved', 'site.example', '/old', 'echo', { annotations: { [`${A}/temporal-redirect`]: 'https://site.example/new' } }), simpleIngress('new', 'site.example', '/new', 'other')],
    requests: [
      ['site.example', '/old/page', '302 https://site.example/new'],
      ['site.example', '/new', 'other GET /new'],
    ],
  },
  {
    rule: 'from-to-www-redirect sends www.<host> to <host> with 308, the port named and a trailing "/" dropped (e2e fromtowwwredirect.go)',
    objects: [simpleIngress('www', 'fromtowwwredirect.bar.com', '/foo', 'echo', { annotations: { [`${A}/from-to-www-redirect`]: 'true' } })],
    requests: [
      ['www.fromtowwwredirect.bar.com', '/foo', '308 http://fromtowwwredirect.bar.com:80/foo'],
      ['www.fromtowwwredirect.bar.com', '/', '308 http://fromtowwwredirect.bar.com:80'],
      ['www.fromtowwwredirect.bar.com', '/a/?b', '308 https://fromtowwwredirect.bar.com:443/a/?b', { secure: true, port: 443 }],
      ['fromtowwwredirect.bar.com', '/foo', 'echo GET /foo'],
    ],
  },
  {
    rule: 'from-to-www-redirect on www.<host> sends <host> to www.<host>; with use-forwarded-headers the forwarded scheme and port are used',
    objects: [
      simpleIngress('www', 'www.example.org', '/', 'echo', { annotations: { [`${A}/from-to-www-redirect`]: 'true' } }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'use-forwarded-headers': 'true' } } as KubeObject,
    ],
    requests: [['example.org', '/x', '308 https://www.example.org:443/x', { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443' } }]],
  },
  {
    rule: 'from-to-www-redirect is skipped, with a warning, when the other host is served by a rule',
    objects: [simpleIngress('www', 'both.example', '/', 'echo', { annotations: { [`${A}/from-to-www-redirect`]: 'true' } }), simpleIngress('other', 'www.both.example', '/', 'other')],
    requests: [['www.both.example', '/', 'other GET /']],
    warnings: ['Ingress default/www RedirectHostConflict'],
  },
  {
    rule: 'upstream-vhost sets the Host the backend gets (e2e upstreamvhost.go)',
    objects: [simpleIngress('vhost', 'upstreamvhost.bar.com', '/', 'echo', { annotations: { [`${A}/upstream-vhost`]: 'upstreamvhost.bar.com' } }), simpleIngress('vhost2', 'a.example', '/', 'other', { annotations: { [`${A}/upstream-vhost`]: 'internal.svc:8080' } })],
    requests: [
      ['upstreamvhost.bar.com', '/', 'echo GET / host=upstreamvhost.bar.com'],
      ['a.example', '/x', 'other GET /x host=internal.svc:8080'],
    ],
  },
  {
    rule: 'server-alias routes an alias exactly as its host, every Ingress of the host included (e2e serveralias.go)',
    objects: [
      simpleIngress('main', 'foo.bar.com', '/', 'echo', { annotations: { [`${A}/server-alias`]: 'bar.foo.com, *.foo.org' } }),
      simpleIngress('api', 'foo.bar.com', '/api', 'other'),
    ],
    requests: [
      ['bar.foo.com', '/x', 'echo GET /x'],
      ['bar.foo.com', '/api/v1', 'other GET /api/v1'],
      ['any.foo.org', '/', 'echo GET /'],
      ['foo.bar.com', '/', 'echo GET /'],
    ],
  },
  {
    rule: 'A server-alias that is another rule\'s host is ignored with a warning, and that host keeps its own routes',
    objects: [simpleIngress('main', 'a.example', '/', 'echo', { annotations: { [`${A}/server-alias`]: 'b.example' } }), simpleIngress('b', 'b.example', '/', 'other')],
    requests: [['b.example', '/', 'other GET /']],
    warnings: ['Ingress default/main AliasConflict'],
  },
  {
    rule: 'proxy-body-size: a declared body over the limit is 413 before any redirect; 0 is no limit; 1m by default',
    objects: [
      simpleIngress('small', 'small.example', '/', 'echo', { annotations: { [`${A}/proxy-body-size`]: '1k', [`${A}/permanent-redirect`]: 'https://x.example' } }),
      simpleIngress('unlimited', 'big.example', '/', 'echo', { annotations: { [`${A}/proxy-body-size`]: '0' } }),
      simpleIngress('default', 'default.example', '/', 'echo'),
    ],
    requests: [
      ['small.example', '/', '413', { method: 'POST', headers: { 'Content-Length': '1025' } }],
      ['small.example', '/', '301 https://x.example', { method: 'POST', headers: { 'Content-Length': '1024' } }],
      ['big.example', '/', 'echo POST /', { method: 'POST', headers: { 'Content-Length': String(5 * 1024 ** 3) } }],
      ['default.example', '/', '413', { method: 'POST', headers: { 'Content-Length': String(1024 * 1024 + 1) } }],
      ['default.example', '/', 'echo POST /', { method: 'POST', headers: { 'Content-Length': String(1024 * 1024) } }],
    ],
  },
  {
    rule: 'The ConfigMap\'s proxy-body-size is every location\'s default, and an annotation overrides it',
    objects: [
      simpleIngress('default', 'default.example', '/', 'echo'),
      simpleIngress('own', 'own.example', '/', 'echo', { annotations: { [`${A}/proxy-body-size`]: '8m' } }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'proxy-body-size': '2k' } } as KubeObject,
    ],
    requests: [
      ['default.example', '/', '413', { method: 'PUT', headers: { 'Content-Length': '2049' } }],
      ['own.example', '/', 'echo PUT /', { method: 'PUT', headers: { 'Content-Length': '2049' } }],
    ],
  },
];

describe('rewrites, redirects, body size and upstream Host, as ingress-nginx', () => {
  for (const testCase of CASES) {
    it(testCase.rule, () => {
      const result = compute([...services, ...testCase.objects], { configMap: { namespace: 'ingress', name: 'pier' } });
      const outcomes = testCase.requests.map(([host, url, , options]) => outcomeOf(result, host, url, options));
      assert.deepEqual(outcomes, testCase.requests.map(([, , expected]) => expected));
      assert.deepEqual(warningsOf(result), testCase.warnings ?? []);
    });
  }

  it('sends service-upstream locations to the Service\'s ClusterIP on the Service port, and others to the endpoints (e2e serviceupstream.go)', () => {
    const objects = [
      service('api', [{ name: 'http', port: 80 }], 'default', '10.96.0.10'),
      endpointSlice('api-1', 'api', ['10.0.0.5', '10.0.0.6']),
      service('headless', [{ name: 'http', port: 80 }], 'default', 'None'),
      endpointSlice('headless-1', 'headless', ['10.0.0.7']),
      simpleIngress('via-ip', 'ip.example', '/', 'api', { annotations: { [`${A}/service-upstream`]: 'true' } }),
      simpleIngress('via-endpoints', 'endpoints.example', '/', 'api'),
      simpleIngress('headless', 'headless.example', '/', 'headless', { annotations: { [`${A}/service-upstream`]: 'true' } }),
    ];
    const result = compute(objects);
    const endpointsOf = (host: string): string[] => {
      const id = result.table.virtualHosts.find((virtualHost) => virtualHost.host === host)?.routes[0]?.upstream;
      return result.table.upstreams.find((upstream) => upstream.id === id)?.endpoints.map((endpoint) => `${endpoint.address}:${endpoint.port}`) ?? [];
    };
    assert.deepEqual(endpointsOf('ip.example'), ['10.96.0.10:80']);
    assert.deepEqual(endpointsOf('endpoints.example'), ['10.0.0.5:8080', '10.0.0.6:8080']);
    assert.deepEqual(endpointsOf('headless.example'), ['10.0.0.7:8080'], 'a headless Service has no ClusterIP: its endpoints are used');
    assert.deepEqual(warningsOf(result), ['Ingress default/headless InvalidAnnotation']);
  });

  it('gives an alias its host\'s certificate for SNI, unless a certificate names the alias', () => {
    const tlsHosts = (objects: KubeObject[]): string[] => compute(objects, { now: Date.parse('2026-12-02T00:00:00Z') }).table.tls?.hosts.map((entry) => entry.host) ?? [];
    const withTls = ingress('main', { className: 'pier', annotations: { [`${A}/server-alias`]: 'alias.example' }, rules: [{ host: 'main.example', paths: [{ path: '/', service: 'echo' }] }] });
    assert.deepEqual(tlsHosts([...services, withTls]), [], 'no TLS on the host: none for the alias');
  });

  it('warns and drops a path that RE2 can\'t compile once its host is in regex mode', () => {
    const result = compute([...services, simpleIngress('plain', 'h.example', '/a(b', 'service1'), regexIngress('regex', 'h.example', '/x(.*)', 'echo', { [`${A}/rewrite-target`]: '/$1' })]);
    assert.deepEqual(warningsOf(result), ['Ingress default/plain InvalidPath']);
    assert.match(result.warnings[0]?.message ?? '', /host h\.example is in regex mode .* path "\/a\(b"/);
    assert.equal(outcomeOf(result, 'h.example', '/a(b'), '404');
  });
});

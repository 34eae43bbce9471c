// Tables for the Matching rules of the Ingress v1 spec (docs: ingress-semantics.md, "Matching"):
// objects in, then requests and where each one goes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import { backend, ingress, simpleIngress } from '../helpers/objects.ts';
import { compute, routeRequest } from './route-helpers.ts';

interface MatchingCase {
  readonly rule: string;
  readonly objects: KubeObject[];
  /** [Host header, request target, expected service or 404] */
  readonly requests: readonly (readonly [string, string, string])[];
}

const services = ['exact', 'wild', 'any', 'a', 'b', 'c', 'root', 'regex'].flatMap((name) => backend(name));

const CASES: MatchingCase[] = [
  {
    rule: 'A host rule matches the Host header without its port, case-insensitively',
    objects: [simpleIngress('i', 'foo.com', '/', 'exact')],
    requests: [
      ['foo.com', '/', 'exact'],
      ['FOO.com:8080', '/', 'exact'],
      ['Foo.Com.', '/', 'exact'],
      ['bar.com', '/', '404'],
    ],
  },
  {
    rule: 'An empty host matches every host',
    objects: [simpleIngress('i', '', '/', 'any')],
    requests: [
      ['foo.com', '/x', 'any'],
      ['10.1.2.3:80', '/', 'any'],
      ['', '/', 'any'],
    ],
  },
  {
    rule: 'A wildcard host matches exactly one extra DNS label',
    objects: [simpleIngress('i', '*.foo.com', '/', 'wild')],
    requests: [
      ['bar.foo.com', '/', 'wild'],
      ['foo.com', '/', '404'],
      ['baz.bar.foo.com', '/', '404'],
    ],
  },
  {
    rule: 'An exact host rule beats a wildcard rule for the same request',
    objects: [simpleIngress('w', '*.foo.com', '/', 'wild'), simpleIngress('e', 'bar.foo.com', '/', 'exact')],
    requests: [
      ['bar.foo.com', '/', 'exact'],
      ['qux.foo.com', '/', 'wild'],
    ],
  },
  {
    rule: 'A named host with no matching path does not fall through to rules without a host',
    objects: [simpleIngress('h', 'foo.com', '/api', 'a'), simpleIngress('any', '', '/', 'any')],
    requests: [
      ['foo.com', '/api', 'a'],
      ['foo.com', '/other', '404'],
      ['bar.com', '/other', 'any'],
    ],
  },
  {
    rule: 'Exact paths match the whole path, case-sensitively',
    objects: [simpleIngress('i', 'foo.com', '/foo', 'exact', { pathType: 'Exact' })],
    requests: [
      ['foo.com', '/foo', 'exact'],
      ['foo.com', '/foo?x=1', 'exact'],
      ['foo.com', '/foo/', '404'],
      ['foo.com', '/FOO', '404'],
      ['foo.com', '/foo/bar', '404'],
    ],
  },
  {
    rule: 'Prefix paths match element by element',
    objects: [simpleIngress('i', 'foo.com', '/aaa', 'a')],
    requests: [
      ['foo.com', '/aaa', 'a'],
      ['foo.com', '/aaa/', 'a'],
      ['foo.com', '/aaa/ccc', 'a'],
      ['foo.com', '/aaaccc', '404'],
      ['foo.com', '/AAA', '404'],
    ],
  },
  {
    rule: 'A trailing slash on a Prefix rule is ignored',
    objects: [simpleIngress('i', 'foo.com', '/aaa/bbb/', 'b')],
    requests: [
      ['foo.com', '/aaa/bbb', 'b'],
      ['foo.com', '/aaa/bbb/', 'b'],
      ['foo.com', '/aaa/bbb/ccc', 'b'],
      ['foo.com', '/aaa/bbbccc', '404'],
    ],
  },
  {
    rule: 'The Prefix path / matches everything',
    objects: [simpleIngress('i', 'foo.com', '/', 'root')],
    requests: [
      ['foo.com', '/', 'root'],
      ['foo.com', '/anything/at/all', 'root'],
    ],
  },
  {
    rule: 'ImplementationSpecific is a prefix match by default',
    objects: [simpleIngress('i', 'foo.com', '/aaa', 'a', { pathType: 'ImplementationSpecific' })],
    requests: [
      ['foo.com', '/aaa/x', 'a'],
      ['foo.com', '/aaax', '404'],
    ],
  },
  {
    rule: 'ImplementationSpecific is a regular expression, anchored at the start and case-insensitive, with use-regex',
    objects: [
      simpleIngress('i', 'foo.com', '/v[0-9]+/items', 'regex', {
        pathType: 'ImplementationSpecific',
        annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
      }),
    ],
    requests: [
      ['foo.com', '/v1/items', 'regex'],
      ['foo.com', '/V22/ITEMS/7', 'regex'],
      ['foo.com', '/api/v1/items', '404'],
    ],
  },
  {
    rule: 'Among matching paths the longest wins',
    objects: [
      ingress('i', {
        className: 'pier',
        rules: [{ host: 'foo.com', paths: [{ path: '/', service: 'root' }, { path: '/a', service: 'a' }, { path: '/a/b', service: 'b' }] }],
      }),
    ],
    requests: [
      ['foo.com', '/a/b/c', 'b'],
      ['foo.com', '/a/c', 'a'],
      ['foo.com', '/c', 'root'],
    ],
  },
  {
    rule: 'On a tie in length Exact beats Prefix',
    objects: [
      ingress('i', {
        className: 'pier',
        rules: [{ host: 'foo.com', paths: [{ path: '/foo', pathType: 'Prefix', service: 'a' }, { path: '/foo', pathType: 'Exact', service: 'exact' }] }],
      }),
    ],
    requests: [
      ['foo.com', '/foo', 'exact'],
      ['foo.com', '/foo/x', 'a'],
    ],
  },
  {
    rule: 'Rules from every Ingress for the same host are merged into one virtual host',
    objects: [simpleIngress('one', 'foo.com', '/a', 'a'), simpleIngress('two', 'foo.com', '/b', 'b', { namespace: 'other' }), ...backend('b', '10.0.0.2', 'other')],
    requests: [
      ['foo.com', '/a', 'a'],
      ['foo.com', '/b', 'b'],
    ],
  },
  {
    rule: 'The query string never takes part in matching',
    objects: [simpleIngress('i', 'foo.com', '/search', 'a', { pathType: 'Exact' })],
    requests: [
      ['foo.com', '/search?q=/other', 'a'],
      ['foo.com', '/search?', 'a'],
    ],
  },
  {
    rule: 'Paths are matched after dot segments, repeated slashes and escapes are resolved',
    objects: [simpleIngress('pub', 'foo.com', '/public', 'a'), simpleIngress('adm', 'foo.com', '/admin', 'b')],
    requests: [
      ['foo.com', '/public/../admin', 'b'],
      ['foo.com', '/public/%2e%2e/admin', 'b'],
      ['foo.com', '//admin', 'b'],
      ['foo.com', '/%61dmin', 'b'],
      ['foo.com', '/public/./x', 'a'],
    ],
  },
];

describe('Matching (Ingress v1 spec)', () => {
  for (const testCase of CASES) {
    it(testCase.rule, () => {
      const result = compute([...services, ...testCase.objects]);
      const got = testCase.requests.map(([host, url]) => [host, url, routeRequest(result, host, url)]);
      assert.deepEqual(got, testCase.requests.map((request) => [...request]));
    });
  }
});

describe('Conflicts between Ingresses', () => {
  it('gives a contested host and path to the older Ingress and warns the younger one', () => {
    const result = compute([
      ...services,
      simpleIngress('young', 'foo.com', '/x', 'b', { createdAt: '2026-02-01T00:00:00Z' }),
      simpleIngress('old', 'foo.com', '/x', 'a', { createdAt: '2026-01-01T00:00:00Z' }),
    ]);
    assert.equal(routeRequest(result, 'foo.com', '/x', true), 'a@old');
    const conflict = result.warnings.filter((warning) => warning.reason === 'PathConflict');
    assert.equal(conflict.length, 1);
    assert.equal(conflict[0]?.name, 'young');
    assert.match(conflict[0]?.message ?? '', /already served by Ingress default\/old, which is older/);
  });

  it('breaks a tie in age by namespace and then name', () => {
    const at = '2026-01-01T00:00:00Z';
    const result = compute([
      ...services,
      ...backend('b', '10.0.0.2', 'aaa'),
      simpleIngress('zeta', 'foo.com', '/x', 'a', { createdAt: at }),
      simpleIngress('alpha', 'foo.com', '/x', 'a', { createdAt: at }),
      simpleIngress('zzz', 'foo.com', '/x', 'b', { createdAt: at, namespace: 'aaa' }),
    ]);
    assert.equal(routeRequest(result, 'foo.com', '/x', true), 'b@zzz');
    assert.deepEqual(result.warnings.filter((w) => w.reason === 'PathConflict').map((w) => w.name).sort(), ['alpha', 'zeta']);
  });

  it('treats Prefix /a and /a/ as the same path when they conflict', () => {
    const result = compute([
      ...services,
      simpleIngress('old', 'foo.com', '/a', 'a', { createdAt: '2026-01-01T00:00:00Z' }),
      simpleIngress('new', 'foo.com', '/a/', 'b', { createdAt: '2026-01-02T00:00:00Z' }),
    ]);
    assert.equal(routeRequest(result, 'foo.com', '/a/', true), 'a@old');
    assert.equal(result.warnings.filter((w) => w.reason === 'PathConflict').length, 1);
  });

  it('lets Exact /a and Prefix /a coexist, since they are different rules', () => {
    const result = compute([
      ...services,
      simpleIngress('prefix', 'foo.com', '/a', 'a'),
      simpleIngress('exact', 'foo.com', '/a', 'exact', { pathType: 'Exact' }),
    ]);
    assert.deepEqual(result.warnings, []);
    assert.equal(routeRequest(result, 'foo.com', '/a'), 'exact');
    assert.equal(routeRequest(result, 'foo.com', '/a/b'), 'a');
  });
});

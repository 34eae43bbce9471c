// Tables for allowlist-source-range, denylist-source-range, their ConfigMap defaults, and the
// client address (use-forwarded-headers, proxy-real-ip-cidr): objects in, requests from given
// peers out. Behaviour from ingress-nginx's docs (annotations.md "Allowlist/Denylist source range",
// configmap.md "use-forwarded-headers", "proxy-real-ip-cidr") and test/e2e/annotations/ipallowlist.go,
// ipdenylist.go: 403 outside the lists, 503 for a list that can't be read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import { backend, simpleIngress } from '../helpers/objects.ts';
import { compute, outcomeOf, type RequestOptions } from './route-helpers.ts';

const A = 'nginx.ingress.kubernetes.io';
const services = backend('app');
const configMap = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data }) as KubeObject;
const from = (remoteAddress: string, headers: Record<string, string> = {}): RequestOptions => ({ remoteAddress, headers });

interface Case {
  readonly rule: string;
  readonly objects: KubeObject[];
  /** [Host header, request options, expected outcome] */
  readonly requests: readonly (readonly [string, RequestOptions, string])[];
}

const CASES: Case[] = [
  {
    rule: 'An allowlist lets its CIDRs and addresses in, and answers 403 to every other client, IPv6 included',
    objects: [simpleIngress('i', 'a.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '10.0.0.0/8, 192.168.1.7, 2001:db8::/32' } })],
    requests: [
      ['a.example', from('10.1.2.3'), 'app GET /'],
      ['a.example', from('::ffff:10.1.2.3'), 'app GET /'],
      ['a.example', from('192.168.1.7'), 'app GET /'],
      ['a.example', from('192.168.1.8'), '403'],
      ['a.example', from('2001:db8::1'), 'app GET /'],
      ['a.example', from('2001:db9::1'), '403'],
    ],
  },
  {
    rule: 'A denylist answers 403 to its clients, and the denylist wins over the allowlist',
    objects: [simpleIngress('i', 'd.example', '/', 'app', { annotations: { [`${A}/denylist-source-range`]: '10.0.0.7, ::1', [`${A}/allowlist-source-range`]: '10.0.0.0/8' } })],
    requests: [
      ['d.example', from('10.0.0.7'), '403'],
      ['d.example', from('10.0.0.8'), 'app GET /'],
      ['d.example', from('::1'), '403'],
    ],
  },
  {
    rule: 'Lists are per location: another Ingress\'s path on the host is open',
    objects: [simpleIngress('admin', 'h.example', '/admin', 'app', { annotations: { [`${A}/allowlist-source-range`]: '10.0.0.0/8' } }), simpleIngress('public', 'h.example', '/', 'app')],
    requests: [
      ['h.example', { ...from('203.0.113.5'), method: 'GET' }, 'app GET /'],
    ],
  },
  {
    rule: 'The ConfigMap\'s whitelist-source-range guards every location, and an annotation replaces it',
    objects: [
      simpleIngress('plain', 'plain.example', '/', 'app'),
      simpleIngress('own', 'own.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '203.0.113.0/24' } }),
      configMap({ 'whitelist-source-range': '10.0.0.0/8' }),
    ],
    requests: [
      ['plain.example', from('10.9.9.9'), 'app GET /'],
      ['plain.example', from('203.0.113.5'), '403'],
      ['own.example', from('203.0.113.5'), 'app GET /'],
      ['own.example', from('10.9.9.9'), '403'],
    ],
  },
  {
    rule: 'A list that can\'t be read closes its location with 503 for everyone; it never opens it',
    objects: [
      simpleIngress('typo', 'typo.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '10.0.0.0/8, 10.0.0.300' } }),
      simpleIngress('fine', 'fine.example', '/', 'app'),
    ],
    requests: [
      ['typo.example', from('10.1.1.1'), '503'],
      ['typo.example', from('8.8.8.8'), '503'],
      ['fine.example', from('8.8.8.8'), 'app GET /'],
    ],
  },
  {
    rule: 'An unreadable ConfigMap list closes the locations that rely on it, not those with their own',
    objects: [
      simpleIngress('plain', 'plain.example', '/', 'app'),
      simpleIngress('own', 'own.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '0.0.0.0/0' } }),
      configMap({ 'whitelist-source-range': 'office' }),
    ],
    requests: [
      ['plain.example', from('10.1.1.1'), '503'],
      ['own.example', from('10.1.1.1'), 'app GET /'],
    ],
  },
  {
    rule: 'Redirects of the rewrite phase come before the access check, as in nginx',
    objects: [simpleIngress('moved', 'm.example', '/', 'app', { annotations: { [`${A}/permanent-redirect`]: 'https://n.example', [`${A}/allowlist-source-range`]: '10.0.0.0/8' } })],
    requests: [['m.example', from('203.0.113.5'), '301 https://n.example']],
  },
  {
    rule: 'Without use-forwarded-headers the peer is the client: X-Forwarded-For changes nothing',
    objects: [simpleIngress('i', 'x.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '203.0.113.0/24' } })],
    requests: [['x.example', from('10.0.0.1', { 'X-Forwarded-For': '203.0.113.9' }), '403']],
  },
  {
    rule: 'With use-forwarded-headers every IPv4 peer is trusted by default (proxy-real-ip-cidr 0.0.0.0/0): the leftmost address is the client',
    objects: [simpleIngress('i', 'x.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '203.0.113.0/24' } }), configMap({ 'use-forwarded-headers': 'true' })],
    requests: [
      ['x.example', from('10.0.0.1', { 'X-Forwarded-For': '203.0.113.9' }), 'app GET /'],
      ['x.example', from('10.0.0.1', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' }), 'app GET /'],
      ['x.example', from('10.0.0.1', { 'X_Forwarded_For': '203.0.113.9' }), '403'],
      ['x.example', from('10.0.0.1', { 'Forwarded': 'for=203.0.113.9' }), '403'],
      ['x.example', from('10.0.0.1', { 'X-Forwarded-For': 'not-an-address' }), '403'],
    ],
  },
  {
    rule: 'With proxy-real-ip-cidr, only those peers name the client, and a client can\'t push a trusted hop leftwards',
    objects: [simpleIngress('i', 'x.example', '/', 'app', { annotations: { [`${A}/allowlist-source-range`]: '203.0.113.0/24' } }), configMap({ 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8' })],
    requests: [
      ['x.example', from('10.0.0.1', { 'X-Forwarded-For': '203.0.113.9' }), 'app GET /'],
      ['x.example', from('172.16.0.1', { 'X-Forwarded-For': '203.0.113.9' }), '403'],
      ['x.example', from('10.0.0.1', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' }), '403'],
      ['x.example', from('10.0.0.1', { 'X-Forwarded-For': '198.51.100.7, 203.0.113.9, 10.0.0.2' }), 'app GET /'],
    ],
  },
];

describe('source ranges and the client address, as ingress-nginx', () => {
  for (const testCase of CASES) {
    it(testCase.rule, () => {
      const result = compute([...services, ...testCase.objects], { configMap: { namespace: 'ingress', name: 'pier' } });
      assert.deepEqual(testCase.requests.map(([host, options]) => outcomeOf(result, host, '/', options)), testCase.requests.map(([, , expected]) => expected));
    });
  }
});

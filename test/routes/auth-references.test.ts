// What an Ingress's guards may refer to: basic auth's Secret and auth-proxy-set-headers' ConfigMap.
// As ingress-nginx (configmap.md "allow-cross-namespace-resources", false by default; authreq's
// parser denies the location when the ConfigMap can't be used), anything that keeps a guard from
// working as written closes the location; objects in, each location's guard out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { KubeObject } from '../../operator/model.ts';
import type { RouteOptions } from '../../operator/routes/types.ts';
import { backend, simpleIngress } from '../helpers/objects.ts';
import { compute } from './route-helpers.ts';

const A = 'nginx.ingress.kubernetes.io';
const PIER_CONFIG = { namespace: 'ingress', name: 'pier' };
const controllerConfig = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...PIER_CONFIG }, data }) as KubeObject;
const configMap = (namespace: string, name: string, data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data }) as KubeObject;
const htpasswd = `alice:${execFileSync('openssl', ['passwd', '-apr1', 'alice-pw'], { encoding: 'utf8' }).trim()}\n`;
const users = (namespace: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'users', namespace }, type: 'Opaque', data: { auth: Buffer.from(htpasswd).toString('base64') } }) as KubeObject;
const basicAuth = (secret: string) => simpleIngress('app', 'app.example', '/', 'app', { namespace: 'team-a', annotations: { [`${A}/auth-type`]: 'basic', [`${A}/auth-secret`]: secret } });
const setHeaders = (reference: string) => simpleIngress('app', 'app.example', '/', 'app', { namespace: 'team-a', annotations: { [`${A}/auth-url`]: 'http://auth.team-a/verify', [`${A}/auth-proxy-set-headers`]: reference } });

interface Case {
  readonly rule: string;
  readonly objects: KubeObject[];
  readonly options?: Partial<RouteOptions>;
  /** The location's guard: `basic auth`, `sets <name>=<value>,...`, or `closed: <why>`. */
  readonly guard: string;
}

const CASES: Case[] = [
  { rule: 'Basic auth reads a Secret of the Ingress\'s own namespace', objects: [basicAuth('users'), users('team-a')], guard: 'basic auth' },
  {
    rule: 'Basic auth never borrows another namespace\'s users: the location closes',
    objects: [basicAuth('team-b/users'), users('team-b')],
    guard: 'closed: auth-secret team-b/users is in another namespace, which the ConfigMap\'s allow-cross-namespace-resources doesn\'t allow',
  },
  { rule: 'With allow-cross-namespace-resources "true" it may', objects: [basicAuth('team-b/users'), users('team-b'), controllerConfig({ 'allow-cross-namespace-resources': 'true' })], guard: 'basic auth' },
  {
    rule: 'auth-proxy-set-headers takes the ConfigMap\'s keys as header names and its values as they are, sorted by name',
    objects: [setHeaders('auth-headers'), configMap('team-a', 'auth-headers', { 'X-Tenant': 'a', 'X-Original-Path': '$request_uri' })],
    guard: 'sets X-Original-Path=$request_uri,X-Tenant=a',
  },
  {
    rule: 'A set-headers ConfigMap in another namespace closes the location',
    objects: [setHeaders('team-b/auth-headers'), configMap('team-b', 'auth-headers', { 'X-Tenant': 'b' })],
    guard: 'closed: auth-proxy-set-headers names ConfigMap team-b/auth-headers in another namespace, which the ConfigMap\'s allow-cross-namespace-resources doesn\'t allow',
  },
  {
    rule: 'A set-headers ConfigMap in another namespace is used when allow-cross-namespace-resources is "true"',
    objects: [setHeaders('team-b/auth-headers'), configMap('team-b', 'auth-headers', { 'X-Tenant': 'b' }), controllerConfig({ 'allow-cross-namespace-resources': 'true' })],
    guard: 'sets X-Tenant=b',
  },
  {
    rule: 'From a cluster without --enable-auth-proxy-set-headers, the ConfigMap isn\'t read, and the location closes saying why',
    objects: [setHeaders('auth-headers'), configMap('team-a', 'auth-headers', { 'X-Tenant': 'a' })],
    options: { configMapsReadable: false },
    guard: 'closed: auth-proxy-set-headers names ConfigMap team-a/auth-headers, but Pier reads ConfigMaps other than its own only with --enable-auth-proxy-set-headers',
  },
  { rule: 'A missing set-headers ConfigMap closes the location', objects: [setHeaders('auth-headers')], guard: 'closed: auth-proxy-set-headers ConfigMap team-a/auth-headers not found' },
  {
    rule: 'A key that isn\'t a header name closes the location (ingress-nginx: "invalid proxy-set-headers in configmap")',
    objects: [setHeaders('auth-headers'), configMap('team-a', 'auth-headers', { 'X Tenant': 'a' })],
    guard: 'closed: auth-proxy-set-headers ConfigMap team-a/auth-headers: "X Tenant" is not a header name',
  },
  {
    rule: 'A value with a line break can\'t smuggle a second header: the location closes',
    objects: [setHeaders('auth-headers'), configMap('team-a', 'auth-headers', { 'X-Tenant': 'a\r\nX-Admin: true' })],
    guard: 'closed: auth-proxy-set-headers ConfigMap team-a/auth-headers: the value of X-Tenant holds a control character or line break',
  },
  {
    rule: 'A value with a variable Pier doesn\'t evaluate closes the location, naming it',
    objects: [setHeaders('auth-headers'), configMap('team-a', 'auth-headers', { 'X-Client-DN': '$ssl_client_s_dn' })],
    guard: 'closed: auth-proxy-set-headers ConfigMap team-a/auth-headers: the value of X-Client-DN uses $ssl_client_s_dn, which Pier doesn\'t evaluate',
  },
];

describe('what an Ingress\'s guards may refer to', () => {
  for (const testCase of CASES) {
    it(testCase.rule, () => {
      const result = compute([...backend('app', '10.0.0.1', 'team-a'), ...testCase.objects], { configMap: PIER_CONFIG, ...testCase.options });
      const route = result.table.virtualHosts.find((virtualHost) => virtualHost.host === 'app.example')?.routes[0];
      assert.ok(route, 'app.example has its route');
      const guard = route.closed !== undefined
        ? `closed: ${route.closed}`
        : route.basicAuth
          ? 'basic auth'
          : `sets ${(route.externalAuth?.proxySetHeaders ?? []).map((value, i, all) => (i % 2 === 0 ? `${value}=${all[i + 1]}` : null)).filter((pair) => pair !== null).join(',')}`;
      assert.equal(guard, testCase.guard);
    });
  }
});

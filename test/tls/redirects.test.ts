// Plain HTTP to https redirects (308 by default, ssl-redirect, force-ssl-redirect, ACME paths,
// preserve-trailing-slash, use-forwarded-headers) and HSTS on HTTPS responses, with the controller ConfigMap's settings, on real sockets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseObject, type KubeObject } from '../../operator/model.ts';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { configMap, makeCertificate, tlsIngress, tlsSecret } from '../helpers/certs.ts';
import { httpGet, httpsGet, localService, startTlsProxy, type TlsProxy } from './harness.ts';

const PREFIX = 'nginx.ingress.kubernetes.io';
const secure = makeCertificate(['secure.example']);

describe('TLS: redirects and HSTS', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let web: KubeObject[];

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => res.end(`backend ${req.headers['x-forwarded-proto']}`));
    web = localService('web', upstream.port);
    proxy = await startTlsProxy(resources);
  });
  after(() => resources.closeAll());

  const objects = (): KubeObject[] => [
    ...web,
    tlsIngress('secure', ['secure.example'], [{ hosts: ['secure.example'], secretName: 'secure' }]),
    tlsSecret('secure', secure),
    tlsIngress('optout', ['optout.example'], [{ hosts: ['optout.example'] }], { annotations: { [`${PREFIX}/ssl-redirect`]: 'false' } }),
    tlsIngress('plain', ['plain.example'], []),
    tlsIngress('forced', ['forced.example'], [], { annotations: { [`${PREFIX}/force-ssl-redirect`]: 'true' } }),
  ];

  it('redirects plain HTTP for a host with TLS with 308, to the same host, path and query on the HTTPS port', async () => {
    proxy.apply(objects());
    const response = await httpGet(proxy.http, 'secure.example:8080', '/a/b?c=d&e');
    assert.equal(response.status, 308);
    assert.equal(response.statusMessage, 'Permanent Redirect');
    // The test's HTTPS port isn't 443, so it is named; on 443 the Location has no port.
    assert.equal(response.headers.location, `https://secure.example:${proxy.https}/a/b?c=d&e`);
    assert.equal(response.headers['strict-transport-security'], undefined);
  });

  const cases = [
    { name: 'ssl-redirect "false" serves plain HTTP for a host with TLS', host: 'optout.example', status: 200 },
    { name: 'A host without TLS is served over plain HTTP', host: 'plain.example', status: 200 },
    { name: 'force-ssl-redirect "true" redirects a host without TLS', host: 'forced.example', status: 308 },
  ];
  for (const testCase of cases) {
    it(testCase.name, async () => {
      proxy.apply(objects());
      const response = await httpGet(proxy.http, testCase.host, '/');
      assert.equal(response.status, testCase.status);
      if (testCase.status === 200) assert.equal(response.body, 'backend http');
    });
  }

  /** The Ingress cert-manager's http-01 solver adds beside the user's: the token's path on the same host. */
  const acmeSolver = (): KubeObject => {
    const parsed = parseObject({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'cm-acme-http-solver-x2b7q', namespace: 'default' },
      spec: {
        ingressClassName: 'pier',
        rules: [{ host: 'secure.example', http: { paths: [{ path: '/.well-known/acme-challenge/hT9dk1CxZg', pathType: 'ImplementationSpecific', backend: { service: { name: 'solver', port: { number: 80 } } } }] } }],
      },
    }, 'Ingress');
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.object;
  };

  it('does not redirect an ACME http-01 solver Ingress, whose path is under no-tls-redirect-locations', async () => {
    const solver = await startUpstream(resources, (_req, res) => res.end('token'));
    proxy.apply([...objects(), acmeSolver(), ...localService('solver', solver.port)]);
    const response = await httpGet(proxy.http, 'secure.example', '/.well-known/acme-challenge/hT9dk1CxZg');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'token');
  });

  it('redirects an ACME path that a "/" route takes: ingress-nginx exempts by the Ingress path, not the request path', async () => {
    proxy.apply(objects());
    const response = await httpGet(proxy.http, 'secure.example', '/.well-known/acme-challenge/token');
    assert.equal(response.status, 308);
  });

  it('drops the trailing "/" from the Location (the root becomes https://host), unless preserve-trailing-slash', async () => {
    proxy.apply([...objects(), tlsIngress('keeps', ['keeps.example'], [{ hosts: ['keeps.example'] }], { annotations: { [`${PREFIX}/preserve-trailing-slash`]: 'true' } })]);
    const port = `:${proxy.https}`;
    assert.equal((await httpGet(proxy.http, 'secure.example', '/')).headers.location, `https://secure.example${port}`);
    assert.equal((await httpGet(proxy.http, 'secure.example', '/docs/')).headers.location, `https://secure.example${port}/docs`);
    assert.equal((await httpGet(proxy.http, 'secure.example', '/docs/?a=/')).headers.location, `https://secure.example${port}/docs/?a=`, 'the last character of the request URI, query included, as ingress-nginx');
    assert.equal((await httpGet(proxy.http, 'keeps.example', '/')).headers.location, `https://keeps.example${port}/`);
    assert.equal((await httpGet(proxy.http, 'keeps.example', '/docs/')).headers.location, `https://keeps.example${port}/docs/`);
  });

  it('with use-forwarded-headers, believes X-Forwarded-Proto (no redirect loop behind a TLS load balancer) and redirects to X-Forwarded-Host', async () => {
    const settings = configMap('pier', { 'use-forwarded-headers': 'true' });
    proxy.apply([...objects(), settings], { configMap: { namespace: 'ingress', name: 'pier' } });
    const behindTls = await httpGet(proxy.http, 'secure.example', '/a', { 'x-forwarded-proto': 'https' });
    assert.equal(behindTls.status, 200);
    const plain = await httpGet(proxy.http, 'secure.example', '/a', { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'www.secure.example:8443, inner.example' });
    assert.equal(plain.status, 308);
    assert.equal(plain.headers.location, `https://www.secure.example:${proxy.https}/a`);
    proxy.apply(objects());
    const untrusted = await httpGet(proxy.http, 'secure.example', '/a', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    assert.equal(untrusted.status, 308, 'without use-forwarded-headers a client can\'t claim HTTPS');
    assert.equal(untrusted.headers.location, `https://secure.example:${proxy.https}/a`);
  });

  it('serves HTTPS with HSTS and X-Forwarded-Proto https', async () => {
    proxy.apply(objects());
    const response = await httpsGet(proxy.https, 'secure.example', '/');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'backend https');
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  });

  it('takes HSTS and the redirect code from the --configmap ConfigMap', async () => {
    const settings = configMap('pier', { 'hsts-max-age': '600', 'hsts-include-subdomains': 'false', 'hsts-preload': 'true', 'http-redirect-code': '301' });
    proxy.apply([...objects(), settings], { configMap: { namespace: 'ingress', name: 'pier' } });
    assert.equal((await httpsGet(proxy.https, 'secure.example')).headers['strict-transport-security'], 'max-age=600; preload');
    assert.equal((await httpGet(proxy.http, 'secure.example')).status, 301);
    proxy.apply([...objects(), configMap('pier', { hsts: 'false' })], { configMap: { namespace: 'ingress', name: 'pier' } });
    assert.equal((await httpsGet(proxy.https, 'secure.example')).headers['strict-transport-security'], undefined);
  });

  it("replaces a backend's own Strict-Transport-Security, as ingress-nginx does", async () => {
    const upstream = await startUpstream(resources, (_req, res) => {
      res.setHeader('strict-transport-security', 'max-age=1');
      res.end('own hsts');
    });
    proxy.apply([...localService('web', upstream.port), tlsIngress('secure', ['secure.example'], [{ hosts: ['secure.example'], secretName: 'secure' }]), tlsSecret('secure', secure)]);
    const response = await httpsGet(proxy.https, 'secure.example');
    assert.equal(response.body, 'own hsts');
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  });
});

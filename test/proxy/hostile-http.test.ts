// Hostile HTTP on real sockets, HTTP/1.1 and HTTP/2 where both apply, against a real ProxyServer
// routing two hosts to two real backends that report what reached them: absolute-form targets,
// two Host headers (and :authority against host), header-name aliases of the forwarding headers,
// httpoxy's Proxy header, and regex paths that would backtrack. Each case here got through before.
import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { configMap, makeCertificate, tlsIngress, tlsSecret } from '../helpers/certs.ts';
import { simpleIngress } from '../helpers/objects.ts';
import { LOCALHOST, Resources, startUpstream } from '../helpers/upstreams.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';
import { bodyOf, rawRequest, statusOf } from '../helpers/raw-http.ts';

interface Seen {
  readonly backend: string;
  readonly url: string;
  /** Raw header pairs, lower-cased names. */
  readonly headers: [string, string][];
}

const certificate = makeCertificate(['pub.test', 'priv.test']);
const NO_SSL_REDIRECT = { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' };
const ALIASES = ['X_Real_IP', 'X.Forwarded.For', 'X_Forwarded_Proto', 'X-Real_IP', 'X_Forwarded_For', 'X-Forwarded_Host'];

const seenIn = (answer: string): Seen => JSON.parse(bodyOf(answer)) as Seen;

/** One HTTP/2 request over TLS with exactly these headers; status and the backend's report. */
function http2Get(port: number, headers: Record<string, string>): Promise<{ status: number; seen: Seen | null }> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`https://${LOCALHOST}:${port}`, { servername: 'pub.test', rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':method': 'GET', ':path': '/h2', ...headers });
    let status = 0;
    let body = '';
    stream.on('response', (received) => (status = Number(received[':status'])));
    stream.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    stream.on('error', reject);
    stream.on('end', () => {
      session.close();
      resolve({ status, seen: status === 200 ? (JSON.parse(body) as Seen) : null });
    });
  });
}

describe('hostile HTTP', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let objects: KubeObject[];
  const reached: Seen[] = [];

  before(async () => {
    const report = (backend: string) => async () =>
      (await startUpstream(resources, (req, res) => {
        const headers: [string, string][] = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([(req.rawHeaders[i] as string).toLowerCase(), req.rawHeaders[i + 1] as string]);
        const seen: Seen = { backend, url: req.url ?? '', headers };
        reached.push(seen);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(seen));
      })).port;
    const [pubPort, privPort] = [await report('pub')(), await report('priv')()];
    objects = [
      ...localService('pub', pubPort),
      ...localService('priv', privPort),
      // No redirect to https: plain HTTP is where most of these requests are sent.
      tlsIngress('pub', ['pub.test'], [{ secretName: 'both' }], { service: 'pub', annotations: NO_SSL_REDIRECT }),
      tlsIngress('priv', ['priv.test'], [{ secretName: 'both' }], { service: 'priv', annotations: NO_SSL_REDIRECT }),
      tlsSecret('both', certificate),
    ];
    proxy = await startTlsProxy(resources);
    assert.deepEqual(proxy.apply(objects).warnings, []);
  });
  after(() => resources.closeAll());

  const header = (seen: Seen, name: string): string[] => seen.headers.filter(([key]) => key === name).map(([, value]) => value);

  describe('absolute-form request targets', () => {
    it("route by the target's authority, not the Host header, and reach the backend in origin form with that Host", async () => {
      const answer = await rawRequest(proxy.http, 'GET http://priv.test/x?y=1 HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n');
      assert.equal(statusOf(answer), 200);
      const seen = seenIn(answer);
      assert.equal(seen.backend, 'priv');
      assert.equal(seen.url, '/x?y=1');
      assert.deepEqual(header(seen, 'host'), ['priv.test']);
      assert.deepEqual(header(seen, 'x-forwarded-host'), ['priv.test']);
    });

    it('take an authority with a port and a target with no path, sending `/`', async () => {
      const seen = seenIn(await rawRequest(proxy.http, 'GET HTTP://Priv.Test:80 HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'));
      assert.equal(seen.backend, 'priv');
      assert.equal(seen.url, '/');
      assert.deepEqual(header(seen, 'host'), ['Priv.Test:80']);
    });

    it('are routed by authority for WebSocket upgrades too', async () => {
      const answer = await rawRequest(proxy.http, 'GET http://priv.test/ws HTTP/1.1\r\nHost: pub.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      // The report backend doesn't upgrade: it answers the request, which is relayed whole.
      assert.equal(seenIn(answer).backend, 'priv');
      assert.equal(seenIn(answer).url, '/ws');
    });

    it('with userinfo, another scheme or no authority, are answered 400 and reach no backend', async () => {
      for (const target of ['http://user@priv.test/x', 'ftp://priv.test/x', 'http:///x', 'priv.test/x']) {
        const before = reached.length;
        const answer = await rawRequest(proxy.http, `GET ${target} HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(answer), 400, target);
        assert.equal(reached.length, before, target);
      }
    });
  });

  describe('two hosts in one request', () => {
    it('answers 400 to two Host headers, and nothing reaches a backend', async () => {
      const before = reached.length;
      for (const hosts of [['pub.test', 'priv.test'], ['pub.test', 'pub.test']]) {
        const answer = await rawRequest(proxy.http, `GET / HTTP/1.1\r\nHost: ${hosts[0]}\r\nhost: ${hosts[1]}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(answer), 400, hosts.join(' '));
      }
      assert.equal(reached.length, before);
    });

    it('answers 400 to a WebSocket upgrade with two Host headers', async () => {
      const before = reached.length;
      const answer = await rawRequest(proxy.http, 'GET /ws HTTP/1.1\r\nHost: pub.test\r\nHost: priv.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      assert.equal(statusOf(answer), 400);
      assert.equal(reached.length, before);
    });

    it('answers 400 to an HTTP/2 request whose host header disagrees with :authority, and serves one where they agree', async () => {
      const before = reached.length;
      const disagreeing = await http2Get(proxy.https, { ':authority': 'pub.test', host: 'priv.test' });
      assert.equal(disagreeing.status, 400);
      assert.equal(reached.length, before);
      const agreeing = await http2Get(proxy.https, { ':authority': 'pub.test', host: 'PUB.test' });
      assert.equal(agreeing.status, 200);
      assert.equal(agreeing.seen?.backend, 'pub');
    });
  });

  describe('header names', () => {
    const aliasLines = ALIASES.map((name) => `${name}: 6.6.6.6\r\n`).join('');

    it('drops aliases of X-Real-IP and X-Forwarded-* (`_` or `.` for `-`) over HTTP/1.1, keeping Pier’s own values', async () => {
      const seen = seenIn(await rawRequest(proxy.http, `GET / HTTP/1.1\r\nHost: pub.test\r\n${aliasLines}X-Custom-Ok: 1\r\nConnection: close\r\n\r\n`));
      for (const alias of ALIASES) assert.deepEqual(header(seen, alias.toLowerCase()), [], alias);
      assert.deepEqual(header(seen, 'x-real-ip'), ['127.0.0.1']);
      assert.deepEqual(header(seen, 'x-forwarded-proto'), ['http']);
      assert.deepEqual(header(seen, 'x-custom-ok'), ['1']);
    });

    it('drops the same aliases over HTTP/2', async () => {
      const { seen } = await http2Get(proxy.https, { ':authority': 'pub.test', ...Object.fromEntries(ALIASES.map((name) => [name.toLowerCase(), '6.6.6.6'])) });
      for (const alias of ALIASES) assert.deepEqual(header(seen!, alias.toLowerCase()), [], alias);
      assert.deepEqual(header(seen!, 'x-forwarded-proto'), ['https']);
    });

    it('drops the aliases on WebSocket upgrades too', async () => {
      const seen = seenIn(await rawRequest(proxy.http, `GET /ws HTTP/1.1\r\nHost: pub.test\r\n${aliasLines}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`));
      for (const alias of ALIASES) assert.deepEqual(header(seen, alias.toLowerCase()), [], alias);
    });

    it('forwards names with `_` when the ConfigMap sets enable-underscores-in-headers, and still drops `.`', async () => {
      proxy.apply([...objects, configMap('pier', { 'enable-underscores-in-headers': 'true' })], { configMap: { namespace: 'ingress', name: 'pier' } });
      try {
        const seen = seenIn(await rawRequest(proxy.http, 'GET / HTTP/1.1\r\nHost: pub.test\r\nMy_Header: kept\r\nX.Dotted: 1\r\nConnection: close\r\n\r\n'));
        assert.deepEqual(header(seen, 'my_header'), ['kept']);
        assert.deepEqual(header(seen, 'x.dotted'), []);
      } finally {
        proxy.apply(objects);
      }
    });
  });

  describe('httpoxy', () => {
    it('never forwards a client’s Proxy header, over HTTP/1.1, HTTP/2 or an upgrade', async () => {
      const http1 = seenIn(await rawRequest(proxy.http, 'GET / HTTP/1.1\r\nHost: pub.test\r\nProxy: http://evil.example:8080\r\nConnection: close\r\n\r\n'));
      assert.deepEqual(header(http1, 'proxy'), []);
      const http2 = await http2Get(proxy.https, { ':authority': 'pub.test', proxy: 'http://evil.example:8080' });
      assert.deepEqual(header(http2.seen!, 'proxy'), []);
      const upgrade = seenIn(await rawRequest(proxy.http, 'GET /ws HTTP/1.1\r\nHost: pub.test\r\nProxy: http://evil.example:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
      assert.deepEqual(header(upgrade, 'proxy'), []);
    });
  });

  describe('regex paths', () => {
    const regexIngress = (name: string, host: string, path: string) =>
      simpleIngress(name, host, path, 'pub', { pathType: 'ImplementationSpecific', annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' } });

    it('match the classic catastrophic patterns against long hostile paths without stalling other hosts', async () => {
      // Whether each matches `/aaa…a!`: only `(.*a){20}` does.
      const patterns: [string, number][] = [['/(a+)+b', 404], ['/(a|aa)+b', 404], ['/(a|a?)+b', 404], ['/(.*a){20}', 200], ['/(\\w+\\s?)*$', 404]];
      proxy.apply([...objects, ...patterns.map(([pattern], index) => regexIngress(`evil-${index}`, `evil${index}.test`, pattern))]);
      try {
        for (const [index, [pattern, status]] of patterns.entries()) {
          const answer = await rawRequest(proxy.http, `GET /${'a'.repeat(5_000)}! HTTP/1.1\r\nHost: evil${index}.test\r\nConnection: close\r\n\r\n`);
          assert.equal(statusOf(answer), status, `${pattern}: ${answer.slice(0, 200)}`);
        }
        const answer = await rawRequest(proxy.http, 'GET / HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n');
        assert.equal(seenIn(answer).backend, 'pub');
      } finally {
        proxy.apply(objects);
      }
    });

    it('keep ingress-nginx’s case-insensitive match anchored at the start', async () => {
      proxy.apply([...objects, regexIngress('versions', 'api.test', '/v[0-9]+/items')]);
      try {
        assert.equal(statusOf(await rawRequest(proxy.http, 'GET /V22/ITEMS/7 HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n')), 200);
        assert.equal(statusOf(await rawRequest(proxy.http, 'GET /x/v1/items HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n')), 404);
      } finally {
        proxy.apply(objects);
      }
    });
  });
});

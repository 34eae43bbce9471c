// The rewrite, redirect, body-size and upstream-vhost families on real sockets: Ingress objects
// through computeRoutes into a real ProxyServer, requests from node's clients and raw HTTP/1.1,
// and a real upstream that says what it received. A WebSocket upgrade gets exactly what a GET gets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Readable, duplexPair } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeObject } from '../../operator/model.ts';
import { Resources, send, startUpstream } from '../helpers/upstreams.ts';
import { createServer as createNetServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { handshake, makeCertificate, tlsIngress, tlsSecret, type TestCertificate } from '../helpers/certs.ts';
import { ingress, simpleIngress } from '../helpers/objects.ts';
import { rawRequest, statusOf, WEBSOCKET_UPGRADE } from '../helpers/raw-http.ts';
import { http2Request, http2Session, localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

/** What the upstream saw, as it answers it in JSON. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly forwardedHost: string;
  readonly forwardedPrefix: string | null;
  readonly bytes: number;
}

function headerOf(answer: string, name: string): string | undefined {
  const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
  return head.split('\r\n').find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
}

/**
 * A backend port that speaks TLS or clear HTTP, by the first byte of each connection (0x16 is a
 * TLS handshake), and answers which: the kind of backend AUTO_HTTP is for.
 */
async function startSniffingBackend(resources: Resources, certificate: TestCertificate): Promise<number> {
  const answer = (scheme: string) => (_req: IncomingMessage, res: import('node:http').ServerResponse) => res.end(scheme);
  const clear = createHttpServer(answer('http'));
  const tls = createHttpsServer({ cert: certificate.certificatePem, key: certificate.keyPem }, answer('https'));
  const front = createNetServer((socket) => {
    socket.once('data', (first: Buffer) => {
      // Through a stream pair, so the server reads the first bytes again (a socket's handle wouldn't).
      const [outer, inner] = duplexPair();
      (first[0] === 0x16 ? tls : clear).emit('connection', inner);
      outer.write(first);
      socket.pipe(outer).pipe(socket);
      socket.on('error', () => outer.destroy());
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  resources.add(() => new Promise<void>((resolve) => {
    clear.closeAllConnections();
    tls.closeAllConnections();
    front.close(() => resolve());
  }));
  return (front.address() as { port: number }).port;
}

describe('annotation stages on real sockets', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  /** Request body bytes the upstream received, per request, in order. */
  const received: number[] = [];
  const mainCertificate = makeCertificate(['main.example']);

  before(async () => {
    const upstream = await startUpstream(resources, (req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('error', () => received.push(bytes));
      req.on('end', () => {
        received.push(bytes);
        const seen: Seen = { method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', forwardedHost: String(req.headers['x-forwarded-host']), forwardedPrefix: (req.headers['x-forwarded-prefix'] as string | undefined) ?? null, bytes };
        res.end(JSON.stringify(seen));
      });
    });
    // WebSocket upgrades: answer 101 with what was asked, then close.
    upstream.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen-Url: ${req.url}\r\nX-Seen-Host: ${req.headers.host}\r\nX-Seen-Prefix: ${req.headers['x-forwarded-prefix'] ?? '-'}\r\n\r\n`);
    });
    proxy = await startTlsProxy(resources);
    const sniffing = await startSniffingBackend(resources, makeCertificate(['backend.internal']));
    const objects: KubeObject[] = [
      ...localService('both', sniffing),
      tlsIngress('auto', ['auto.example'], [{ hosts: ['auto.example'], secretName: 'secure' }], { service: 'both', annotations: { [`${A}/backend-protocol`]: 'AUTO_HTTP', [`${A}/ssl-redirect`]: 'false' } }),
      tlsIngress('aliased', ['main.example'], [{ hosts: ['main.example'], secretName: 'main' }], { annotations: { [`${A}/server-alias`]: 'alias.example' } }),
      tlsSecret('main', mainCertificate),
      ...localService('web', upstream.port),
      ingress('rewrite', { className: 'pier', annotations: { [`${A}/rewrite-target`]: '/$2', [`${A}/x-forwarded-prefix`]: '/something' }, rules: [{ host: 'rewrite.bar.com', paths: [{ path: '/something(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'web' }] }] }),
      simpleIngress('approot', 'approot.bar.com', '/', 'web', { annotations: { [`${A}/app-root`]: '/app1' } }),
      simpleIngress('moved', 'old.example', '/', 'web', { annotations: { [`${A}/permanent-redirect`]: 'https://new.example/landing', [`${A}/permanent-redirect-code`]: '308' } }),
      simpleIngress('www', 'www-target.example', '/', 'web', { annotations: { [`${A}/from-to-www-redirect`]: 'true' } }),
      simpleIngress('vhost', 'vhost.example', '/', 'web', { annotations: { [`${A}/upstream-vhost`]: 'internal.example' } }),
      simpleIngress('small', 'small.example', '/', 'web', { annotations: { [`${A}/proxy-body-size`]: '1k' } }),
      simpleIngress('injected', 'injected.example', '/', 'web', { annotations: { [`${A}/upstream-vhost`]: 'a.example\r\nX-Admin: 1', [`${A}/x-forwarded-prefix`]: '/p\r\nX-Admin: 1' } }),
      tlsIngress('secure-moved', ['secure-moved.example'], [{ hosts: ['secure-moved.example'], secretName: 'secure' }], { annotations: { [`${A}/temporal-redirect`]: 'https://elsewhere.example/' } }),
      tlsSecret('secure', makeCertificate(['secure-moved.example', 'rewrite.bar.com', 'auto.example'])),
    ];
    const result = proxy.apply(objects);
    assert.deepEqual(result.warnings.map((warning) => `${warning.name} ${warning.reason}`), ['injected InvalidAnnotation', 'injected InvalidAnnotation']);
  });
  after(() => resources.closeAll());

  const seenFor = async (host: string, path: string, options: { method?: string; body?: string | Readable; headers?: string[] } = {}): Promise<Seen> => {
    const response = await send(proxy.http, { host, path, ...options });
    assert.equal(response.status, 200, response.body.toString());
    return JSON.parse(response.body.toString()) as Seen;
  };

  it('rewrites the upstream path with the groups, keeps the query, and sends X-Forwarded-Prefix', async () => {
    const seen = await seenFor('rewrite.bar.com', '/something/new?a=1');
    assert.equal(seen.url, '/new?a=1');
    assert.equal(seen.forwardedPrefix, '/something');
  });

  it('rewrites for an HTTP/2 client over TLS the same way', async () => {
    const session = http2Session(proxy.https, 'rewrite.bar.com');
    resources.add(() => session.close());
    const response = await http2Request(session, { ':path': '/something/v2/items?x', ':authority': 'rewrite.bar.com' });
    assert.equal((JSON.parse(response.body.toString()) as Seen).url, '/v2/items?x');
  });

  it('rewrites a WebSocket upgrade\'s path as it rewrites a GET', async () => {
    const answer = await rawRequest(proxy.http, `GET /something/ws?room=1 HTTP/1.1\r\nHost: rewrite.bar.com\r\n${WEBSOCKET_UPGRADE}\r\n`);
    assert.equal(statusOf(answer), 101, answer);
    assert.equal(headerOf(answer, 'x-seen-url'), '/ws?room=1');
    assert.equal(headerOf(answer, 'x-seen-prefix'), '/something');
  });

  const answered = [
    { name: 'app-root redirects "/" with 302', head: 'GET / HTTP/1.1\r\nHost: approot.bar.com\r\n', status: 302, location: 'http://approot.bar.com/app1' },
    { name: 'permanent-redirect-code 308 answers any path', head: 'GET /x/y?z HTTP/1.1\r\nHost: old.example\r\n', status: 308, location: 'https://new.example/landing' },
    { name: 'from-to-www-redirect sends www.<host> to <host>', head: 'GET /a HTTP/1.1\r\nHost: www.www-target.example\r\n', status: 308, location: 'http://www-target.example:PORT/a' },
  ];
  for (const testCase of answered) {
    it(`${testCase.name}, for a GET and a WebSocket upgrade alike`, async () => {
      const plain = await rawRequest(proxy.http, `${testCase.head}Connection: close\r\n\r\n`);
      const upgrade = await rawRequest(proxy.http, `${testCase.head}${WEBSOCKET_UPGRADE}\r\n`);
      const location = testCase.location.replace('PORT', String(proxy.http));
      assert.equal(statusOf(plain), testCase.status, plain);
      assert.equal(headerOf(plain, 'location'), location);
      assert.equal(statusOf(upgrade), testCase.status, upgrade);
      assert.equal(headerOf(upgrade, 'location'), location);
    });
  }

  it('serves app-root\'s other paths unchanged', async () => {
    assert.equal((await seenFor('approot.bar.com', '/app1/index.html')).url, '/app1/index.html');
  });

  it('puts HSTS on the redirect a route answers over HTTPS: response stages apply to the proxy\'s own answers', async () => {
    const session = http2Session(proxy.https, 'secure-moved.example');
    resources.add(() => session.close());
    const response = await http2Request(session, { ':path': '/', ':authority': 'secure-moved.example' });
    assert.equal(response.headers[':status'], 302);
    assert.equal(response.headers.location, 'https://elsewhere.example/');
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  });

  it('speaks HTTPS to an AUTO_HTTP backend for a request that came over HTTPS, and HTTP for one that didn\'t', async () => {
    const session = http2Session(proxy.https, 'auto.example');
    resources.add(() => session.close());
    assert.equal((await http2Request(session, { ':path': '/', ':authority': 'auto.example' })).body, 'https');
    assert.equal((await send(proxy.http, { host: 'auto.example' })).body.toString(), 'http');
  });

  it('routes a server-alias as its host, and answers the alias\'s SNI with the host\'s certificate', async () => {
    const redirect = await send(proxy.http, { host: 'alias.example', path: '/x' });
    assert.deepEqual([redirect.status, redirect.headers.location], [308, `https://alias.example:${proxy.https}/x`], 'the host has TLS, so its alias redirects too');
    const session = http2Session(proxy.https, 'alias.example');
    resources.add(() => session.close());
    assert.equal((JSON.parse((await http2Request(session, { ':path': '/x', ':authority': 'alias.example' })).body) as Seen).url, '/x');
    assert.equal((await handshake(proxy.https, 'alias.example')).fingerprint, mainCertificate.fingerprint);
  });

  it('sends upstream-vhost as Host, and the client\'s host as X-Forwarded-Host', async () => {
    const seen = await seenFor('vhost.example', '/');
    assert.equal(seen.host, 'internal.example');
    assert.equal(seen.forwardedHost, 'vhost.example');
  });

  it('ignores annotation values that carry a line break: nothing is injected upstream', async () => {
    const seen = await seenFor('injected.example', '/');
    assert.equal(seen.host, 'injected.example');
    assert.equal(seen.forwardedPrefix, null);
  });

  it('answers 413 to a declared body over proxy-body-size, and the backend gets nothing', async () => {
    const before = received.length;
    const response = await send(proxy.http, { host: 'small.example', method: 'POST', body: 'x'.repeat(1025) });
    assert.equal(response.status, 413);
    assert.equal(received.length, before, 'the backend saw no request');
    assert.equal((await seenFor('small.example', '/', { method: 'POST', body: 'x'.repeat(1024) })).bytes, 1024);
  });

  it('answers 413 to a chunked body once it passes proxy-body-size, and the backend gets no more than the limit', async () => {
    const chunks = Readable.from(Array.from({ length: 8 }, () => Buffer.alloc(512, 'y')));
    const response = await send(proxy.http, { host: 'small.example', method: 'POST', body: chunks, headers: ['Transfer-Encoding', 'chunked'] });
    assert.equal(response.status, 413);
    assert.ok(received.every((bytes) => bytes <= 1024), `backend received ${received.join(', ')} bytes`);
    const under = Readable.from([Buffer.alloc(600, 'z'), Buffer.alloc(424, 'z')]);
    assert.equal((await seenFor('small.example', '/', { method: 'POST', body: under, headers: ['Transfer-Encoding', 'chunked'] })).bytes, 1024);
  });

  it('answers 413 to an HTTP/2 body without a length once it passes proxy-body-size', async () => {
    const session = http2Session(proxy.https, 'small.example');
    resources.add(() => session.close());
    const response = await http2Request(session, { ':path': '/', ':method': 'POST', ':authority': 'small.example' }, Buffer.alloc(4096, 'h'));
    assert.equal(response.headers[':status'], 413);
  });
});

// HTTP/2 and HTTP/1.1 on the HTTPS port (ALPN), and the backend protocols: HTTP, HTTPS, GRPC
// (h2c) and GRPCS (h2 over TLS), with gRPC's trailers passed through. Real servers throughout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer as createHttp2Server, createSecureServer as createHttp2SecureServer, type Http2Server, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { Resources, startUpstream, LOCALHOST } from '../helpers/upstreams.ts';
import { handshake, makeCertificate, tlsIngress, tlsSecret } from '../helpers/certs.ts';
import { http2Request, http2Session, httpsGet, localService, startTlsProxy, type TlsProxy } from './harness.ts';

const HOST = 'app.example.com';
const certificate = makeCertificate([HOST]);
const backendCertificate = makeCertificate(['backend.internal']);
const PREFIX = 'nginx.ingress.kubernetes.io';

async function listen(server: Http2Server | Http2SecureServer | HttpsServer, resources: Resources): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  resources.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** What a backend saw of a request. */
interface Seen {
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly encrypted: boolean;
}

describe('TLS: HTTP/2 and backend protocols', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let seen: Seen[] = [];
  let http1Port: number;
  let h2cPort: number;
  let h2TlsPort: number;
  let httpsPort: number;
  let stallingGrpcPort: number;

  before(async () => {
    const record = (req: { httpVersion: string; headers: IncomingHttpHeaders; socket: { encrypted?: boolean } } & NodeJS.ReadableStream, done: (body: string) => void): void => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({ httpVersion: req.httpVersion, headers: req.headers, body, encrypted: req.socket.encrypted === true });
        done(body);
      });
    };
    http1Port = (await startUpstream(resources, (req, res) => record(req as never, (body) => res.end(`http1 ${req.method} ${body}`)))).port;

    // A gRPC-shaped backend: answers data, then grpc-status in trailers, only when asked with te: trailers.
    const grpcHandler = (req: never, res: import('node:http2').Http2ServerResponse): void => {
      record(req, (body) => {
        const request = seen[seen.length - 1] as Seen;
        res.writeHead(200, { 'content-type': 'application/grpc' });
        res.addTrailers({ 'grpc-status': request.headers.te === 'trailers' ? '0' : '3', 'grpc-message': `got ${body.length} bytes` });
        res.end(`reply to ${body}`);
      });
    };
    h2cPort = await listen(createHttp2Server(grpcHandler as never), resources);
    h2TlsPort = await listen(createHttp2SecureServer({ cert: backendCertificate.certificatePem, key: backendCertificate.keyPem }, grpcHandler as never), resources);
    httpsPort = await listen(createHttpsServer({ cert: backendCertificate.certificatePem, key: backendCertificate.keyPem }, (req, res) => record(req as never, () => res.end('https backend'))), resources);
    // A gRPC stream that sends one message, goes quiet for 2 s, then sends another and its status.
    stallingGrpcPort = await listen(createHttp2Server(((_req: never, res: import('node:http2').Http2ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.write('first;');
      const timer = setTimeout(() => {
        res.addTrailers({ 'grpc-status': '0' });
        res.end('second');
      }, 2000);
      res.on('close', () => clearTimeout(timer));
    }) as never), resources);
    proxy = await startTlsProxy(resources);
  });
  after(() => resources.closeAll());

  /** `HOST` to one Service on `port`, through an Ingress with TLS and these annotations. */
  const route = (port: number, annotations: Record<string, string> = {}): void => {
    const result = proxy.apply([
      ...localService('web', port),
      tlsIngress('app', [HOST], [{ hosts: [HOST], secretName: 'app' }], { annotations }),
      tlsSecret('app', certificate),
    ]);
    assert.deepEqual(result.warnings, []);
    seen = [];
  };

  it('offers h2 first, then http/1.1, by ALPN', async () => {
    route(http1Port);
    assert.equal((await handshake(proxy.https, HOST, { alpn: ['h2', 'http/1.1'] })).alpn, 'h2');
    assert.equal((await handshake(proxy.https, HOST, { alpn: ['http/1.1'] })).alpn, 'http/1.1');
  });

  it('serves an HTTP/2 request from an HTTP/1.1 backend, with :authority as Host and the forwarding headers', async () => {
    route(http1Port);
    const session = http2Session(proxy.https, HOST);
    try {
      const response = await http2Request(session, { ':path': '/hello?x=1', ':authority': HOST });
      assert.equal(response.headers[':status'], 200);
      assert.equal(response.body, 'http1 GET ');
      assert.equal(response.headers.server, 'pier');
      assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
      const request = seen[0] as Seen;
      assert.equal(request.httpVersion, '1.1');
      assert.equal(request.headers.host, HOST);
      assert.equal(request.headers['x-forwarded-proto'], 'https');
      assert.equal(request.headers['x-forwarded-port'], String(proxy.https));
      assert.equal(request.headers['x-forwarded-host'], HOST);
    } finally {
      session.close();
    }
  });

  it('streams an HTTP/2 request body that has no length to an HTTP/1.1 backend, and joins split Cookie fields', async () => {
    route(http1Port);
    const session = http2Session(proxy.https, HOST);
    try {
      const response = await http2Request(session, { ':method': 'POST', ':path': '/upload', ':authority': HOST, cookie: ['a=1', 'b=2'] }, 'a body without content-length');
      assert.equal(response.body, 'http1 POST a body without content-length');
      assert.equal((seen[0] as Seen).headers.cookie, 'a=1; b=2');
    } finally {
      session.close();
    }
  });

  it('serves HTTP/1.1 over TLS with the same handler', async () => {
    route(http1Port);
    const response = await httpsGet(proxy.https, HOST, '/one');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'http1 GET ');
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal((seen[0] as Seen).headers['x-forwarded-proto'], 'https');
  });

  it('backend-protocol GRPC: an h2 client reaches an h2c backend, with te: trailers there and grpc-status back in trailers', async () => {
    route(h2cPort, { [`${PREFIX}/backend-protocol`]: 'GRPC' });
    const session = http2Session(proxy.https, HOST);
    try {
      const response = await http2Request(session, { ':method': 'POST', ':path': '/pkg.Service/Method', ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers' }, 'request-message');
      assert.equal(response.headers[':status'], 200);
      assert.equal(response.headers['content-type'], 'application/grpc');
      assert.equal(response.body, 'reply to request-message');
      assert.equal(response.trailers?.['grpc-status'], '0');
      assert.equal(response.trailers?.['grpc-message'], 'got 15 bytes');
      const request = seen[0] as Seen;
      assert.equal(request.httpVersion, '2.0');
      assert.equal(request.headers.te, 'trailers');
      assert.equal(request.headers[':authority'], HOST);
    } finally {
      session.close();
    }
  });

  it('backend-protocol GRPC honours proxy-read-timeout between messages: a 1 s one cuts a stream quiet for 2 s, the default waits', async () => {
    const call = async (annotations: Record<string, string>): Promise<string> => {
      route(stallingGrpcPort, { [`${PREFIX}/backend-protocol`]: 'GRPC', ...annotations });
      const session = http2Session(proxy.https, HOST);
      try {
        const response = await http2Request(session, { ':method': 'POST', ':path': '/pkg.Service/Watch', ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers' }, 'watch');
        return `${response.body} grpc-status=${response.trailers?.['grpc-status']}`;
      } catch (error) {
        return `cut: ${(error as { code?: string }).code}`;
      } finally {
        session.close();
      }
    };
    assert.equal(await call({}), 'first;second grpc-status=0', 'the test proxy\'s own read timeout is 3 s');
    assert.match(await call({ [`${PREFIX}/proxy-read-timeout`]: '1' }), /^cut: ERR_HTTP2_STREAM_ERROR/);
  });

  it('backend-protocol GRPCS: h2 over TLS to the backend (its certificate is not verified)', async () => {
    route(h2TlsPort, { [`${PREFIX}/backend-protocol`]: 'GRPCS' });
    const session = http2Session(proxy.https, HOST);
    try {
      const response = await http2Request(session, { ':method': 'POST', ':path': '/pkg.Service/Method', ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers' }, 'secure');
      assert.equal(response.trailers?.['grpc-status'], '0');
      assert.equal(response.body, 'reply to secure');
      assert.equal((seen[0] as Seen).httpVersion, '2.0');
      assert.equal((seen[0] as Seen).encrypted, true);
    } finally {
      session.close();
    }
  });

  it('backend-protocol HTTPS: TLS to an HTTPS backend with a self-signed certificate', async () => {
    route(httpsPort, { [`${PREFIX}/backend-protocol`]: 'HTTPS' });
    const response = await httpsGet(proxy.https, HOST, '/');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'https backend');
    assert.equal((seen[0] as Seen).encrypted, true);
  });

  it('tunnels an HTTP/1.1 Upgrade (wss) on the HTTPS port', async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('not upgraded'));
    upstream.server.on('upgrade', (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\nX-Proto: ${req.headers['x-forwarded-proto']}\r\n\r\n`);
      socket.pipe(socket);
    });
    route(upstream.port);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: LOCALHOST, port: proxy.https, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        received += chunk;
        if (received.includes('\r\n\r\n') && !received.endsWith('\r\n\r\n')) {
          socket.destroy();
          resolve(received);
        } else if (received.includes('\r\n\r\n')) {
          socket.write('ping');
        }
      });
      socket.on('error', reject);
      socket.once('secureConnect', () => socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`));
    });
    assert.match(text, /^HTTP\/1\.1 101/);
    assert.match(text, /x-proto: https/i);
    assert.ok(text.endsWith('ping'), text);
  });
});

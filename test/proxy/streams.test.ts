// TCP and UDP services and SSL passthrough on real sockets: a TCP echo server, a UDP echo server,
// a TLS backend with its own certificate (from openssl), PROXY protocol headers in both directions
// (v1 as text, v2 as the bytes of proxy-protocol.txt's layout), a port removed while a connection
// is open. Behaviour from ingress-nginx's docs ("Exposing TCP and UDP services", "SSL Passthrough").
import assert from 'node:assert/strict';
import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { createServer as createHttpsServer } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import type { RouteComputation } from '../../operator/routes/types.ts';
import { closedPort, Resources } from '../helpers/upstreams.ts';
import { endpointSlice, service, simpleIngress } from '../helpers/objects.ts';
import { handshake, makeCertificate, tlsIngress, tlsSecret } from '../helpers/certs.ts';
import { localService, startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';
const TCP = { namespace: 'ingress', name: 'tcp-services' };
const UDP = { namespace: 'ingress', name: 'udp-services' };

/** A port nothing listens on now, for a stream port to open. */
const freePort = closedPort;

/** Writes `data` on a new connection to `port` and resolves with everything received until `bytes` arrived. */
function exchange(port: number, data: Buffer | string, bytes: number): Promise<{ received: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= bytes) resolve({ received: received.toString('latin1'), socket });
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${received.length} of ${bytes} bytes`)));
    socket.write(data);
  });
}

/** Resolves true when the connection is closed without an answer (refused or dropped). */
function refused(port: number, data: Buffer | string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('data', () => resolve(false));
    socket.once('error', () => resolve(true));
    socket.once('close', () => resolve(true));
    socket.write(data, () => undefined);
  });
}

/** Resolves once something accepts connections on `port` (tried every 20 ms, for at most 2 s). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listens on port ${port}`);
}

describe('TCP and UDP services and SSL passthrough', { timeout: 60_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let echoPort = 0;
  let udpEchoPort = 0;
  let firstLinePort = 0;
  let tlsBackendPort = 0;
  const ports = { echo: 0, proxyIn: 0, proxyBoth: 0, udp: 0, retry: 0, doomed: 0 };
  const backendCertificate = makeCertificate(['pass.example']);
  const pierCertificate = makeCertificate(['terminated.example']);
  let objects: KubeObject[];
  let tcpData: Record<string, string>;

  const serve = (server: Server): Promise<number> =>
    new Promise((resolve) => {
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
      resources.add(() => new Promise<void>((done) => server.close(() => done())));
    });

  const apply = (tcp: Record<string, string>): RouteComputation =>
    proxy.apply(
      [...objects, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...TCP }, data: tcp } as KubeObject, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...UDP }, data: { [String(ports.udp)]: 'default/udp-echo:53' } } as KubeObject],
      { tcpServicesConfigMap: TCP, udpServicesConfigMap: UDP, sslPassthrough: true },
    );

  before(async () => {
    const sockets = new Set<Socket>();
    const echo = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.pipe(socket);
    });
    resources.add(() => {
      for (const socket of sockets) socket.destroy();
    });
    echoPort = await serve(echo);
    // Answers with the first line it got (a PROXY header, when one is sent), then echoes.
    const firstLine = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let buffered = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => {
        buffered += chunk;
        const end = buffered.indexOf('\n');
        if (end !== -1) socket.write(`first line: ${buffered.slice(0, end + 1)}`);
      });
    });
    firstLinePort = await serve(firstLine);
    const udpEcho = createSocket('udp4');
    udpEcho.on('message', (message, from) => udpEcho.send(Buffer.concat([Buffer.from('echo '), message]), from.port, from.address));
    udpEchoPort = await new Promise<number>((resolve) => udpEcho.bind(0, '127.0.0.1', () => resolve(udpEcho.address().port)));
    resources.add(() => {
      udpEcho.close();
    });
    const tlsBackend = createHttpsServer({ cert: backendCertificate.certificatePem, key: backendCertificate.keyPem }, (_req, res) => res.end('from the backend itself'));
    tlsBackendPort = await serve(tlsBackend as unknown as Server);

    proxy = await startTlsProxy(resources);
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
    const deadPort = await closedPort();
    objects = [
      ...localService('echo', echoPort),
      ...localService('first-line', firstLinePort),
      service('udp-echo', [{ name: 'dns', port: 53, protocol: 'UDP' }] as never),
      { ...endpointSlice('udp-echo-1', 'udp-echo', ['127.0.0.1'], [{ name: 'dns', port: udpEchoPort }]), ports: [{ name: 'dns', port: udpEchoPort, protocol: 'UDP' }] } as KubeObject,
      service('flaky', [{ name: 'http', port: 80 }]),
      endpointSlice('flaky-dead', 'flaky', ['127.0.0.1'], [{ name: 'http', port: deadPort }]),
      endpointSlice('flaky-live', 'flaky', ['127.0.0.1'], [{ name: 'http', port: echoPort }]),
      ...localService('tls-backend', tlsBackendPort),
      simpleIngress('pass', 'pass.example', '/', 'tls-backend', { annotations: { [`${A}/ssl-passthrough`]: 'true' } }),
      tlsSecret('terminated-tls', pierCertificate),
      tlsIngress('terminated', ['terminated.example'], [{ hosts: ['terminated.example'], secretName: 'terminated-tls' }], { service: 'echo' }),
    ];
    tcpData = {
      [String(ports.echo)]: 'default/echo:80',
      [String(ports.proxyIn)]: 'default/first-line:80:PROXY',
      [String(ports.proxyBoth)]: 'default/first-line:80:PROXY:PROXY',
      [String(ports.retry)]: 'default/flaky:80',
      [String(ports.doomed)]: 'default/echo:80',
    };
    const result = apply(tcpData);
    assert.deepEqual(result.warnings.map((warning) => warning.message), []);
    // The ports open asynchronously: wait until each takes a connection.
    for (const port of [ports.echo, ports.proxyIn, ports.proxyBoth, ports.retry, ports.doomed]) await listening(port);
  });
  after(() => resources.closeAll());

  it('relays a TCP port to its Service, both ways, and counts the connection and its bytes', async () => {
    const { received, socket } = await exchange(ports.echo, 'hello over tcp', 'hello over tcp'.length);
    socket.destroy();
    assert.equal(received, 'hello over tcp');
    const series = proxy.metrics.streams.values('connections').find((value) => value.labels.port === String(ports.echo));
    assert.ok((series?.value ?? 0) >= 1);
    assert.deepEqual(series?.labels, { protocol: 'TCP', port: String(ports.echo), namespace: 'default', service: 'echo' });
  });

  it('relays UDP datagrams, and answers each client from the port it wrote to', async () => {
    const answers = await Promise.all(['alice', 'bob'].map((name) =>
      new Promise<string>((resolve, reject) => {
        const client = createSocket('udp4');
        client.once('message', (message, from) => {
          client.close();
          if (from.port !== ports.udp) reject(new Error(`answered from port ${from.port}`));
          resolve(message.toString());
        });
        client.send(`query from ${name}`, ports.udp, '127.0.0.1');
      }),
    ));
    assert.deepEqual(answers, ['echo query from alice', 'echo query from bob']);
  });

  it('takes a PROXY v1 header off and sends the rest (first PROXY)', async () => {
    const { received, socket } = await exchange(ports.proxyIn, 'PROXY TCP4 198.51.100.7 203.0.113.1 4444 80\r\nping\n', 'first line: ping\n'.length);
    socket.destroy();
    assert.equal(received, 'first line: ping\n');
  });

  it('reads a PROXY v2 header and passes its client on in a v1 header to the backend (second PROXY)', async () => {
    // proxy-protocol.txt 2.2: signature, version 2 / PROXY, TCP over IPv4, 12 address bytes.
    const v2 = Buffer.concat([
      Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
      Buffer.from([0x21, 0x11, 0x00, 0x0c]),
      Buffer.from([198, 51, 100, 7, 203, 0, 113, 1]),
      Buffer.from([0x11, 0x5c, 0x00, 0x50]),
    ]);
    const expected = `first line: PROXY TCP4 198.51.100.7 127.0.0.1 4444 ${ports.proxyBoth}\r\n`;
    const { received, socket } = await exchange(ports.proxyBoth, Buffer.concat([v2, Buffer.from('ping\n')]), expected.length);
    socket.destroy();
    assert.equal(received, expected);
  });

  it('passes an IPv6 client from a PROXY v1 header on to the backend, in a TCP6 header', async () => {
    const expected = `first line: PROXY TCP6 2001:db8::7 ::ffff:127.0.0.1 4444 ${ports.proxyBoth}\r\n`;
    const { received, socket } = await exchange(ports.proxyBoth, 'PROXY TCP6 2001:db8::7 2001:db8::1 4444 443\r\nping\n', expected.length);
    socket.destroy();
    assert.equal(received, expected);
  });

  it('drops a connection whose PROXY header is malformed, and counts it as a failure', async () => {
    const failures = (): number => proxy.metrics.streams.values('failures').find((value) => value.labels.port === String(ports.proxyIn))?.value ?? 0;
    const before = failures();
    assert.equal(await refused(ports.proxyIn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), true);
    assert.equal(failures(), before + 1);
  });

  it('moves on to the next endpoint when one refuses the connection', async () => {
    for (let i = 0; i < 4; i++) {
      const { received, socket } = await exchange(ports.retry, `try ${i}`, `try ${i}`.length);
      socket.destroy();
      assert.equal(received, `try ${i}`);
    }
  });

  it('closes a port dropped from the ConfigMap without touching a connection open on it, or any other port', async () => {
    const { socket } = await exchange(ports.doomed, 'before', 'before'.length);
    const { [String(ports.doomed)]: _dropped, ...rest } = tcpData;
    apply(rest);
    const echoed = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    socket.write('after');
    assert.equal(await echoed, 'after', 'the open connection still works');
    socket.destroy();
    assert.equal(await refused(ports.doomed, 'new'), true, 'a new connection is refused');
    const { received, socket: other } = await exchange(ports.echo, 'still here', 'still here'.length);
    other.destroy();
    assert.equal(received, 'still here');
    apply(tcpData);
    await listening(ports.doomed);
  });

  it('passes an ssl-passthrough host\'s TLS through untouched: the client sees the backend\'s own certificate', async () => {
    const passed = await handshake(proxy.https, 'pass.example');
    assert.equal(passed.fingerprint, backendCertificate.fingerprint);
    const terminated = await handshake(proxy.https, 'terminated.example');
    assert.equal(terminated.fingerprint, pierCertificate.fingerprint, 'other hosts are still terminated by Pier');
  });

  it('reaches the backend\'s own HTTPS answer through passthrough', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      import('node:https').then(({ get }) => {
        const req = get({ host: '127.0.0.1', port: proxy.https, servername: 'pass.example', headers: { host: 'pass.example' }, rejectUnauthorized: false, path: '/' }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
        });
        req.once('error', reject);
      }, reject);
    });
    assert.equal(answer, 'from the backend itself');
  });
});

describe('ssl-passthrough in the route engine', () => {
  it('needs --enable-ssl-passthrough, as in ingress-nginx, and says so on the Ingress', async () => {
    const resources = new Resources();
    const proxy = await startTlsProxy(resources);
    try {
      const objects = [...localService('web', 1), simpleIngress('pass', 'pass.example', '/', 'web', { annotations: { [`${A}/ssl-passthrough`]: 'true' } })];
      const off = proxy.apply(objects);
      assert.equal(off.table.passthrough, undefined);
      assert.deepEqual(off.warnings.map((warning) => warning.reason), ['SslPassthroughIgnored']);
      const on = proxy.apply(objects, { sslPassthrough: true });
      assert.deepEqual(on.table.passthrough, [{ host: 'pass.example', upstream: 'default/web:80' }]);
    } finally {
      await resources.closeAll();
    }
  });
});

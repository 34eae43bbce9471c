import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { LOCALHOST, Resources, closedPort, headerValues, startProxy, startUpstream, tableFor, type Proxy } from '../helpers/upstreams.ts';

const HOST = 'app.example.com';

/** A ws echo server on a node:http upstream; records each upgrade request it sees. */
async function startEchoUpstream(resources: Resources, seen: IncomingMessage[]) {
  const upstream = await startUpstream(resources, (_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server: upstream.server });
  resources.add(() => new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve());
  }));
  wss.on('connection', (socket, req) => {
    seen.push(req);
    socket.send('hello from upstream');
    socket.on('message', (data, isBinary) => socket.send(isBinary ? data : `echo:${data.toString()}`, { binary: isBinary }));
  });
  return upstream;
}

function openClient(resources: Resources, proxy: Proxy, path = '/chat'): WebSocket {
  const client = new WebSocket(`ws://${LOCALHOST}:${proxy.ports.http}${path}`, { headers: { Host: HOST }, handshakeTimeout: 3000 });
  resources.add(() => client.terminate());
  return client;
}

/** The status of a refused upgrade as a ws client sees it, with the body. */
function refusal(client: WebSocket): Promise<{ status: number; body: string; rawHeaders: string[] }> {
  return new Promise((resolve, reject) => {
    client.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, rawHeaders: res.rawHeaders }));
      res.on('error', reject);
    });
    client.on('open', () => reject(new Error('the upgrade was accepted')));
    client.on('error', reject);
  });
}

describe('WebSocket and Upgrade tunnelling', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('tunnels a WebSocket: messages go both ways, text and binary', async () => {
    const seen: IncomingMessage[] = [];
    const upstream = await startEchoUpstream(resources, seen);
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));

    const client = openClient(resources, proxy, '/chat?room=1');
    const messages: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.on('message', (data, isBinary) => {
        messages.push(isBinary ? `binary:${Buffer.from(data as Buffer).toString('hex')}` : data.toString());
        if (messages.length === 1) {
          client.send('ping 1');
          client.send(Buffer.from([1, 2, 3]));
          client.send('ping 2');
        }
        if (messages.length === 4) resolve();
      });
      client.on('error', reject);
    });
    await done;
    assert.deepEqual(messages, ['hello from upstream', 'echo:ping 1', 'binary:010203', 'echo:ping 2']);
    const [req] = seen;
    assert.equal(req?.url, '/chat?room=1');
    assert.equal(req?.headers.host, HOST);
    assert.equal(req?.headers['x-forwarded-for'], '127.0.0.1');
    assert.match(String(req?.headers['x-request-id']), /^[0-9a-f]{32}$/);
  });

  it('closes the tunnel on both sides when the client closes', async () => {
    const seen: IncomingMessage[] = [];
    const upstream = await startEchoUpstream(resources, seen);
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const client = openClient(resources, proxy);
    await new Promise((resolve, reject) => client.once('message', resolve).once('error', reject));
    const upstreamSocket = seen[0]?.socket;
    assert.ok(upstreamSocket);
    const upstreamClosed = new Promise((resolve) => upstreamSocket.once('close', resolve));
    client.terminate();
    await upstreamClosed;
  });

  it('gives the client the status, headers and body of an upgrade the upstream refuses', async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end());
    upstream.server.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-Upstream: yes\r\nContent-Length: 14\r\nConnection: close\r\n\r\nno such socket');
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const result = await refusal(openClient(resources, proxy));
    assert.equal(result.status, 404);
    assert.equal(result.body, 'no such socket');
    assert.deepEqual(headerValues(result.rawHeaders, 'x-upstream'), ['yes']);
    assert.deepEqual(headerValues(result.rawHeaders, 'server'), ['pier']);
  });

  it('relays a refusal the ws library makes (401 from verifyClient)', async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end());
    const wss = new WebSocketServer({ server: upstream.server, verifyClient: () => false });
    resources.add(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const result = await refusal(openClient(resources, proxy));
    assert.equal(result.status, 401);
    assert.equal(result.body, 'Unauthorized');
  });

  it('relays a refusal with a chunked body', async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end());
    upstream.server.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const result = await refusal(openClient(resources, proxy));
    assert.equal(result.status, 400);
    assert.equal(result.body, 'hello world');
  });

  it('answers 502 to an upgrade when the upstream refuses connections', async () => {
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [{ address: LOCALHOST, port: await closedPort() }]));
    const result = await refusal(openClient(resources, proxy));
    assert.equal(result.status, 502);
  });

  it('answers 503 to an upgrade for a Service without endpoints, and 404 for an unknown host', async () => {
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, []));
    assert.equal((await refusal(openClient(resources, proxy))).status, 503);
    const stranger = new WebSocket(`ws://${LOCALHOST}:${proxy.ports.http}/`, { headers: { Host: 'other.example.com' }, handshakeTimeout: 3000 });
    resources.add(() => stranger.terminate());
    assert.equal((await refusal(stranger)).status, 404);
  });

  it('passes bytes the client sent right after the upgrade request', async () => {
    // A raw client that pipelines a WebSocket frame behind its handshake: the frame arrives in `head`.
    const seen: IncomingMessage[] = [];
    const upstream = await startEchoUpstream(resources, seen);
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const socket = connect(proxy.ports.http, LOCALHOST);
    resources.add(() => {
      socket.destroy();
    });
    const payload = Buffer.from('early');
    const mask = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
    socket.write(
      `GET /chat HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    socket.write(frame);
    let received = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo; got ${received.toString('latin1')}`)), 3000);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.includes('echo:early')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /);
  });
});

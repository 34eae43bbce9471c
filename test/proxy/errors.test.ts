import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Agent, request } from 'node:http';
import { LOCALHOST, Resources, closedPort, headerValues, send, startProxy, startUpstream, tableFor } from '../helpers/upstreams.ts';

const HOST = 'app.example.com';

describe('error statuses', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('answers 404 with the default server body for a host no rule names', async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('backend'));
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const response = await send(proxy.ports.http, { host: 'other.example.com', path: '/anything' });
    assert.equal(response.status, 404);
    assert.equal(response.body.toString(), 'default backend - 404\n');
    assert.deepEqual(headerValues(response.rawHeaders, 'server'), ['pier']);
    assert.equal(upstream.sockets.length, 0, 'the backend was contacted');
  });

  it('answers 404 on the default-server port, whatever the host', async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('backend'));
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    for (const host of [HOST, 'other.example.com']) {
      const response = await send(proxy.ports.defaultServer, { host });
      assert.equal(response.status, 404);
      assert.equal(response.body.toString(), 'default backend - 404\n');
    }
    assert.equal(upstream.sockets.length, 0);
  });

  it('answers 503 for a route whose Service has no ready endpoints', async () => {
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, []));
    const response = await send(proxy.ports.http, { host: HOST });
    assert.equal(response.status, 503);
    assert.equal(response.body.toString(), '503 Service Temporarily Unavailable\n');
  });

  it('answers 502 when the upstream refuses connections', async () => {
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [{ address: LOCALHOST, port: await closedPort() }]));
    const response = await send(proxy.ports.http, { host: HOST });
    assert.equal(response.status, 502);
    assert.equal(response.body.toString(), '502 Bad Gateway\n');
  });

  it('answers 502 when the upstream resets the connection before answering', async () => {
    const upstream = await startUpstream(resources, (req) => req.socket.resetAndDestroy());
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    for (const method of ['GET', 'POST']) {
      const response = await send(proxy.ports.http, { host: HOST, method, body: method === 'POST' ? 'data' : undefined });
      assert.equal(response.status, 502, method);
    }
  });

  it('cuts the response off when the upstream resets after the headers were sent', async () => {
    const upstream = await startUpstream(resources, (req, res) => {
      res.writeHead(200, ['Content-Length', '100000']);
      res.write('partial');
      setTimeout(() => req.socket.resetAndDestroy(), 20);
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    await assert.rejects(send(proxy.ports.http, { host: HOST }), (error: NodeJS.ErrnoException) => {
      assert.ok(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE'].includes(error.code ?? '') || /aborted/.test(error.message), String(error));
      return true;
    });
  });

  it('answers 504 when the upstream never answers within the read timeout', async () => {
    const upstream = await startUpstream(resources, () => {
      // never answers
    });
    const proxy = await startProxy(resources, { readMs: 300 });
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const response = await send(proxy.ports.http, { host: HOST });
    assert.equal(response.status, 504);
    assert.equal(response.body.toString(), '504 Gateway Time-out\n');
  });

  it('answers 504 on a keep-alive connection and the connection stays usable', async () => {
    let calls = 0;
    const upstream = await startUpstream(resources, (_req, res) => {
      if (++calls === 1) return; // the first request hangs
      res.end('second');
    });
    const proxy = await startProxy(resources, { readMs: 300 });
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    resources.add(() => agent.destroy());
    const first = await send(proxy.ports.http, { host: HOST, agent });
    const second = await send(proxy.ports.http, { host: HOST, agent });
    assert.equal(first.status, 504);
    assert.equal(second.status, 200);
    assert.equal(second.body.toString(), 'second');
  });

  it('retries a failed connect on another endpoint, so every request succeeds', async () => {
    const live = await startUpstream(resources, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(`live:${Buffer.concat(chunks).toString()}`));
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [{ address: LOCALHOST, port: await closedPort() }, live.endpoint]));
    for (let i = 0; i < 10; i++) {
      const response = await send(proxy.ports.http, { host: HOST });
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), 'live:');
    }
    // A request body that never reached the dead endpoint is sent to the live one whole.
    for (let i = 0; i < 4; i++) {
      const response = await send(proxy.ports.http, { host: HOST, method: 'POST', body: `payload-${i}` });
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), `live:payload-${i}`);
    }
  });

  it('retries a failed connect on an endpoint not yet tried, also under concurrent requests', async () => {
    const live = await startUpstream(resources, (_req, res) => res.end('live'));
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [{ address: LOCALHOST, port: await closedPort() }, live.endpoint]));
    const responses = await Promise.all(Array.from({ length: 20 }, () => send(proxy.ports.http, { host: HOST })));
    assert.deepEqual(responses.map((response) => response.status), Array(20).fill(200));
  });

  it('does not leave the client hanging when its request body is refused by a dead endpoint', async () => {
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [{ address: LOCALHOST, port: await closedPort() }]));
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: LOCALHOST, port: proxy.ports.http, method: 'PUT', headers: { Host: HOST, 'Content-Length': '5' }, agent: false });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('hello');
    });
    assert.equal(status, 502);
  });
});

// The data-plane-notes bug: ServerResponse.write() is also false once the client has gone, and a
// handler that then waits for 'drain' parks the upstream connection forever. These tests watch
// the upstream side: every response whose client left must have its upstream connection closed.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { LOCALHOST, Resources, eventually, send, startProxy, startUpstream, tableFor, type Proxy } from '../helpers/upstreams.ts';

const HOST = 'app.example.com';
// Far more than loopback socket buffers hold (client receive + proxy send buffers can take ~10 MiB
// between them), so a response can't finish into kernel buffers before its client leaves.
const BIG = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/** Writes `total` bytes with backpressure, stopping if the connection closes. */
function writeBig(res: ServerResponse, total: number): void {
  res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Content-Length', String(total)]);
  let left = total;
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (left === 0) res.end();
  };
  pump();
}

/** A client that reads the first bytes of the response, optionally stalls, then disconnects. */
function leaveMidBody(proxy: Proxy, path: string, stallMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: LOCALHOST, port: proxy.ports.http, path, headers: { Host: HOST }, agent: false });
    req.on('error', () => resolve());
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.once('data', () => {
        res.pause();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, stallMs);
      });
    });
    req.end();
  });
}

async function inBatches(count: number, size: number, run: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += size) {
    await Promise.all(Array.from({ length: Math.min(size, count - start) }, (_, k) => run(start + k)));
  }
}

describe('clients that disconnect mid-response', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('closes the upstream connection of each of 50 clients that left a large response, and still answers', async () => {
    let started = 0;
    let closedUnfinished = 0;
    const upstream = await startUpstream(resources, (req, res) => {
      if (req.url === '/small') return void res.end('fine');
      started++;
      res.once('close', () => {
        if (!res.writableFinished) closedUnfinished++;
      });
      writeBig(res, BIG);
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));

    // Half leave at once (write() may fail on a gone client); half stall first, so Pier is paused
    // waiting for 'drain' when they go.
    await inBatches(50, 10, (i) => leaveMidBody(proxy, `/big/${i}`, i % 2 === 0 ? 0 : 30));

    assert.equal(started, 50);
    await eventually(() => closedUnfinished === 50, 3000, `upstream responses closed (${closedUnfinished}/50)`);
    // Every upstream connection that carried a request is gone. (undici also opens a few spare
    // connections that carry nothing after such aborts; its keep-alive timeout closes those.)
    const usedAndOpen = (): number => upstream.sockets.filter((socket) => socket.bytesRead > 0 && !socket.destroyed).length;
    await eventually(() => usedAndOpen() === 0, 3000, 'upstream sockets that carried a request closed');

    const responses = await Promise.all(Array.from({ length: 20 }, () => send(proxy.ports.http, { host: HOST, path: '/small' })));
    assert.deepEqual(responses.map((response) => `${response.status} ${response.body.toString()}`), Array(20).fill('200 fine'));
  });

  it('closes the upstream connection when a client leaves a response that is still being produced', async () => {
    let closed = 0;
    const upstream = await startUpstream(resources, (req, res) => {
      if (req.url === '/small') return void res.end('fine');
      res.once('close', () => closed++);
      res.writeHead(200, ['Content-Type', 'text/event-stream']);
      res.write('data: first\n\n'); // and nothing more, ever
    });
    const proxy = await startProxy(resources, { readMs: 60_000 });
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));

    await inBatches(20, 10, (i) => leaveMidBody(proxy, `/events/${i}`, 0));
    await eventually(() => closed === 20, 3000, `upstream responses closed (${closed}/20)`);

    const response = await send(proxy.ports.http, { host: HOST, path: '/small' });
    assert.equal(response.status, 200);
  });

  it('closes the upstream connection when a client leaves before the response headers', async () => {
    let closed = 0;
    let arrived = 0;
    const upstream = await startUpstream(resources, (_req, res) => {
      arrived++;
      res.once('close', () => closed++);
    });
    const proxy = await startProxy(resources, { readMs: 60_000 });
    proxy.server.swap(tableFor(HOST, [upstream.endpoint]));

    const clients = Array.from({ length: 10 }, () => request({ host: LOCALHOST, port: proxy.ports.http, headers: { Host: HOST }, agent: false }));
    for (const client of clients) client.on('error', () => {}).end();
    await eventually(() => arrived === 10, 3000, 'requests at the upstream');
    for (const client of clients) client.destroy();
    await eventually(() => closed === 10, 3000, `upstream responses closed (${closed}/10)`);
  });
});

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { LOCALHOST, Resources, send, startProxy, startUpstream, tableFor } from '../helpers/upstreams.ts';

const MIB = 1024 * 1024;
const TOTAL = 20 * MIB;
const CHUNK = 64 * 1024;

/** Chunk number `i`: deterministic and different for every i, so a lost or reordered chunk shows in the hash. */
function chunkAt(i: number): Buffer {
  // A sha512 in hex is 128 characters; 512 of them make one 64 KiB chunk.
  return Buffer.from(createHash('sha512').update(String(i)).digest('hex').repeat(CHUNK / 128), 'latin1');
}

function sha256Of(chunks: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < chunks; i++) hash.update(chunkAt(i));
  return hash.digest('hex');
}

describe('streaming through the proxy', { timeout: 20_000 }, () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll(), { timeout: 5000 });

  it('delivers a 20 MiB chunked request body to the backend intact', async () => {
    const upstream = await startUpstream(resources, (req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null })));
    });
    const proxy = await startProxy(resources);
    // 20 MiB is over ingress-nginx's 1m default body limit: proxy-body-size "0" (no limit), as a user would set.
    proxy.server.swap({ ...tableFor('app.example.com', [upstream.endpoint]), bodySizeLimit: 0 });

    const chunks = TOTAL / CHUNK;
    const body = Readable.from((function* () {
      for (let i = 0; i < chunks; i++) yield chunkAt(i);
    })());
    const response = await send(proxy.ports.http, { method: 'POST', path: '/upload', body, headers: ['Transfer-Encoding', 'chunked'] });
    assert.equal(response.status, 200);
    const got = JSON.parse(response.body.toString()) as { bytes: number; sha256: string };
    assert.equal(got.bytes, TOTAL);
    assert.equal(got.sha256, sha256Of(chunks));
  });

  it('passes request body bytes on before the client has finished sending', async () => {
    let firstBytesAtBackend!: () => void;
    const backendGotBytes = new Promise<void>((resolve) => (firstBytesAtBackend = resolve));
    const upstream = await startUpstream(resources, (req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        firstBytesAtBackend();
      });
      req.on('end', () => res.end(String(bytes)));
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor('app.example.com', [upstream.endpoint]));

    // The client sends one chunk and holds the rest back until the backend has seen bytes: a
    // proxy that buffered the request body would never let this finish.
    const body = Readable.from((async function* () {
      yield Buffer.alloc(1000, 1);
      await backendGotBytes;
      yield Buffer.alloc(1000, 2);
    })());
    const response = await send(proxy.ports.http, { method: 'POST', body, headers: ['Transfer-Encoding', 'chunked'] });
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), '2000');
  });

  it('delivers a 20 MiB response intact to a slow-reading client, without buffering it all', async () => {
    const chunks = TOTAL / CHUNK;
    let written = 0;
    const upstream = await startUpstream(resources, (_req, res) => {
      res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Content-Length', String(TOTAL)]);
      let i = 0;
      const pump = (): void => {
        while (i < chunks) {
          const chunk = chunkAt(i++);
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor('app.example.com', [upstream.endpoint]));

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: LOCALHOST, port: proxy.ports.http, path: '/download', headers: { Host: 'app.example.com' }, agent: false });
      req.on('response', resolve).on('error', reject).end();
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(TOTAL));
    res.pause();
    // Not reading for a while: with backpressure the backend stalls long before all 20 MiB are out.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const writtenWhilePaused = written;
    assert.ok(writtenWhilePaused < TOTAL, `the backend wrote all ${TOTAL} bytes while the client read nothing`);

    const hash = createHash('sha256');
    let received = 0;
    let reads = 0;
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        // A slow reader: a short pause every few reads.
        if (++reads % 64 === 0) {
          res.pause();
          setTimeout(() => res.resume(), 5);
        }
      });
      res.on('end', resolve).on('error', reject);
      res.resume();
    });
    assert.equal(received, TOTAL);
    assert.equal(hash.digest('hex'), sha256Of(chunks));
  });

  it('streams the response: the client gets the first bytes before the backend has finished writing', async () => {
    let clientGotBytes!: () => void;
    const firstBytesAtClient = new Promise<void>((resolve) => (clientGotBytes = resolve));
    let backendFinished = false;
    const upstream = await startUpstream(resources, (_req, res) => {
      res.writeHead(200, ['Content-Type', 'text/plain']);
      res.write('first part\n');
      // The rest only once the client has the first part: a buffering proxy would deadlock here.
      void firstBytesAtClient.then(() => {
        backendFinished = true;
        res.end('second part\n');
      });
    });
    const proxy = await startProxy(resources);
    proxy.server.swap(tableFor('app.example.com', [upstream.endpoint]));

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: LOCALHOST, port: proxy.ports.http, headers: { Host: 'app.example.com' }, agent: false });
      req.on('response', resolve).on('error', reject).end();
    });
    let body = '';
    let finishedBeforeFirstBytes: boolean | undefined;
    await new Promise<void>((resolve, reject) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (finishedBeforeFirstBytes === undefined) finishedBeforeFirstBytes = backendFinished;
        body += chunk;
        clientGotBytes();
      });
      res.on('end', resolve).on('error', reject);
    });
    assert.equal(finishedBeforeFirstBytes, false);
    assert.equal(body, 'first part\nsecond part\n');
  });
});

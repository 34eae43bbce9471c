import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { Resources, headerValues, send, startProxy, startUpstream, tableFor, type Proxy, type Upstream } from '../helpers/upstreams.ts';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
}

function seenBy(req: IncomingMessage): Seen {
  return { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders };
}

describe('forwarding a request upstream', { timeout: 20_000 }, () => {
  const resources = new Resources();
  let proxy: Proxy;
  let upstream: Upstream;
  const seen: Seen[] = [];

  before(async () => {
    upstream = await startUpstream(resources, (req, res) => {
      seen.push(seenBy(req));
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.url === '/echo') {
          res.writeHead(200, ['Content-Type', 'application/octet-stream']);
          res.end(Buffer.concat(chunks));
        } else if (req.url === '/hop-by-hop') {
          res.writeHead(200, [
            'Connection', 'keep-alive, X-Upstream-Hop',
            'Keep-Alive', 'timeout=5',
            'Proxy-Connection', 'keep-alive',
            'X-Upstream-Hop', 'secret',
            'Trailer', 'X-Checksum',
            'Upgrade', 'h2c',
            'X-End-To-End', 'kept',
          ]);
          res.end('ok');
        } else if (req.url === '/cookies') {
          res.writeHead(200, ['Set-Cookie', 'a=1; Path=/', 'Set-Cookie', 'b=2; HttpOnly', 'Set-Cookie', 'c=3', 'Content-Length', '0']);
          res.end();
        } else if (req.url === '/server') {
          res.writeHead(200, ['Server', 'gunicorn', 'Date', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Content-Length', '0']);
          res.end();
        } else {
          const body = 'x'.repeat(1000);
          res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(body.length)]);
          res.end(body);
        }
      });
    });
    proxy = await startProxy(resources);
    proxy.server.swap(tableFor('app.example.com', [upstream.endpoint]));
  });
  after(() => resources.closeAll(), { timeout: 5000 });

  const last = (): Seen => {
    const entry = seen.at(-1);
    assert.ok(entry, 'the upstream got no request');
    return entry;
  };

  it('passes the method, path and query to the backend unchanged', async () => {
    const path = '/api/v1/items/%2Fraw/./x//y?q=a%20b&q=c&empty=&flag#';
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const response = await send(proxy.ports.http, { method, path: path.replace('#', ''), body: method === 'POST' || method === 'PUT' ? 'payload' : undefined });
      assert.equal(response.status, 200, method);
      assert.equal(last().method, method);
      assert.equal(last().url, path.replace('#', ''));
    }
  });

  it('passes Host and User-Agent as the client sent them', async () => {
    await send(proxy.ports.http, { host: 'App.Example.com:8080', headers: ['User-Agent', 'curl/8.5.0 (custom; "quoted")'] });
    assert.deepEqual(headerValues(last().rawHeaders, 'host'), ['App.Example.com:8080']);
    assert.deepEqual(headerValues(last().rawHeaders, 'user-agent'), ['curl/8.5.0 (custom; "quoted")']);
  });

  it('adds X-Forwarded-For, -Proto, -Host, -Port and X-Real-IP, replacing what the client claimed', async () => {
    await send(proxy.ports.http, {
      host: 'app.example.com',
      headers: ['X-Forwarded-For', '6.6.6.6', 'X-Real-IP', '6.6.6.6', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil.example', 'X-Forwarded-Port', '1'],
    });
    const raw = last().rawHeaders;
    assert.deepEqual(headerValues(raw, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(headerValues(raw, 'x-real-ip'), ['127.0.0.1']);
    assert.deepEqual(headerValues(raw, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(headerValues(raw, 'x-forwarded-host'), ['app.example.com']);
    assert.deepEqual(headerValues(raw, 'x-forwarded-port'), [String(proxy.ports.http)]);
  });

  it("keeps a client's X-Request-ID", async () => {
    await send(proxy.ports.http, { headers: ['X-Request-ID', 'client-chosen-id-42'] });
    assert.deepEqual(headerValues(last().rawHeaders, 'x-request-id'), ['client-chosen-id-42']);
  });

  it('makes a new 32-hex X-Request-ID for each request without one', async () => {
    await send(proxy.ports.http);
    const [first] = headerValues(last().rawHeaders, 'x-request-id');
    await send(proxy.ports.http);
    const [second] = headerValues(last().rawHeaders, 'x-request-id');
    assert.match(first ?? '', /^[0-9a-f]{32}$/);
    assert.match(second ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(first, second);
  });

  it('strips hop-by-hop request headers and any header the Connection header names', async () => {
    // A chunked body, since node:http only allows a Trailer header with one.
    const { Readable } = await import('node:stream');
    await send(proxy.ports.http, {
      method: 'POST',
      body: Readable.from(['body']),
      headers: [
        'Connection', 'keep-alive, X-Client-Hop',
        'Keep-Alive', 'timeout=5',
        'Proxy-Connection', 'keep-alive',
        'X-Client-Hop', 'secret',
        'TE', 'gzip, deflate',
        'Trailer', 'X-Checksum',
        'Upgrade', 'h2c',
        'X-End-To-End', 'kept',
      ],
    });
    const raw = last().rawHeaders;
    for (const name of ['keep-alive', 'proxy-connection', 'x-client-hop', 'te', 'trailer', 'upgrade']) {
      assert.deepEqual(headerValues(raw, name), [], `${name} reached the backend`);
    }
    // undici speaks keep-alive to the backend itself; the client's Connection value never arrives.
    for (const value of headerValues(raw, 'connection')) assert.doesNotMatch(value, /x-client-hop/i);
    assert.deepEqual(headerValues(raw, 'x-end-to-end'), ['kept']);
  });

  it('forwards TE only as "trailers"', async () => {
    await send(proxy.ports.http, { headers: ['TE', 'deflate, trailers'] });
    assert.deepEqual(headerValues(last().rawHeaders, 'te'), ['trailers']);
  });

  it("does not pass the client's Transfer-Encoding on, yet the chunked body arrives whole", async () => {
    const chunks = ['alpha-', 'beta-', 'gamma'];
    const { Readable } = await import('node:stream');
    const response = await send(proxy.ports.http, { method: 'POST', path: '/echo', headers: ['Transfer-Encoding', 'chunked'], body: Readable.from(chunks) });
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'alpha-beta-gamma');
    // undici frames a body of unknown length as chunked itself: at most one Transfer-Encoding, its own.
    assert.ok(headerValues(last().rawHeaders, 'transfer-encoding').length <= 1);
  });

  it('strips hop-by-hop response headers and any header the Connection header names', async () => {
    const response = await send(proxy.ports.http, { path: '/hop-by-hop' });
    assert.equal(response.status, 200);
    for (const name of ['keep-alive', 'proxy-connection', 'x-upstream-hop', 'trailer', 'upgrade']) {
      assert.deepEqual(headerValues(response.rawHeaders, name), [], `${name} reached the client`);
    }
    for (const value of headerValues(response.rawHeaders, 'connection')) assert.doesNotMatch(value, /x-upstream-hop/i);
    assert.deepEqual(headerValues(response.rawHeaders, 'x-end-to-end'), ['kept']);
    assert.equal(response.body.toString(), 'ok');
  });

  it('answers with Server: pier and a current Date, in place of the backend’s', async () => {
    const response = await send(proxy.ports.http, { path: '/server' });
    assert.deepEqual(headerValues(response.rawHeaders, 'server'), ['pier']);
    const dates = headerValues(response.rawHeaders, 'date');
    assert.equal(dates.length, 1);
    assert.ok(Math.abs(Date.parse(dates[0] as string) - Date.now()) < 60_000, `Date ${dates[0]} is not current`);
  });

  it("keeps the backend's Content-Length and does not chunk the body", async () => {
    const response = await send(proxy.ports.http, { path: '/sized' });
    assert.deepEqual(headerValues(response.rawHeaders, 'content-length'), ['1000']);
    assert.deepEqual(headerValues(response.rawHeaders, 'transfer-encoding'), []);
    assert.equal(response.body.length, 1000);
  });

  it('passes every Set-Cookie value, in order', async () => {
    const response = await send(proxy.ports.http, { path: '/cookies' });
    assert.deepEqual(headerValues(response.rawHeaders, 'set-cookie'), ['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
  });

  it('passes a HEAD response with its Content-Length and no body', async () => {
    const response = await send(proxy.ports.http, { method: 'HEAD', path: '/sized' });
    assert.equal(response.status, 200);
    assert.deepEqual(headerValues(response.rawHeaders, 'content-length'), ['1000']);
    assert.equal(response.body.length, 0);
    assert.equal(last().method, 'HEAD');
  });
});

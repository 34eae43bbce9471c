import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddressOf, clientResponseHeaders, switchingProtocolsHead, upstreamRequestHeaders } from '../../proxy/headers.ts';

const FORWARDED = { clientAddress: '192.0.2.10', proto: 'http', port: 80 };
const fixedId = (): string => '0123456789abcdef0123456789abcdef';

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

describe('upstreamRequestHeaders', () => {
  it("keeps the client's headers in order and case, then adds the forwarding headers", () => {
    const { headers, requestId } = upstreamRequestHeaders(['Host', 'App.Example.com', 'User-Agent', 'ua/1', 'Accept', '*/*', 'X-Custom', 'a', 'X-Custom', 'b'], FORWARDED, fixedId);
    assert.equal(requestId, fixedId());
    assert.deepEqual(pairs(headers), [
      ['Host', 'App.Example.com'],
      ['User-Agent', 'ua/1'],
      ['Accept', '*/*'],
      ['X-Custom', 'a'],
      ['X-Custom', 'b'],
      ['x-request-id', fixedId()],
      ['x-real-ip', '192.0.2.10'],
      ['x-forwarded-for', '192.0.2.10'],
      ['x-forwarded-host', 'App.Example.com'],
      ['x-forwarded-port', '80'],
      ['x-forwarded-proto', 'http'],
    ]);
  });

  it('drops hop-by-hop headers, Expect, and headers named in Connection', () => {
    const raw = [
      'Host', 'h',
      'Connection', 'keep-alive, X-Hop-A',
      'connection', 'x-hop-b',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'Transfer-Encoding', 'chunked',
      'Trailer', 'X-Sum',
      'Upgrade', 'h2c',
      'Expect', '100-continue',
      'X-Hop-A', '1',
      'X-HOP-B', '2',
      'X-Kept', '3',
    ];
    const names = pairs(upstreamRequestHeaders(raw, FORWARDED, fixedId).headers).map(([name]) => name.toLowerCase());
    for (const dropped of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'trailer', 'upgrade', 'expect', 'x-hop-a', 'x-hop-b']) {
      assert.ok(!names.includes(dropped), dropped);
    }
    assert.ok(names.includes('x-kept'));
  });

  it('forwards TE only when it lists trailers, and then only as "trailers"', () => {
    const te = (value: string): string[] =>
      pairs(upstreamRequestHeaders(['TE', value], FORWARDED, fixedId).headers).filter(([name]) => name.toLowerCase() === 'te').map(([, v]) => v);
    assert.deepEqual(te('trailers'), ['trailers']);
    assert.deepEqual(te('gzip, Trailers'), ['trailers']);
    assert.deepEqual(te('trailers;q=0.5, deflate'), ['trailers']);
    assert.deepEqual(te('gzip'), []);
    assert.deepEqual(te('x-trailers-not'), []);
  });

  it("replaces the client's X-Forwarded-* and X-Real-IP, and keeps the first X-Request-ID it sent", () => {
    const raw = ['Host', 'h', 'X-Forwarded-For', '6.6.6.6', 'X-Real-IP', '6.6.6.6', 'X-Forwarded-Proto', 'https', 'X-Request-ID', 'mine', 'X-Request-ID', 'second'];
    const { headers, requestId } = upstreamRequestHeaders(raw, FORWARDED, fixedId);
    assert.equal(requestId, 'mine');
    const got = pairs(headers).filter(([name]) => name.toLowerCase().startsWith('x-'));
    assert.deepEqual(got, [
      ['x-request-id', 'mine'],
      ['x-real-ip', '192.0.2.10'],
      ['x-forwarded-for', '192.0.2.10'],
      ['x-forwarded-host', 'h'],
      ['x-forwarded-port', '80'],
      ['x-forwarded-proto', 'http'],
    ]);
  });
});

describe('clientResponseHeaders', () => {
  it("drops hop-by-hop headers, the backend's Server and Date, and headers named in Connection", () => {
    const raw = [
      'Content-Type', 'text/plain',
      'Connection', 'keep-alive, X-Hop',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'Trailer', 'X-Sum',
      'Upgrade', 'h2c',
      'Proxy-Connection', 'close',
      'Server', 'gunicorn',
      'Date', 'Thu, 01 Jan 1970 00:00:00 GMT',
      'X-Hop', 'secret',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
      'Content-Length', '10',
    ].map((value) => Buffer.from(value, 'latin1'));
    assert.deepEqual(pairs(clientResponseHeaders(raw)), [
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Content-Length', '10'],
      ['server', 'pier'],
    ]);
  });
});

describe('switchingProtocolsHead', () => {
  it('keeps Connection and Upgrade on a 101 and puts in Server: pier and a Date', () => {
    const head = switchingProtocolsHead(['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', 'abc=', 'Server', 'ws', 'Keep-Alive', 'x'].map((v) => Buffer.from(v)));
    const lines = head.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 101 Switching Protocols');
    assert.ok(lines.includes('Upgrade: websocket'));
    assert.ok(lines.includes('Connection: Upgrade'));
    assert.ok(lines.includes('Sec-WebSocket-Accept: abc='));
    assert.ok(lines.includes('server: pier'));
    assert.ok(!lines.includes('Server: ws'));
    assert.ok(!lines.some((line) => line.startsWith('Keep-Alive')));
    assert.ok(lines.some((line) => /^date: .+ GMT$/.test(line)));
    assert.ok(head.endsWith('\r\n\r\n'));
  });
});

describe('clientAddressOf', () => {
  it('shows IPv4-mapped IPv6 addresses as IPv4, as nginx’s $remote_addr does', () => {
    assert.equal(clientAddressOf('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(clientAddressOf('2001:db8::1'), '2001:db8::1');
    assert.equal(clientAddressOf('127.0.0.1'), '127.0.0.1');
    assert.equal(clientAddressOf(undefined), '');
  });
});

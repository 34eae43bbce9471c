// readServerName on ClientHellos that real clients sent (node:tls and `openssl s_client`, caught on a
// plain TCP socket), whole, cut short, split across records, and on bytes that aren't TLS at all.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { before, describe, it } from 'node:test';
import { readServerName } from '../../proxy/client-hello.ts';

/** The first bytes a client sends to a TCP server that never answers: its ClientHello. */
async function capture(send: (port: number) => () => void): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const received = new Promise<Buffer>((resolve) => {
      server.once('connection', (socket) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          const all = Buffer.concat(chunks);
          // One whole record: the 5-byte header's length says when.
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            resolve(all);
            socket.destroy();
          }
        });
      });
    });
    const stop = send(port);
    const hello = await received;
    stop();
    return hello;
  } finally {
    server.close();
  }
}

const fromNode = (serverName: string | undefined) =>
  capture((port) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(serverName ? { servername: serverName } : {}) });
    socket.on('error', () => undefined);
    return () => socket.destroy();
  });

const fromOpenssl = (args: string[]) =>
  capture((port) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], () => undefined);
    return () => child.kill();
  });

/** The same ClientHello, its handshake message split over two records as RFC 8446 §5.1 allows. */
function splitIntoTwoRecords(hello: Buffer): Buffer {
  const body = hello.subarray(5);
  const cut = 40;
  const record = (fragment: Buffer) => Buffer.concat([Buffer.from([22, hello[1] as number, hello[2] as number, fragment.length >> 8, fragment.length & 0xff]), fragment]);
  return Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
}

describe('readServerName', () => {
  const hellos: Record<string, Buffer> = {};
  before(async () => {
    hellos.nodeWithName = await fromNode('shop.example.com');
    hellos.nodeWithout = await fromNode(undefined);
    hellos.opensslWithName = await fromOpenssl(['-servername', 'api.example.org']);
    hellos.opensslWithout = await fromOpenssl(['-noservername']);
    hellos.opensslTls12 = await fromOpenssl(['-tls1_2', '-servername', 'old.example.net']);
  });

  const cases: { name: string; input: () => Buffer; expected: ReturnType<typeof readServerName> }[] = [
    { name: "reads the name a Node client sent", input: () => hellos.nodeWithName as Buffer, expected: { complete: true, serverName: 'shop.example.com' } },
    { name: 'reads the name openssl s_client sent', input: () => hellos.opensslWithName as Buffer, expected: { complete: true, serverName: 'api.example.org' } },
    { name: 'reads the name from a TLS 1.2-only ClientHello', input: () => hellos.opensslTls12 as Buffer, expected: { complete: true, serverName: 'old.example.net' } },
    { name: 'says there is no name when a Node client connects by address', input: () => hellos.nodeWithout as Buffer, expected: { complete: true, serverName: null } },
    { name: 'says there is no name when openssl is told to send none', input: () => hellos.opensslWithout as Buffer, expected: { complete: true, serverName: null } },
    { name: 'asks for more when only the record header has arrived', input: () => (hellos.nodeWithName as Buffer).subarray(0, 5), expected: { complete: false } },
    { name: 'asks for more when the ClientHello is cut in the middle', input: () => (hellos.nodeWithName as Buffer).subarray(0, 100), expected: { complete: false } },
    { name: 'asks for more when nothing has arrived', input: () => Buffer.alloc(0), expected: { complete: false } },
    { name: 'reads the name from a ClientHello split across two records', input: () => splitIntoTwoRecords(hellos.opensslWithName as Buffer), expected: { complete: true, serverName: 'api.example.org' } },
    { name: 'asks for more when only the first of two records has arrived', input: () => splitIntoTwoRecords(hellos.opensslWithName as Buffer).subarray(0, 50), expected: { complete: false } },
    { name: 'gives up at once on a plain HTTP request (no name; TLS will refuse it)', input: () => Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), expected: { complete: true, serverName: null } },
    { name: 'gives up on a handshake record that is not a ClientHello', input: () => Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0]), expected: { complete: true, serverName: null } },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      assert.deepEqual(readServerName(testCase.input()), testCase.expected);
    });
  }

  it('never throws on any prefix or any single corrupted byte of a real ClientHello', () => {
    const hello = hellos.opensslWithName as Buffer;
    for (let length = 0; length <= hello.length; length++) readServerName(hello.subarray(0, length));
    for (let index = 5; index < hello.length; index++) {
      const corrupted = Buffer.from(hello);
      corrupted[index] = (corrupted[index] as number) ^ 0xff;
      const reading = readServerName(corrupted);
      if (reading.complete && reading.serverName !== null) assert.equal(typeof reading.serverName, 'string');
    }
  });
});

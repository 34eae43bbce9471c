// HTTP/1.1 written byte for byte, for requests no client library will send (two Host headers,
// absolute-form targets, header names with `_` or `.`).
import { connect } from 'node:net';
import { LOCALHOST } from './upstreams.ts';

/** One request written as-is on a new connection to LOCALHOST:port; the whole answer as text. */
export function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, LOCALHOST, () => socket.write(text));
    let answer = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject).on('close', () => resolve(answer));
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer in 5 s')));
  });
}

/** The status code of a raw answer, or 0 when there is none. */
export const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

/** The body of a raw answer. */
export const bodyOf = (answer: string): string => answer.slice(answer.indexOf('\r\n\r\n') + 4);

/** The headers that make a GET a WebSocket upgrade (RFC 6455's sample key), for raw requests. */
export const WEBSOCKET_UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

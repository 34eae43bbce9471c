// Tunnelling of Upgrade requests (WebSocket and others): the upgrade is sent upstream on undici,
// and once the upstream answers 101 the two sockets are piped together.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Target } from './route-table.ts';
import { switchingProtocolsHead, upstreamRequestHeaders, type ForwardedFor } from './headers.ts';
import { STATUS_TEXT, STATUS_UNAVAILABLE, classifyUpstreamError } from './errors.ts';
import { newRequestId, type ForwardDeps } from './forward.ts';

/** A complete HTTP/1.1 response written on a raw socket, for upgrades that fail. */
export function writeRawResponse(socket: Duplex, status: number, headers: readonly string[] = [], body = `${STATUS_TEXT[status] ?? status}\n`): void {
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\nserver: pier\r\ndate: ${new Date().toUTCString()}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(`${head}\r\n${body}`);
}

export function tunnelUpgrade(req: IncomingMessage, clientSocket: Duplex, head: Buffer, target: Target, forwarded: ForwardedFor, deps: ForwardDeps): void {
  const origin = target.upstream.nextOrigin();
  if (!origin) {
    writeRawResponse(clientSocket, STATUS_UNAVAILABLE);
    return;
  }
  const { headers } = upstreamRequestHeaders(req.rawHeaders, forwarded, newRequestId);
  clientSocket.on('error', () => clientSocket.destroy());
  let status = 0;
  const handler: Dispatcher.DispatchHandler = {
    onConnect(abort) {
      if (clientSocket.destroyed) abort();
      clientSocket.once('close', () => abort());
    },
    onUpgrade(statusCode, rawHeaders, upstreamSocket) {
      status = statusCode;
      clientSocket.write(switchingProtocolsHead(rawHeaders ?? []));
      if (head.length > 0) upstreamSocket.write(head);
      upstreamSocket.on('error', () => clientSocket.destroy());
      clientSocket.on('error', () => upstreamSocket.destroy());
      upstreamSocket.on('close', () => clientSocket.destroy());
      clientSocket.on('close', () => upstreamSocket.destroy());
      upstreamSocket.pipe(clientSocket);
      clientSocket.pipe(upstreamSocket);
      deps.metrics.requests.inc({ ...target.labels, status: String(statusCode) });
    },
    onHeaders(statusCode, rawHeaders) {
      // The upstream refused the upgrade with an ordinary response; relay its status.
      status = statusCode;
      return true;
    },
    onData() {
      return true;
    },
    onComplete() {
      writeRawResponse(clientSocket, status);
      deps.metrics.requests.inc({ ...target.labels, status: String(status) });
    },
    onError(error) {
      if (status === 101) return;
      const failure = classifyUpstreamError(error);
      writeRawResponse(clientSocket, failure.status);
      deps.metrics.requests.inc({ ...target.labels, status: String(failure.status) });
    },
  };
  deps.dispatcher.dispatch(
    {
      origin,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      upgrade: req.headers.upgrade ?? 'websocket',
      headersTimeout: deps.timeouts.readMs,
    },
    handler,
  );
}

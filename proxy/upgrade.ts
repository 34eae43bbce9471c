// Tunnelling of Upgrade requests (WebSocket and others): the upgrade is sent upstream on undici,
// and once the upstream answers 101 the two sockets are piped together.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Target } from './route-table.ts';
import { SERVER_NAME, clientResponseHeaders, outgoingHeaders, rawHeaderList, switchingProtocolsHead, type OutgoingRequest } from './headers.ts';
import { ClientGoneError, STATUS_TEXT, STATUS_UNAVAILABLE, classifyUpstreamError } from './errors.ts';
import { firstOrNext, newRequestId, timeoutsFor, upstreamFor, type ForwardDeps } from './forward.ts';
import { finishAnswer, runResponseStages, statusAnswer, type Answer, type Exchange } from './pipeline.ts';
import { wireProtocol } from './route-spec.ts';

/** The head of a response written on a raw socket; the connection closes after it, which also ends a body without a length. */
function rawResponseHead(status: number, reason: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}date: ${new Date().toUTCString()}\r\nconnection: close\r\n\r\n`;
}

/** A complete HTTP/1.1 response written on a raw socket, for upgrades that fail. */
export function writeRawResponse(socket: Duplex, status: number, headers: readonly string[] = [], body = `${STATUS_TEXT[status] ?? status}\n`): void {
  if (socket.destroyed) return;
  const head = rawResponseHead(status, STATUS_TEXT[status] ?? '', ['server', SERVER_NAME, 'content-length', String(Buffer.byteLength(body)), ...headers]);
  socket.end(head + body);
}

/** An answer of the proxy's own (pipeline.ts) on a raw socket, for upgrades. */
export function writeRawAnswer(socket: Duplex, answer: Answer): void {
  writeRawResponse(socket, answer.status, ['content-type', answer.contentType, ...answer.headers], answer.body);
}

/** A status of the proxy's own on an upgrade's route, through the route's response stages. */
function writeRouteStatus(socket: Duplex, status: number, target: Target, exchange: Exchange): void {
  writeRawAnswer(socket, finishAnswer(statusAnswer(status), target.responseStages, exchange));
}

/** Sends the upgrade the stages left upstream; a 101 joins the sockets, any other answer is relayed through the response stages. */
export function tunnelUpgrade(req: IncomingMessage, clientSocket: Duplex, head: Buffer, target: Target, outgoing: OutgoingRequest, deps: ForwardDeps, exchange: Exchange): void {
  const protocol = wireProtocol(target.protocol, exchange.secure);
  // The route's upstream or its canary's, and the endpoint as a request would choose it (balancing.ts).
  const upstream = upstreamFor(target, exchange, protocol);
  const origins = upstream.originsFor(protocol);
  if (origins.length === 0) {
    writeRouteStatus(clientSocket, STATUS_UNAVAILABLE, target, exchange);
    return;
  }
  const origin = firstOrNext(target, upstream, exchange, origins, null);
  // A tunnel's time says nothing about the endpoint's speed; only its place in flight is given back.
  const reportTime = exchange.onResponseTime;
  if (reportTime !== null) clientSocket.once('close', () => reportTime(null));
  const { headers } = outgoingHeaders(req.rawHeaders, outgoing, newRequestId);
  clientSocket.on('error', () => clientSocket.destroy());
  let status = 0;
  let controller: Dispatcher.DispatchController | null = null;
  const onDrain = (): void => controller?.resume();
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(started) {
      controller = started;
      if (clientSocket.destroyed) started.abort(new ClientGoneError());
      clientSocket.once('close', () => started.abort(new ClientGoneError()));
    },
    onRequestUpgrade(upgraded, statusCode, headers, upstreamSocket) {
      status = statusCode;
      clientSocket.write(switchingProtocolsHead(rawHeaderList(upgraded.rawHeaders, headers)));
      if (head.length > 0) upstreamSocket.write(head);
      upstreamSocket.on('error', () => clientSocket.destroy());
      clientSocket.on('error', () => upstreamSocket.destroy());
      upstreamSocket.on('close', () => clientSocket.destroy());
      clientSocket.on('close', () => upstreamSocket.destroy());
      upstreamSocket.pipe(clientSocket);
      clientSocket.pipe(upstreamSocket);
      deps.metrics.routes.count(target.labels, statusCode);
    },
    onResponseStart(refused, statusCode, headers, statusText) {
      // undici hands a non-101 answer to an upgrade here as an ordinary response. Relay all of
      // it, as nginx does: the status alone would lose e.g. a 401's WWW-Authenticate and body.
      if (statusCode < 200) return;
      status = statusCode;
      const relayed = clientResponseHeaders(rawHeaderList(refused.rawHeaders, headers));
      runResponseStages(target.responseStages, exchange, statusCode, relayed);
      if (!clientSocket.destroyed) clientSocket.write(rawResponseHead(statusCode, statusText ?? '', relayed));
    },
    onResponseData(refused, chunk) {
      if (clientSocket.write(chunk)) return;
      // write() is false too once the client is gone: then 'drain' never comes, so abort.
      if (clientSocket.destroyed) {
        refused.abort(new ClientGoneError());
        return;
      }
      refused.pause();
      clientSocket.once('drain', onDrain);
    },
    onResponseEnd() {
      clientSocket.end();
      deps.metrics.routes.count(target.labels, status);
    },
    onResponseError(_failed, error) {
      clientSocket.off('drain', onDrain);
      if (status === 101 || error instanceof ClientGoneError) return;
      if (status !== 0) {
        // The refusal's head is already out: cut it so the client sees it is incomplete.
        clientSocket.destroy();
        return;
      }
      const failure = classifyUpstreamError(error);
      writeRouteStatus(clientSocket, failure.status, target, exchange);
      deps.metrics.routes.count(target.labels, failure.status);
    },
  };
  const timeouts = timeoutsFor(target, deps);
  deps.dispatcher(protocol, timeouts.connectMs).dispatch(
    {
      origin,
      method: outgoing.request.method,
      path: outgoing.request.url,
      headers,
      upgrade: req.headers.upgrade ?? 'websocket',
      headersTimeout: timeouts.readMs,
    },
    handler,
  );
}

// Forwarding one request upstream on undici. The handler writes the upstream's response straight
// into the client's ServerResponse as it arrives: no buffering, and backpressure both ways (undici
// pauses reading the upstream while the client is slow; it reads the request body as the upstream
// takes it).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { BackendProtocol } from './route-spec.ts';
import type { Target } from './route-table.ts';
import { SERVER_NAME, clientResponseHeaders, rawHeaderList, trailersOf, type HeaderObject, upstreamRequestHeaders, type OutgoingRequest } from './headers.ts';
import { statusAnswer, type Answer } from './pipeline.ts';
import { ClientGoneError, SendTimeoutError, STATUS_UNAVAILABLE, classifyUpstreamError } from './errors.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';

/** nginx's proxy_next_upstream_tries default in ingress-nginx. */
const MAX_TRIES = 3;
const IDEMPOTENT_WITHOUT_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface Timeouts {
  readonly connectMs: number;
  readonly readMs: number;
  readonly sendMs: number;
}

/** A client request from the HTTP port, or from the HTTPS port over HTTP/1.1 or HTTP/2 (the compat API). */
export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** One dispatcher per backend protocol: HTTP/1.1 (clear or TLS), h2c, and h2 over TLS. */
export type Dispatchers = Readonly<Record<BackendProtocol, Dispatcher>>;

export interface ForwardDeps {
  readonly dispatchers: Dispatchers;
  readonly timeouts: Timeouts;
  readonly metrics: ProxyMetrics;
}

/** X-Request-ID: 32 hex characters, like nginx's $request_id. */
export function newRequestId(): string {
  return randomUUID().replaceAll('-', '');
}

export function hasRequestBody(req: ClientRequest): boolean {
  // HTTP/2 bodies often have no length (gRPC's never do): the stream says whether one follows.
  if (req.httpVersionMajor === 2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** True once the client's connection (or HTTP/2 stream) is gone. */
export function isClientGone(res: ClientResponse): boolean {
  return res instanceof Http2ServerResponse ? res.stream.destroyed : res.destroyed;
}

/** writeHead with a flat header list; HTTP/2 has no reason phrase (node warns when given one). */
export function writeResponseHead(res: ClientResponse, status: number, statusText: string, headers: readonly string[]): void {
  // Node takes a flat array here too (appending duplicates), though @types/node doesn't say so.
  if (res instanceof Http2ServerResponse) res.writeHead(status, headers as unknown as OutgoingHttpHeaders);
  else if (statusText) res.writeHead(status, statusText, headers as string[]);
  else res.writeHead(status, headers as string[]); // node supplies the standard reason phrase
}

/** Writes a response the proxy gives itself (pipeline.ts); a response already under way is cut instead. */
export function writeAnswer(res: ClientResponse, answer: Answer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  writeResponseHead(res, answer.status, '', ['content-type', answer.contentType, 'content-length', String(Buffer.byteLength(answer.body)), 'server', SERVER_NAME, ...answer.headers]);
  res.end(answer.body);
}

/** Answers with a short text body, as nginx's error pages do. */
export function respondWithStatus(res: ClientResponse, status: number, extraHeaders: readonly string[] = []): void {
  writeAnswer(res, statusAnswer(status, extraHeaders));
}

/**
 * Sends the request to the target's upstream and relays the answer. `addedHeaders` (flat,
 * lower-case) go on the response in place of the upstream's own: HSTS on HTTPS.
 */
export function forwardRequest(req: ClientRequest, res: ClientResponse, target: Target, outgoing: OutgoingRequest, deps: ForwardDeps, addedHeaders: readonly string[] = []): void {
  const { labels, upstream } = target;
  // Read once: endpoints updated meanwhile don't change the ones this request tries.
  const origins = upstream.originsFor(target.protocol);
  if (origins.length === 0) {
    respondWithStatus(res, STATUS_UNAVAILABLE, addedHeaders);
    deps.metrics.routes.count(labels, STATUS_UNAVAILABLE);
    return;
  }
  const dispatcher = deps.dispatchers[target.protocol];
  const { headers } = upstreamRequestHeaders(req.rawHeaders, outgoing.forwarded, newRequestId, outgoing.headerPolicy);
  const withBody = hasRequestBody(req);
  const retryableOnReset = !withBody && IDEMPOTENT_WITHOUT_BODY.has(req.method ?? '');
  const started = performance.now();
  let triesLeft = Math.min(MAX_TRIES, origins.length);
  let tried: string[] | null = null;

  const attempt = (): void => {
    triesLeft--;
    const origin = tried === null ? upstream.pick(origins) : nextUntried(origins, tried);
    (tried ??= []).push(origin);
    const relay = new ResponseRelay(res, deps.timeouts.sendMs, withBody, addedHeaders, (error) => {
      const failure = classifyUpstreamError(error);
      const bodyUntouched = !withBody || !req.readableDidRead;
      const mayRetry = triesLeft > 0 && !res.headersSent && !isClientGone(res) && bodyUntouched && (failure.beforeRequestSent || retryableOnReset);
      if (mayRetry) {
        attempt();
        return;
      }
      deps.metrics.routes.count(labels, failure.status);
      if (!isClientGone(res)) respondWithStatus(res, failure.status, addedHeaders);
    }, (status) => {
      deps.metrics.routes.count(labels, status);
      deps.metrics.routes.observe(labels, (performance.now() - started) / 1000);
    });
    dispatcher.dispatch(
      {
        origin,
        method: req.method ?? 'GET',
        path: outgoing.url,
        headers,
        body: withBody ? req : null,
        headersTimeout: deps.timeouts.readMs,
        bodyTimeout: deps.timeouts.readMs,
      },
      relay,
    );
  };
  attempt();
}

/**
 * The endpoint after the last one tried that this request hasn't tried yet. Not pick():
 * concurrent requests move the shared round-robin position while a connect is failing, so it
 * could hand the retry the same dead endpoint again.
 */
function nextUntried(origins: readonly string[], tried: readonly string[]): string {
  const last = origins.indexOf(tried[tried.length - 1] as string);
  for (let step = 1; step <= origins.length; step++) {
    const origin = origins[(last + step) % origins.length] as string;
    if (!tried.includes(origin)) return origin;
  }
  return origins[(last + 1) % origins.length] as string;
}

/**
 * Relays one upstream response on undici's controller API. It reads the head from
 * `controller.rawHeaders` (flat Buffers over HTTP/1.1, an object over HTTP/2) rather than the
 * parsed object undici also passes, so names keep their case and repeated headers their order.
 */
class ResponseRelay implements Dispatcher.DispatchHandler {
  readonly #res: ClientResponse;
  readonly #addedHeaders: readonly string[];
  readonly #onFailure: (error: Error) => void;
  readonly #onDone: (status: number) => void;
  #controller: Dispatcher.DispatchController | null = null;
  #status = 0;
  #done = false;
  #sendTimer: NodeJS.Timeout | null = null;
  readonly #onClientClose = (): void => {
    if (!this.#done) this.#controller?.abort(new ClientGoneError());
  };
  readonly #onDrain = (): void => this.#controller?.resume();

  constructor(res: ClientResponse, sendTimeoutMs: number, withBody: boolean, addedHeaders: readonly string[], onFailure: (error: Error) => void, onDone: (status: number) => void) {
    this.#res = res;
    this.#addedHeaders = addedHeaders;
    this.#onFailure = onFailure;
    this.#onDone = onDone;
    res.once('close', this.#onClientClose);
    if (withBody) {
      // The send timeout bounds how long the upstream may take no request body, like nginx's proxy_send_timeout.
      this.#sendTimer = setTimeout(() => this.#controller?.abort(new SendTimeoutError(sendTimeoutMs)), sendTimeoutMs);
      this.#sendTimer.unref();
    }
  }

  #settle(): void {
    this.#done = true;
    this.#res.off('close', this.#onClientClose);
    if (this.#sendTimer) clearTimeout(this.#sendTimer);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (isClientGone(this.#res)) controller.abort(new ClientGoneError());
  }

  onBodySent(): void {
    this.#sendTimer?.refresh();
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: HeaderObject, statusText?: string): void {
    // 1xx answers are hop-by-hop: node:http already told the client 100 Continue.
    if (statusCode < 200) return;
    if (this.#sendTimer) clearTimeout(this.#sendTimer);
    this.#status = statusCode;
    writeResponseHead(this.#res, statusCode, statusText ?? '', clientResponseHeaders(rawHeaderList(controller.rawHeaders, headers), this.#addedHeaders));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if ((this.#res as { write(chunk: Buffer): boolean }).write(chunk)) return;
    // write() is also false once the client has gone: waiting for 'drain' then would park the
    // upstream connection forever (see data-plane-notes), so abort instead.
    if (isClientGone(this.#res)) {
      controller.abort(new ClientGoneError());
      return;
    }
    controller.pause();
    this.#res.once('drain', this.#onDrain);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: HeaderObject): void {
    this.#settle();
    // gRPC's status travels in trailers. Over HTTP/1.1 node sends them only on chunked responses.
    const passed = trailersOf(trailers);
    if (passed) this.#res.addTrailers(passed);
    this.#res.end();
    this.#onDone(this.#status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#settle();
    this.#res.off('drain', this.#onDrain);
    if (error instanceof ClientGoneError) return;
    if (this.#res.headersSent) {
      // Too late for an error status: cut the response so the client sees it is incomplete.
      this.#res.destroy(error);
      return;
    }
    this.#onFailure(error);
  }
}

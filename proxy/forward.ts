// Forwarding one request upstream on undici. The handler writes the upstream's response straight
// into the client's ServerResponse as it arrives: no buffering, and backpressure both ways (undici
// pauses reading the upstream while the client is slow; it reads the request body as the upstream
// takes it).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import { randomUUID } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { wireProtocol, type NextUpstreamCondition, type NextUpstreamPolicy, type WireProtocol } from './route-spec.ts';
import type { Target, Upstream } from './route-table.ts';
import { SERVER_NAME, clientResponseHeaders, outgoingHeaders, rawHeaderList, trailersOf, type HeaderObject, type OutgoingRequest } from './headers.ts';
import { finishAnswer, runResponseStages, statusAnswer, type Answer, type Exchange, type ResponseStage } from './pipeline.ts';
import { BodyTooLargeError, ClientGoneError, InterceptedStatusError, RetryableStatusError, STATUS_NOT_FOUND, SendTimeoutError, STATUS_PAYLOAD_TOO_LARGE, STATUS_UNAVAILABLE, classifyUpstreamError, type FailureCondition } from './errors.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';

/** What nginx never passes to the next endpoint once sent, unless proxy-next-upstream says non_idempotent. */
const NON_IDEMPOTENT = new Set(['POST', 'LOCK', 'PATCH']);

export interface Timeouts {
  readonly connectMs: number;
  readonly readMs: number;
  readonly sendMs: number;
}

/** A client request from the HTTP port, or from the HTTPS port over HTTP/1.1 or HTTP/2 (the compat API). */
export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

export interface ForwardDeps {
  /** The dispatcher for a protocol and a connect timeout (undici sets it per connection pool). */
  readonly dispatcher: (protocol: WireProtocol, connectMs: number) => Dispatcher;
  /** The proxy's own timeouts (flags), for what neither the route nor the ConfigMap sets. */
  readonly timeouts: Timeouts;
  readonly metrics: ProxyMetrics;
}

/** The target's timeouts: its route's, then the table's, then the proxy's flags. */
export function timeoutsFor(target: Target, deps: ForwardDeps): Timeouts {
  return target.timeouts === null ? deps.timeouts : { ...deps.timeouts, ...target.timeouts };
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

/** Answers with a status of the proxy's own on a route: its response stages (HSTS...) apply. */
function respondOnRoute(res: ClientResponse, status: number, target: Target, exchange: Exchange): void {
  // A client still sending a body too large is not read to its end: the connection closes, as nginx's does.
  if (status === STATUS_PAYLOAD_TOO_LARGE && !(res instanceof Http2ServerResponse)) res.shouldKeepAlive = false;
  writeAnswer(res, finishAnswer(statusAnswer(status), target.responseStages, exchange));
}

/** One forwarded request: what the error pages and the relays of its attempts share. */
interface Forwarding {
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  readonly target: Target;
  readonly exchange: Exchange;
  readonly deps: ForwardDeps;
  readonly requestId: string;
  readonly clientAddress: string;
}

/** A status for the client, or, when custom-http-errors lists it, the error backend's answer instead. */
function answerStatus(forwarding: Forwarding, status: number): void {
  if (forwarding.target.errorPages?.codes.has(status)) serveErrorPage(forwarding, status);
  else answerPlain(forwarding, status);
}

/** The proxy's own answer with this status, counted. */
function answerPlain(forwarding: Forwarding, status: number): void {
  const { res, target, exchange, deps } = forwarding;
  deps.metrics.routes.count(target.labels, status);
  if (!isClientGone(res)) respondOnRoute(res, status, target, exchange);
}

/**
 * custom-http-errors, as ingress-nginx's `@custom_..._<code>` location: the same method to the
 * error backend for `/`, with X-Code, X-Format (the client's Accept), X-Original-URI, X-Namespace,
 * X-Ingress-Name, X-Service-Name, X-Service-Port and X-Request-ID; the client gets its answer,
 * status included. Without an error backend, the built-in default backend's 404.
 */
function serveErrorPage(forwarding: Forwarding, code: number): void {
  const { req, res, target, exchange, deps } = forwarding;
  const backend = target.errorPages?.upstream ?? null;
  const origins = backend?.originsFor('HTTP') ?? [];
  if (backend === null || origins.length === 0) return answerPlain(forwarding, backend === null ? STATUS_NOT_FOUND : code);
  const { labels } = target;
  const headers = [
    'host', exchange.requested.host ?? '',
    'x-code', String(code),
    'x-format', String(req.headers.accept ?? ''),
    'x-original-uri', exchange.requested.url,
    'x-namespace', labels.namespace,
    'x-ingress-name', labels.ingress,
    'x-service-name', labels.service,
    'x-service-port', target.upstream.spec.servicePort,
    'x-request-id', forwarding.requestId,
    'x-forwarded-for', forwarding.clientAddress,
  ];
  const relay = new ResponseRelay(res, deps.timeouts.sendMs, false, target.responseStages, exchange, {
    retryOnStatus: () => false,
    intercept: () => false,
    onFailure: () => answerPlain(forwarding, code),
    onDone: (status) => deps.metrics.routes.count(labels, status),
  });
  const timeouts = deps.timeouts;
  deps.dispatcher('HTTP', timeouts.connectMs).dispatch({ origin: backend.pick(origins), method: exchange.upstream.method, path: '/', headers, body: null, headersTimeout: timeouts.readMs, bodyTimeout: timeouts.readMs }, relay);
}

/**
 * The body undici reads: the client request itself, or, when its length isn't declared (chunked,
 * or HTTP/2 without content-length) and a limit applies, a pass-through that fails with
 * BodyTooLargeError before the byte that crosses the limit reaches the upstream.
 */
function requestBody(req: ClientRequest, limit: number): Readable {
  if (limit === 0 || req.headers['content-length'] !== undefined) return req;
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      received += chunk.length;
      if (received > limit) done(new BodyTooLargeError(limit));
      else done(null, chunk);
    },
  });
  req.on('error', (error) => limiter.destroy(error));
  return req.pipe(limiter);
}

/**
 * Whether a failed attempt is tried again on another endpoint, as nginx's proxy_next_upstream:
 * a condition the route lists, tries and time left, nothing sent to the client yet, the request
 * body unread (Pier streams it, so it can't be sent twice), and, once the request reached the
 * upstream, a method that may be repeated (not POST, LOCK or PATCH, unless non_idempotent).
 */
class NextUpstream {
  readonly #policy: NextUpstreamPolicy;
  readonly #repeatable: boolean;
  readonly #deadline: number;
  #triesLeft: number;

  constructor(policy: NextUpstreamPolicy, method: string, endpoints: number, started: number) {
    this.#policy = policy;
    this.#repeatable = !NON_IDEMPOTENT.has(method) || policy.conditions.includes('non_idempotent');
    this.#deadline = policy.timeoutMs > 0 ? started + policy.timeoutMs : Infinity;
    const tries = policy.conditions.length === 0 ? 1 : policy.tries === 0 ? endpoints : policy.tries;
    this.#triesLeft = Math.min(tries, endpoints);
  }

  /** Counts an attempt about to start. */
  attempt(): void {
    this.#triesLeft--;
  }

  #mayTryAgain(res: ClientResponse, body: Readable | null): boolean {
    return this.#triesLeft > 0 && performance.now() < this.#deadline && !res.headersSent && !isClientGone(res) && (body === null || !body.readableDidRead);
  }

  afterFailure(condition: FailureCondition, beforeRequestSent: boolean, res: ClientResponse, body: Readable | null): boolean {
    if (condition === null || !this.#policy.conditions.includes(condition)) return false;
    return (beforeRequestSent || this.#repeatable) && this.#mayTryAgain(res, body);
  }

  /** For an answer's status (http_502...): the last try's answer goes to the client whatever it is. */
  afterStatus(status: number, res: ClientResponse, body: Readable | null): boolean {
    return this.#repeatable && this.#policy.conditions.includes(`http_${status}` as NextUpstreamCondition) && this.#mayTryAgain(res, body);
  }
}

/**
 * Sends the upstream request the stages left to the target's upstream and relays the answer,
 * through the target's response stages, with the route's timeouts and next-upstream rules.
 */
export function forwardRequest(req: ClientRequest, res: ClientResponse, target: Target, outgoing: OutgoingRequest, deps: ForwardDeps, exchange: Exchange): void {
  const protocol = wireProtocol(target.protocol, exchange.secure);
  // The route's upstream, or its canary's (balancing.ts); counted under the Service that answers.
  const upstream = upstreamFor(target, exchange, protocol);
  const labels = upstream === target.upstream ? target.labels : { ...target.labels, service: upstream.spec.service };
  const { headers, requestId } = outgoingHeaders(req.rawHeaders, outgoing, newRequestId);
  const forwarding: Forwarding = { req, res, target, exchange, deps, requestId, clientAddress: outgoing.forwarded.clientAddress };
  // Read once: endpoints updated meanwhile don't change the ones this request tries.
  const origins = upstream.originsFor(protocol);
  if (origins.length === 0) return answerStatus(forwarding, STATUS_UNAVAILABLE);
  const timeouts = timeoutsFor(target, deps);
  const dispatcher = deps.dispatcher(protocol, timeouts.connectMs);
  const { method, url } = outgoing.request;
  const withBody = hasRequestBody(req);
  const body = withBody ? requestBody(req, target.bodySizeLimit) : null;
  const started = performance.now();
  const next = new NextUpstream(target.nextUpstream, method, origins.length, started);
  const intercepted = target.errorPages?.codes;
  let tried: string[] | null = null;

  const attempt = (): void => {
    next.attempt();
    const origin = firstOrNext(target, upstream, exchange, origins, tried);
    (tried ??= []).push(origin);
    const attemptStarted = performance.now();
    // load-balance ewma learns each attempt's time, failed ones included.
    const reportTime = exchange.onResponseTime;
    exchange.onResponseTime = null;
    const timed = reportTime === null ? null : (): void => reportTime(performance.now() - attemptStarted);
    const relay = new ResponseRelay(res, timeouts.sendMs, withBody, target.responseStages, exchange, {
      retryOnStatus: (status) => next.afterStatus(status, res, body),
      intercept: (status) => intercepted !== undefined && intercepted.has(status),
      onFailure: (error) => {
        timed?.();
        if (error instanceof RetryableStatusError) return attempt();
        if (error instanceof InterceptedStatusError) return serveErrorPage(forwarding, error.status);
        const failure = classifyUpstreamError(error);
        if (next.afterFailure(failure.condition, failure.beforeRequestSent, res, body)) return attempt();
        answerStatus(forwarding, failure.status);
      },
      onDone: (status) => {
        timed?.();
        deps.metrics.routes.count(labels, status);
        deps.metrics.routes.observe(labels, (performance.now() - started) / 1000);
      },
    });
    dispatcher.dispatch({ origin, method, path: url, headers, body, headersTimeout: timeouts.readMs, bodyTimeout: timeouts.readMs }, relay);
  };
  attempt();
}

/** The route's upstream, or its canary's when the route's balance sends this request there. */
export function upstreamFor(target: Target, exchange: Exchange, protocol: WireProtocol): Upstream {
  return target.balance === null ? target.upstream : target.balance.upstreamFor(exchange, protocol);
}

/** The first endpoint (round-robin, or the route's balance), then for a retry the next untried one, unless affinity re-pins the session (change-on-failure). */
export function firstOrNext(target: Target, upstream: Upstream, exchange: Exchange, origins: readonly string[], tried: readonly string[] | null): string {
  const { balance } = target;
  if (tried === null) return balance === null ? upstream.pick(origins) : balance.pick(upstream, exchange, origins);
  return balance?.repick(upstream, exchange, origins, tried) ?? nextUntried(origins, tried);
}

/**
 * The endpoint after the last one tried that this request hasn't tried yet. Not pick():
 * concurrent requests move the shared round-robin position while a connect is failing, so it
 * could hand the retry the same dead endpoint again.
 */
export function nextUntried(origins: readonly string[], tried: readonly string[]): string {
  const last = origins.indexOf(tried[tried.length - 1] as string);
  for (let step = 1; step <= origins.length; step++) {
    const origin = origins[(last + step) % origins.length] as string;
    if (!tried.includes(origin)) return origin;
  }
  return origins[(last + 1) % origins.length] as string;
}

/** What a relay reports back to the request it serves. */
interface RelayOutcome {
  /** True to drop this answer and try the next endpoint instead (proxy-next-upstream http_*). */
  retryOnStatus(status: number): boolean;
  /** True to drop this answer for the error backend's (custom-http-errors). */
  intercept(status: number): boolean;
  /** The attempt failed before the response head reached the client. */
  onFailure(error: Error): void;
  onDone(status: number): void;
}

/**
 * Relays one upstream response on undici's controller API. It reads the head from
 * `controller.rawHeaders` (flat Buffers over HTTP/1.1, an object over HTTP/2) rather than the
 * parsed object undici also passes, so names keep their case and repeated headers their order.
 */
class ResponseRelay implements Dispatcher.DispatchHandler {
  readonly #res: ClientResponse;
  readonly #responseStages: readonly ResponseStage[];
  readonly #exchange: Exchange;
  readonly #outcome: RelayOutcome;
  #controller: Dispatcher.DispatchController | null = null;
  #status = 0;
  #done = false;
  #sendTimer: NodeJS.Timeout | null = null;
  readonly #onClientClose = (): void => {
    if (!this.#done) this.#controller?.abort(new ClientGoneError());
  };
  readonly #onDrain = (): void => this.#controller?.resume();

  constructor(res: ClientResponse, sendTimeoutMs: number, withBody: boolean, responseStages: readonly ResponseStage[], exchange: Exchange, outcome: RelayOutcome) {
    this.#res = res;
    this.#responseStages = responseStages;
    this.#exchange = exchange;
    this.#outcome = outcome;
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
    if (this.#outcome.retryOnStatus(statusCode)) {
      controller.abort(new RetryableStatusError(statusCode));
      return;
    }
    if (this.#outcome.intercept(statusCode)) {
      controller.abort(new InterceptedStatusError(statusCode));
      return;
    }
    if (this.#sendTimer) clearTimeout(this.#sendTimer);
    this.#status = statusCode;
    const relayed = clientResponseHeaders(rawHeaderList(controller.rawHeaders, headers));
    runResponseStages(this.#responseStages, this.#exchange, statusCode, relayed);
    writeResponseHead(this.#res, statusCode, statusText ?? '', relayed);
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
    this.#outcome.onDone(this.#status);
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
    this.#outcome.onFailure(error);
  }
}

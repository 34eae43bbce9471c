// What happens to one request, decided before anything is sent: the same for plain HTTP, HTTPS
// and upgrades. Answer it here (a bad target, the default server's health check, a
// from-to-www-redirect host, no route, a declared body over the limit, or a route's request
// stage), or forward it, with the upstream request the stages left. Every answer the proxy gives
// passes the response stages. Pure, given the compiled table: it reads the request's data only.
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteTable, Target } from './route-table.ts';
import { finishAnswer, finishExchange, forwardedValue, runStages, statusAnswer, upstreamRequestOf, type Answer, type Exchange } from './pipeline.ts';
import { hostForMatching, pathForMatching } from './request-path.ts';
import { readRequestTarget, type RequestTarget } from './request-target.ts';
import { STATUS_BAD_REQUEST, STATUS_NOT_FOUND, STATUS_PAYLOAD_TOO_LARGE } from './errors.ts';
import type { RouteLabels } from './proxy-metrics.ts';
import { clientAddressOf } from './headers.ts';
import { listed, realClientAddress } from './source-ranges.ts';

const HEALTH_PATH = '/healthz';
/** What requests that no route takes are counted under. */
export const UNMATCHED_LABELS: RouteLabels = { namespace: '', ingress: '', service: '' };
const NO_HEADERS: readonly string[] = [];

/** What decide reads of a request: node's IncomingMessage and Http2ServerRequest both have it. */
export interface RequestHead {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly rawHeaders: readonly string[];
  readonly headers: IncomingHttpHeaders;
  readonly socket: { readonly localPort?: number | undefined; readonly remoteAddress?: string | undefined };
}

/** An answer given here, counted under `labels` (unless null). */
export interface Answered {
  readonly answer: Answer;
  readonly labels: RouteLabels | null;
}

/** A request to forward: its target, and the exchange whose upstream request the stages left. */
export interface Forwarded {
  readonly target: Target;
  readonly exchange: Exchange;
}

/** Stands in for a target that couldn't be read, so the 400 answer passes the same response stages. */
const UNREADABLE_TARGET: RequestTarget = { host: undefined, url: '/', fromAbsoluteForm: false };

export function decide(table: RouteTable, req: RequestHead, secure: boolean): Answered | Forwarded {
  const reading = readRequestTarget(req.url, req.rawHeaders);
  const requested = reading.ok ? reading.target : UNREADABLE_TARGET;
  const exchange: Exchange = {
    secure,
    host: hostForMatching(requested.host),
    path: pathForMatching(requested.url),
    requested,
    clientHeaders: req.headers,
    ...clientOf(table, req),
    upstream: upstreamRequestOf(req.method, requested.url),
    authCookies: null,
    affinityCookie: null,
    onResponseTime: null,
    finishers: null,
  };
  const own = (answer: Answer, labels: RouteLabels | null, target: Target | null = null): Answered => ({
    answer: finishAnswer(answer, target ? target.responseStages : table.responseStages, exchange),
    labels,
  });
  if (!reading.ok) return own(statusAnswer(STATUS_BAD_REQUEST), UNMATCHED_LABELS);
  if (!table.hasNamedHost(exchange.host)) {
    // Load-balancer health checks reach the default server, as in ingress-nginx.
    if (exchange.path === HEALTH_PATH) return own({ status: 200, contentType: 'text/plain', headers: NO_HEADERS, body: 'ok' }, null);
    const wwwTarget = table.hostRedirectFor(exchange.host);
    if (wwwTarget !== undefined) return own(hostRedirect(table, exchange, wwwTarget, req.socket.localPort ?? 0), UNMATCHED_LABELS);
  }
  const target = table.match(exchange.host, exchange.path);
  if (!target) return own(statusAnswer(STATUS_NOT_FOUND), UNMATCHED_LABELS);
  // nginx's client_max_body_size checks Content-Length before any rewrite or redirect runs.
  if (target.bodySizeLimit > 0 && declaredLengthOver(req.headers, target.bodySizeLimit)) return own(statusAnswer(STATUS_PAYLOAD_TOO_LARGE), target.labels, target);
  const answer = runStages(target.stages, exchange);
  if (answer) {
    // The proxy's own answer is written at once: whatever a stage took for the exchange is given back now.
    finishExchange(exchange);
    return own(answer, target.labels, target);
  }
  return { target, exchange };
}

/**
 * The client: the peer, or with use-forwarded-headers and a trusted peer (proxy-real-ip-cidr), the
 * address X-Forwarded-For names; then the X-Forwarded-For sent upstream is the received chain plus
 * the peer, as ingress-nginx's $full_x_forwarded_for (null: Pier's own, the client alone).
 */
function clientOf(table: RouteTable, req: RequestHead): { readonly clientAddress: string; readonly forwardedFor: string | null } {
  const peer = clientAddressOf(req.socket.remoteAddress);
  const header = req.headers['x-forwarded-for'];
  if (table.realIpFrom === null || header === undefined || !listed(table.realIpFrom, peer)) return { clientAddress: peer, forwardedFor: null };
  const received = Array.isArray(header) ? header.join(', ') : header;
  return { clientAddress: realClientAddress(peer, received, table.realIpFrom), forwardedFor: `${received}, ${peer}` };
}

function declaredLengthOver(headers: IncomingHttpHeaders, limit: number): boolean {
  const length = headers['content-length'];
  return length !== undefined && Number(length) > limit;
}

/**
 * from-to-www-redirect, as ingress-nginx's redirect server: `$scheme://<to>:<port><request URI>`,
 * the port always named and a trailing `/` dropped, with the ConfigMap's http-redirect-code; with
 * use-forwarded-headers, X-Forwarded-Proto and X-Forwarded-Port are believed.
 */
function hostRedirect(table: RouteTable, exchange: Exchange, to: string, localPort: number): Answer {
  const trusted = table.useForwardedHeaders;
  const scheme = (trusted ? forwardedValue(exchange, 'x-forwarded-proto') : undefined) ?? (exchange.secure ? 'https' : 'http');
  const port = (trusted ? forwardedValue(exchange, 'x-forwarded-port') : undefined) ?? String(localPort);
  const uri = exchange.requested.url.endsWith('/') ? exchange.requested.url.slice(0, -1) : exchange.requested.url;
  return statusAnswer(table.https.redirectCode, ['location', `${scheme}://${to}:${port}${uri}`]);
}

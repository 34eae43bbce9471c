// The request pipeline: what happens to a request between matching its route and forwarding it.
// Each route's stages are compiled when a table is swapped in (a route with no policy has none),
// and plain HTTP requests and upgrades (WebSocket) run the very same stages, so a guard can't be
// skipped by upgrading. A request stage either answers the request itself or lets it go on,
// possibly after changing what is sent upstream (a rewrite); response stages change the head of
// every response the client gets on that route, the backend's or the proxy's own.
import type { IncomingHttpHeaders } from 'node:http';
import { STATUS_TEXT } from './errors.ts';
import type { RequestTarget } from './request-target.ts';

/** What is sent upstream. It starts as the client's request; request stages may change it. */
export interface UpstreamRequest {
  method: string;
  /** Path and query in origin form. */
  url: string;
  /** The Host header sent upstream in place of the client's (upstream-vhost), or null to keep it. */
  host: string | null;
  /** Headers set on the upstream request (flat, lower-case names), replacing the client's of the same names; an empty value removes them. */
  setHeaders: readonly string[];
}

/** A request as the stages see it, read once before any of them runs. */
export interface Exchange {
  /** It came in on the HTTPS port. */
  readonly secure: boolean;
  /** Host and path normalized for matching (request-path.ts). */
  readonly host: string;
  readonly path: string;
  /** The request target as the client sent it. */
  readonly requested: RequestTarget;
  /** The client's headers, as node parsed them. */
  readonly clientHeaders: IncomingHttpHeaders;
  /** The client's address: the peer's, or with use-forwarded-headers the one X-Forwarded-For names (source-ranges.ts). */
  readonly clientAddress: string;
  /** With use-forwarded-headers and a trusted peer, the X-Forwarded-For chain to send upstream; else null. */
  readonly forwardedFor: string | null;
  readonly upstream: UpstreamRequest;
  /** Set-Cookie values an auth sub-request answered with, for the client's answer (external auth); null when none. */
  authCookies: readonly string[] | null;
  /** The Set-Cookie an affinity pick made (balancing.ts), for the client's answer; null when none. */
  affinityCookie: string | null;
  /** load-balance ewma: told the time (ms) of the attempt it chose when it ends (null: a tunnel, whose time says nothing); null when no one listens. */
  onResponseTime: ((elapsedMs: number | null) => void) | null;
  /** What runs once the exchange is over (answered, relayed or closed): a connection slot given back; null when nothing. */
  finishers: (() => void)[] | null;
}

/** A response the proxy gives itself, instead of the backend's: a short text body by default. */
export interface Answer {
  readonly status: number;
  readonly contentType: string;
  /** Flat name/value list, after content-type, content-length and server. */
  readonly headers: readonly string[];
  readonly body: string;
}

/** What an asynchronous check (auth-url) decided: an answer for the client, or go on. */
export type AuthOutcome = { readonly answer: Answer } | { readonly pass: true };

/** auth-url's sub-request, compiled at swap time; it runs after the request stages. */
export type AuthCheck = (exchange: Exchange, rawHeaders: readonly string[], requestId: string) => Promise<AuthOutcome>;

/** One behaviour of a route, compiled at swap time: an answer, or null to go on. */
export type RequestStage = (exchange: Exchange) => Answer | null;

/**
 * One behaviour of a route on the way back: it may change `headers`, the flat list the client
 * gets (backend's answer or the proxy's own), before the head is written.
 */
export type ResponseStage = (exchange: Exchange, status: number, headers: string[]) => void;

export const NO_STAGES: readonly RequestStage[] = [];
export const NO_RESPONSE_STAGES: readonly ResponseStage[] = [];
export const NO_SET_HEADERS: readonly string[] = [];

/** The upstream request a client request starts as. */
export function upstreamRequestOf(method: string | undefined, url: string): UpstreamRequest {
  return { method: method ?? 'GET', url, host: null, setHeaders: NO_SET_HEADERS };
}

/** Runs `finisher` when the exchange is over (finishExchange). */
export function onFinish(exchange: Exchange, finisher: () => void): void {
  (exchange.finishers ??= []).push(finisher);
}

/** Runs the exchange's finishers, once. */
export function finishExchange(exchange: Exchange): void {
  const finishers = exchange.finishers;
  if (finishers === null) return;
  exchange.finishers = null;
  for (const finisher of finishers) finisher();
}

/** Runs every response stage over `headers` (changed in place). */
export function runResponseStages(stages: readonly ResponseStage[], exchange: Exchange, status: number, headers: string[]): void {
  for (let i = 0; i < stages.length; i++) (stages[i] as ResponseStage)(exchange, status, headers);
}

/** Sets `lowerName` in a flat header list, removing every other header of that name (any case); `removeOnly` just removes them. */
export function replaceHeader(headers: string[], lowerName: string, value: string, removeOnly = false): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() === lowerName) headers.splice(i, 2);
  }
  if (!removeOnly) headers.push(lowerName, value);
}

/** nginx's short error page: the status and its text. */
export function statusAnswer(status: number, headers: readonly string[] = []): Answer {
  return { status, contentType: 'text/plain; charset=utf-8', headers, body: `${STATUS_TEXT[status] ?? status}\n` };
}

/** The first stage's answer, or null when every stage lets the request through. */
export function runStages(stages: readonly RequestStage[], exchange: Exchange): Answer | null {
  for (let i = 0; i < stages.length; i++) {
    const answer = (stages[i] as RequestStage)(exchange);
    if (answer !== null) return answer;
  }
  return null;
}

/** HSTS on HTTPS, replacing a backend's own, as ingress-nginx's header filter does. */
export function hstsStage(value: string): ResponseStage {
  return (exchange, _status, headers) => {
    if (exchange.secure) replaceHeader(headers, 'strict-transport-security', value);
  };
}

/** The answer with the response stages' changes to its headers. */
export function finishAnswer(answer: Answer, stages: readonly ResponseStage[], exchange: Exchange): Answer {
  if (stages.length === 0) return answer;
  const headers = [...answer.headers];
  runResponseStages(stages, exchange, answer.status, headers);
  return { ...answer, headers };
}

/**
 * The first value of a forwarding header a client sent (X-Forwarded-Proto, -Host, -Port), which
 * may be a list or repeated (node joins repeats with commas), trimmed; undefined when absent.
 * Callers read it only when forwarded headers are trusted (use-forwarded-headers).
 */
export function forwardedValue(exchange: Exchange, name: string): string | undefined {
  const value = exchange.clientHeaders[name];
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  return (comma === -1 ? text : text.slice(0, comma)).trim();
}

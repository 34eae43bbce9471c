// Header rewriting between client and upstream. Pure functions over flat [name, value, ...]
// arrays, the form node:http and undici both take without building objects.
import { replaceHeader, type UpstreamRequest } from './pipeline.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1, plus the non-standard Proxy-Connection): never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Never forwarded from a client: `Proxy`, which CGI stacks turn into HTTP_PROXY, the proxy their
 * own outgoing requests use (httpoxy, CVE-2016-5385); ingress-nginx clears it too.
 */
const DROPPED_FROM_CLIENTS = new Set(['proxy']);

/** Set by Pier on every upstream request; a client's own values are not trusted, as in ingress-nginx. */
const SET_BY_PROXY = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'x-request-id']);

export const SERVER_NAME = 'pier';
const COLON = 0x3a;

type HeaderValue = string | Buffer;

function text(value: HeaderValue): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/** Header names listed in Connection, which are hop-by-hop for this message only. */
function connectionTokens(raw: readonly HeaderValue[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (text(raw[i] as HeaderValue).toLowerCase() !== 'connection') continue;
    tokens ??= new Set();
    for (const token of text(raw[i + 1] as HeaderValue).split(',')) {
      const name = token.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

export interface ForwardedFor {
  /** X-Real-IP: the peer, or the client a trusted peer named (use-forwarded-headers). */
  readonly clientAddress: string;
  /** X-Forwarded-For when a trusted peer sent one: its chain plus the peer. Absent: clientAddress alone. */
  readonly forwardedFor?: string;
  /** `http` or `https`: the scheme the client used to reach Pier. */
  readonly proto: string;
  /** The port the client connected to. */
  readonly port: number;
}

/** How the client's headers are rewritten, beyond what every request gets. */
export interface HeaderPolicy {
  /** From an absolute-form request target: this authority replaces any Host the client sent (RFC 9112 §3.2.2). */
  readonly hostFromTarget: string | null;
  /** ConfigMap enable-underscores-in-headers: names with `_` are forwarded too (nginx's underscores_in_headers). */
  readonly underscoresInHeaders: boolean;
}

export const DEFAULT_HEADER_POLICY: HeaderPolicy = { hostFromTarget: null, underscoresInHeaders: false };

const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_A = 0x41;
const CHAR_Z = 0x5a;
const CHAR_LOWER_A = 0x61;
const CHAR_LOWER_Z = 0x7a;
const HYPHEN = 0x2d;
const UNDERSCORE = 0x5f;

/**
 * nginx's ignore_invalid_headers: only names of letters, digits and `-` (and `_` when allowed) are
 * forwarded. CGI-style stacks fold `_`, `.` and `-` together, so `X_Real_IP` or `X.Forwarded.For`
 * would otherwise shadow the X-Real-IP and X-Forwarded-* that Pier sets.
 */
export function isForwardableHeaderName(name: string, underscores: boolean): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= CHAR_LOWER_A && c <= CHAR_LOWER_Z) || (c >= CHAR_A && c <= CHAR_Z) || (c >= CHAR_0 && c <= CHAR_9) || c === HYPHEN) continue;
    if (c === UNDERSCORE && underscores) continue;
    return false;
  }
  return name.length > 0;
}

/** What an upstream request is made from, besides the client's headers and body. */
export interface OutgoingRequest {
  /** Method, path and query, Host and set headers, as the request stages left them. */
  readonly request: UpstreamRequest;
  readonly forwarded: ForwardedFor;
  readonly headerPolicy: HeaderPolicy;
}

export interface UpstreamHeaders {
  readonly headers: string[];
  readonly requestId: string;
}

/**
 * The headers an upstream request carries: the client's, in order and case, less hop-by-hop
 * ones and Expect (node:http answers 100-continue itself), plus X-Forwarded-*, X-Real-IP and
 * X-Request-ID. Host and User-Agent pass unchanged. A client's X-Request-ID is kept. From an
 * HTTP/2 client, pseudo-headers are dropped, `:authority` becomes Host when there is none, and
 * the Cookie fields HTTP/2 splits are joined again (RFC 9113 §8.2.3). Names nginx would call
 * invalid, and `Proxy`, are dropped.
 */
export function upstreamRequestHeaders(raw: readonly string[], forwarded: ForwardedFor, newRequestId: () => string, policy: HeaderPolicy = DEFAULT_HEADER_POLICY): UpstreamHeaders {
  const listed = connectionTokens(raw);
  const headers: string[] = [];
  let host = policy.hostFromTarget ?? '';
  let authority = '';
  let requestId = '';
  let cookieIndex = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === COLON) {
      if (name === ':authority') authority = value;
      continue;
    }
    if (!isForwardableHeaderName(name, policy.underscoresInHeaders)) continue;
    const lower = name.toLowerCase();
    if (lower === 'host') {
      if (policy.hostFromTarget !== null) continue;
      host = value;
    }
    if (lower === 'x-request-id') {
      requestId ||= value;
      continue;
    }
    if (lower === 'te') {
      // TE: trailers is the one TE value that may be forwarded (gRPC needs it).
      if (/(^|,)\s*trailers\s*(;|,|$)/i.test(value)) headers.push('te', 'trailers');
      continue;
    }
    if (HOP_BY_HOP.has(lower) || SET_BY_PROXY.has(lower) || DROPPED_FROM_CLIENTS.has(lower) || lower === 'expect' || listed?.has(lower)) continue;
    if (lower === 'cookie') {
      if (cookieIndex !== -1) {
        headers[cookieIndex] += `; ${value}`;
        continue;
      }
      cookieIndex = headers.length + 1;
    }
    headers.push(name, value);
  }
  if (policy.hostFromTarget !== null) {
    headers.unshift('host', host);
  } else if (!host && authority) {
    host = authority;
    headers.unshift('host', authority);
  }
  requestId ||= newRequestId();
  headers.push(
    'x-request-id', requestId,
    'x-real-ip', forwarded.clientAddress,
    'x-forwarded-for', forwarded.forwardedFor ?? forwarded.clientAddress,
    'x-forwarded-host', host,
    'x-forwarded-port', String(forwarded.port),
    'x-forwarded-proto', forwarded.proto,
  );
  return { headers, requestId };
}

/** The upstream request's headers: the client's, rewritten as upstreamRequestHeaders says, then the stages' Host and set headers. */
export function outgoingHeaders(raw: readonly string[], outgoing: OutgoingRequest, newRequestId: () => string): UpstreamHeaders {
  const result = upstreamRequestHeaders(raw, outgoing.forwarded, newRequestId, outgoing.headerPolicy);
  const { host, setHeaders } = outgoing.request;
  if (host !== null) replaceHeader(result.headers, 'host', host);
  // An empty value removes the header, as nginx's proxy_set_header does.
  for (let i = 0; i < setHeaders.length; i += 2) replaceHeader(result.headers, setHeaders[i] as string, setHeaders[i + 1] as string, setHeaders[i + 1] === '');
  return result;
}

/**
 * The headers a client gets from an upstream response: less hop-by-hop ones, and with Pier's own
 * Server header in place of the upstream's (node:http adds Date), as nginx does. The route's
 * response stages (HSTS...) then change the list.
 */
export function clientResponseHeaders(raw: readonly HeaderValue[]): string[] {
  const listed = connectionTokens(raw);
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i] as HeaderValue);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === 'server' || lower === 'date' || listed?.has(lower)) continue;
    headers.push(name, text(raw[i + 1] as HeaderValue));
  }
  headers.push('server', SERVER_NAME);
  return headers;
}

/** Headers as undici parses them (and as it gives HTTP/2 heads and trailers). */
export type HeaderObject = Readonly<Record<string, string | string[] | undefined>>;

/**
 * A response head as a flat list: undici's raw one (HTTP/1.1), or the object it has for HTTP/2,
 * flattened without the pseudo-headers.
 */
export function rawHeaderList(raw: unknown, parsed: HeaderObject): readonly HeaderValue[] {
  if (Array.isArray(raw)) return raw as HeaderValue[];
  const flat: string[] = [];
  for (const [name, value] of Object.entries((raw ?? parsed) as HeaderObject)) {
    if (value === undefined || name.charCodeAt(0) === COLON) continue;
    if (Array.isArray(value)) for (const item of value) flat.push(name, item);
    else flat.push(name, value);
  }
  return flat;
}

/** A trailer list from undici (flat raw buffers over HTTP/1.1, an object over HTTP/2) as an object, or null when empty. */
export function trailersOf(trailers: readonly HeaderValue[] | HeaderObject | null | undefined): Record<string, string | string[]> | null {
  if (!trailers) return null;
  const result: Record<string, string | string[]> = {};
  let any = false;
  if (Array.isArray(trailers)) {
    for (let i = 0; i < trailers.length; i += 2) {
      result[text(trailers[i] as HeaderValue).toLowerCase()] = text(trailers[i + 1] as HeaderValue);
      any = true;
    }
  } else {
    for (const [name, value] of Object.entries(trailers)) {
      if (value === undefined || name.charCodeAt(0) === COLON) continue;
      result[name] = value;
      any = true;
    }
  }
  return any ? result : null;
}

/** The head of a 101 response for a tunnelled upgrade: here Connection and Upgrade must stay. */
export function switchingProtocolsHead(raw: readonly HeaderValue[]): string {
  let head = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i] as HeaderValue);
    const lower = name.toLowerCase();
    if (lower === 'server' || lower === 'date' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
    head += `${name}: ${text(raw[i + 1] as HeaderValue)}\r\n`;
  }
  return `${head}server: ${SERVER_NAME}\r\ndate: ${new Date().toUTCString()}\r\n\r\n`;
}

/** The client's address without the IPv4-mapped IPv6 prefix, as nginx's $remote_addr shows it. */
export function clientAddressOf(remoteAddress: string | undefined): string {
  if (!remoteAddress) return '';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

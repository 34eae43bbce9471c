// auth-url, as ingress-nginx's auth_request location: before the request goes upstream, a
// sub-request (GET by default, no body, the client's headers plus X-Original-URL and company) asks
// the auth service. 2xx lets it through, copying auth-response-headers onto the upstream request;
// 401 reaches the client (with the service's WWW-Authenticate), or becomes a 302 to auth-signin;
// 403 reaches the client; anything else, or no answer in time, is a 500. The answer is bounded:
// its head by the read timeout, its body dumped past a size limit.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ExternalAuthPolicy, WireProtocol } from './route-spec.ts';
import { replaceHeader, statusAnswer, type Answer, type Exchange, type ResponseStage } from './pipeline.ts';

const STATUS_UNAUTHORIZED = 401;
const STATUS_FORBIDDEN = 403;
const STATUS_FOUND = 302;
const STATUS_INTERNAL_ERROR = 500;
/** Most of an auth answer's body read (and thrown away); past it the connection is dropped. */
const AUTH_BODY_LIMIT = 64 * 1024;
/** Client headers never sent to the auth service: hop-by-hop ones and those about the body, which it doesn't get. */
const NOT_FORWARDED = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect', 'proxy']);

export interface AuthEnvironment {
  readonly dispatcher: (protocol: WireProtocol, connectMs: number) => Dispatcher;
  readonly connectMs: number;
  readonly readMs: number;
}

/** What the auth service decided: an answer for the client, or go on with these headers added upstream. */
export type AuthOutcome = { readonly answer: Answer } | { readonly pass: true };

/** The signin URL with nginx's variables filled in and the redirect parameter added, as ingress-nginx's buildAuthSignURL. */
export function signinLocation(policy: ExternalAuthPolicy, exchange: Exchange): string | null {
  if (policy.signin === undefined) return null;
  const scheme = exchange.secure ? 'https' : 'http';
  const httpHost = exchange.requested.host ?? '';
  const requestUri = exchange.requested.url;
  const values: Record<string, string> = {
    $escaped_request_uri: encodeURIComponent(requestUri),
    $request_uri: requestUri,
    $pass_access_scheme: scheme,
    $scheme: scheme,
    $http_host: httpHost,
    $host: exchange.host,
  };
  const filled = policy.signin.replace(/\$[a-z_]+/g, (name) => values[name] ?? name);
  const param = policy.signinRedirectParam;
  if (new URL(filled).searchParams.has(param)) return filled;
  return `${filled}${filled.includes('?') ? '&' : '?'}${param}=${scheme}://${httpHost}${encodeURIComponent(requestUri)}`;
}

function authRequestHeaders(policy: ExternalAuthPolicy, exchange: Exchange, rawHeaders: readonly string[], target: URL, requestId: string): string[] {
  const headers: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.charCodeAt(0) === 0x3a || NOT_FORWARDED.has(name.toLowerCase())) continue;
    headers.push(name, rawHeaders[i + 1] as string);
  }
  const scheme = exchange.secure ? 'https' : 'http';
  const set = (name: string, value: string): void => replaceHeader(headers, name, value);
  set('host', target.host);
  set('x-original-url', `${scheme}://${exchange.requested.host ?? ''}${exchange.requested.url}`);
  set('x-original-method', exchange.upstream.method);
  set('x-sent-from', 'nginx-ingress-controller');
  set('x-real-ip', exchange.clientAddress);
  set('x-forwarded-for', exchange.clientAddress);
  set('x-auth-request-redirect', policy.requestRedirect ?? exchange.requested.url);
  set('x-request-id', requestId);
  if (policy.method !== undefined) {
    set('x-original-uri', exchange.requested.url);
    set('x-scheme', scheme);
  }
  // ingress-nginx clears it in the auth location.
  for (let i = headers.length - 2; i >= 0; i -= 2) if ((headers[i] as string).toLowerCase() === 'x-forwarded-proto') headers.splice(i, 2);
  return headers;
}

function valuesOf(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, name: string): string[] {
  const value = headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Asks the auth service about one request; never throws (a failure is a 500, as nginx's auth_request). */
export async function checkExternalAuth(policy: ExternalAuthPolicy, exchange: Exchange, rawHeaders: readonly string[], requestId: string, environment: AuthEnvironment): Promise<AuthOutcome> {
  const target = new URL(policy.url);
  const protocol: WireProtocol = target.protocol === 'https:' ? 'HTTPS' : 'HTTP';
  try {
    const response = await environment.dispatcher(protocol, environment.connectMs).request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: (policy.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: authRequestHeaders(policy, exchange, rawHeaders, target, requestId),
      headersTimeout: environment.readMs,
      bodyTimeout: environment.readMs,
    });
    await response.body.dump({ limit: AUTH_BODY_LIMIT });
    const cookies = valuesOf(response.headers, 'set-cookie');
    if (cookies.length > 0) exchange.authCookies = cookies;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      // Each listed header is the auth service's, or none: a client's own copy never reaches the backend.
      const copied: string[] = [];
      for (const name of policy.responseHeaders) copied.push(name.toLowerCase(), valuesOf(response.headers, name.toLowerCase())[0] ?? '');
      if (copied.length > 0) exchange.upstream.setHeaders = [...exchange.upstream.setHeaders, ...copied];
      return { pass: true };
    }
    if (response.statusCode === STATUS_UNAUTHORIZED) {
      const signin = signinLocation(policy, exchange);
      if (signin !== null) return { answer: statusAnswer(STATUS_FOUND, ['location', signin]) };
      const challenge = valuesOf(response.headers, 'www-authenticate')[0];
      return { answer: statusAnswer(STATUS_UNAUTHORIZED, challenge === undefined ? [] : ['www-authenticate', challenge]) };
    }
    if (response.statusCode === STATUS_FORBIDDEN) return { answer: statusAnswer(STATUS_FORBIDDEN) };
    return { answer: statusAnswer(STATUS_INTERNAL_ERROR) };
  } catch {
    return { answer: statusAnswer(STATUS_INTERNAL_ERROR) };
  }
}

/** The auth answer's Set-Cookie on the client's answer: on 2xx and 3xx, or on every answer with auth-always-set-cookie (nginx's add_header [always]). */
export function authCookieStage(alwaysSetCookie: boolean): ResponseStage {
  return (exchange, status, headers) => {
    if (exchange.authCookies === null || (!alwaysSetCookie && status >= 400)) return;
    for (const cookie of exchange.authCookies) headers.push('set-cookie', cookie);
  };
}


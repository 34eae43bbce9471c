// auth-url, as ingress-nginx's auth_request location: before the request goes upstream, a
// sub-request (GET by default, no body, the client's headers plus X-Original-URL and company) asks
// the auth service. 2xx lets it through, copying auth-response-headers onto the upstream request;
// 401 reaches the client (with the service's WWW-Authenticate), or becomes a 302 to auth-signin;
// 403 reaches the client; anything else, or no answer in time, is a 500. The answer is bounded:
// its head by the read timeout, its body dumped past a size limit. auth-proxy-set-headers adds
// headers to the sub-request; with auth-cache-key, verdicts are kept (auth-cache.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ExternalAuthPolicy, WireProtocol } from './route-spec.ts';
import { replaceHeader, statusAnswer, type AuthCheck, type AuthOutcome, type Exchange, type ResponseStage } from './pipeline.ts';
import { AuthCache, cacheLifetime, type AuthVerdict } from './auth-cache.ts';
import { compileTemplate, evaluateTemplate, type CompiledTemplate } from './nginx-variables.ts';

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
  /** Verdicts of locations with auth-cache-key, kept across table swaps. */
  readonly cache: AuthCache;
}

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

function authRequestHeaders(policy: ExternalAuthPolicy, setHeaders: readonly (readonly [string, CompiledTemplate])[], exchange: Exchange, rawHeaders: readonly string[], target: URL, requestId: string): string[] {
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
  // auth-proxy-set-headers come last in the auth location, so they win over the ones above.
  for (const [name, value] of setHeaders) set(name, evaluateTemplate(value, exchange));
  return headers;
}

function valuesOf(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, name: string): string[] {
  const value = headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * The auth sub-request of one location, compiled at swap time: asks the service (or the cache)
 * about a request; never throws (a failure is a 500, as nginx's auth_request).
 */
export function externalAuthCheck(policy: ExternalAuthPolicy, environment: AuthEnvironment): AuthCheck {
  const target = new URL(policy.url);
  const protocol: WireProtocol = target.protocol === 'https:' ? 'HTTPS' : 'HTTP';
  const setHeaders = pairsOf(policy.proxySetHeaders ?? []).map(([name, value]) => [name.toLowerCase(), compileTemplate(value)] as const);
  const cache = policy.cache;
  const cacheKey = cache === undefined ? null : compileTemplate(cache.key);
  const ask = async (exchange: Exchange, rawHeaders: readonly string[], requestId: string): Promise<{ verdict: AuthVerdict; lifetimeMs: number }> => {
    const response = await environment.dispatcher(protocol, environment.connectMs).request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: (policy.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: authRequestHeaders(policy, setHeaders, exchange, rawHeaders, target, requestId),
      headersTimeout: environment.readMs,
      bodyTimeout: environment.readMs,
    });
    await response.body.dump({ limit: AUTH_BODY_LIMIT });
    const cookies = valuesOf(response.headers, 'set-cookie');
    if (cookies.length > 0) exchange.authCookies = cookies;
    const status = response.statusCode;
    // Each listed header is the auth service's, or none: a client's own copy never reaches the backend.
    const copied: string[] = [];
    if (status >= 200 && status < 300) for (const name of policy.responseHeaders) copied.push(name.toLowerCase(), valuesOf(response.headers, name.toLowerCase())[0] ?? '');
    const verdict: AuthVerdict = { status, copied, challenge: status === STATUS_UNAUTHORIZED ? valuesOf(response.headers, 'www-authenticate')[0] : undefined };
    const lifetimeMs = cache === undefined ? 0 : cacheLifetime(cache.durations, status, valuesOf(response.headers, 'cache-control').join(', ') || undefined, cookies.length > 0);
    return { verdict, lifetimeMs };
  };
  return async (exchange, rawHeaders, requestId) => {
    try {
      if (cache === undefined || cacheKey === null) return outcomeOf((await ask(exchange, rawHeaders, requestId)).verdict, policy, exchange);
      const key = AuthCache.keyOf(cache.scope, exchange.host, evaluateTemplate(cacheKey, exchange));
      const kept = environment.cache.get(key, performance.now());
      if (kept !== undefined) return outcomeOf(kept, policy, exchange);
      const { verdict, lifetimeMs } = await ask(exchange, rawHeaders, requestId);
      environment.cache.set(key, verdict, lifetimeMs, performance.now());
      return outcomeOf(verdict, policy, exchange);
    } catch {
      return { answer: statusAnswer(STATUS_INTERNAL_ERROR) };
    }
  };
}

/** 2xx passes (with the copied headers upstream), 401 reaches the client or redirects to auth-signin, 403 reaches the client, anything else is a 500. */
function outcomeOf(verdict: AuthVerdict, policy: ExternalAuthPolicy, exchange: Exchange): AuthOutcome {
  const { status } = verdict;
  if (status >= 200 && status < 300) {
    if (verdict.copied.length > 0) exchange.upstream.setHeaders = [...exchange.upstream.setHeaders, ...verdict.copied];
    return { pass: true };
  }
  if (status === STATUS_UNAUTHORIZED) {
    const signin = signinLocation(policy, exchange);
    if (signin !== null) return { answer: statusAnswer(STATUS_FOUND, ['location', signin]) };
    return { answer: statusAnswer(STATUS_UNAUTHORIZED, verdict.challenge === undefined ? [] : ['www-authenticate', verdict.challenge]) };
  }
  if (status === STATUS_FORBIDDEN) return { answer: statusAnswer(STATUS_FORBIDDEN) };
  return { answer: statusAnswer(STATUS_INTERNAL_ERROR) };
}

function pairsOf(flat: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
  return pairs;
}

/** The auth answer's Set-Cookie on the client's answer: on 2xx and 3xx, or on every answer with auth-always-set-cookie (nginx's add_header [always]). */
export function authCookieStage(alwaysSetCookie: boolean): ResponseStage {
  return (exchange, status, headers) => {
    if (exchange.authCookies === null || (!alwaysSetCookie && status >= 400)) return;
    for (const cookie of exchange.authCookies) headers.push('set-cookie', cookie);
  };
}


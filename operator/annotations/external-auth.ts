// auth-url and its companions (ingress-nginx's authreq parser): auth-method, auth-signin,
// auth-signin-redirect-param, auth-response-headers, auth-request-redirect, auth-always-set-cookie,
// auth-proxy-set-headers (a ConfigMap, resolved when routes are computed), auth-cache-key and
// auth-cache-duration. An auth-url Pier can't use closes the location (503), and so does an
// invalid cache duration or set-headers name (ingress-nginx denies those locations too): it is
// never served without its guard. The keepalive keys are read and checked as ingress-nginx does;
// Pier keeps connections to the auth service alive in any case (see keepalive below).
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { booleanText, integerText } from './schemas.ts';
import type { AuthCacheDuration } from '../../proxy/route-spec.ts';
import { unknownVariables } from '../../proxy/nginx-variables.ts';

export interface ExternalAuthConfig {
  readonly url: string | undefined;
  /** auth-url is set but can't be used: the location closes. */
  readonly invalidUrl: boolean;
  readonly method: string | undefined;
  readonly signin: string | undefined;
  readonly signinRedirectParam: string;
  readonly responseHeaders: readonly string[];
  readonly requestRedirect: string | undefined;
  readonly alwaysSetCookie: boolean;
  /** auth-cache-key, when valid; absent, every request asks the service. */
  readonly cacheKey: string | undefined;
  /** auth-cache-duration (ingress-nginx's default `200 202 401 5m`), or undefined when it is invalid (the location closes). */
  readonly cacheDurations: readonly AuthCacheDuration[] | undefined;
  /** auth-proxy-set-headers: `name` or `namespace/name` of a ConfigMap; `invalid` when the value can't be one (the location closes). */
  readonly proxySetHeaders: string | undefined;
  /** auth-keepalive and company as ingress-nginx reads them; Pier's pooled connections to the service don't depend on them. */
  readonly keepalive: { readonly connections: number; readonly requests: number; readonly timeoutSeconds: number; readonly shareVars: boolean };
}

/** ingress-nginx's DefaultCacheDuration, `200 202 401 5m`. */
const DEFAULT_CACHE_DURATIONS: readonly AuthCacheDuration[] = [{ codes: [200, 202, 401], ms: 300_000 }];
const TIME_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 };

/**
 * auth-cache-duration: comma-separated `[code ...] time [time ...]` entries (nginx's
 * proxy_cache_valid; `200 202 401 5m`, `5m`, `any 1h 30m`), each a list of codes and a duration.
 */
export const cacheDurationText = z.string().transform((value, context) => {
  const durations: AuthCacheDuration[] = [];
  for (const entry of value.split(',').map((text) => text.trim()).filter((text) => text !== '')) {
    const codes: number[] = [];
    let any = false;
    let ms = 0;
    let valid = true;
    for (const element of entry.split(/\s+/)) {
      const time = /^(\d+)(ms|s|m|h|d|w|M|y)$/.exec(element);
      if (time !== null) ms += Number(time[1]) * (TIME_UNIT_MS[time[2] as string] as number);
      else if (ms === 0 && /^[1-5]\d\d$/.test(element)) codes.push(Number(element));
      else if (ms === 0 && element === 'any') any = true;
      else valid = false;
    }
    if (!valid || ms === 0) {
      context.addIssue({ code: 'custom', message: `"${entry}" must be status codes then a time, such as "200 202 401 5m"` });
      return z.NEVER;
    }
    durations.push({ ...(any ? { codes: 'any' as const } : codes.length > 0 ? { codes } : {}), ms });
  }
  // Blank (or only commas) is ingress-nginx's default.
  return durations.length > 0 ? durations : DEFAULT_CACHE_DURATIONS;
});

const cacheKeyText = z
  .string()
  .regex(/^[A-Za-z0-9\-_${}]*$/, 'may hold only letters, digits, "-", "_" and nginx variables')
  .refine((value) => value !== '', 'must not be empty')
  .superRefine((value, context) => {
    const unknown = unknownVariables(value);
    if (unknown.length > 0) context.addIssue({ code: 'custom', message: `uses ${unknown.join(', ')}, which Pier doesn't evaluate (it does $remote_user, $remote_addr, $host, $http_<header>, $cookie_<name>, $arg_<name>, $request_uri, $uri, $scheme...)` });
  });
const configMapName = z.string().trim().regex(/^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, 'must be a ConfigMap name or namespace/name');
const zeroOrMore = integerText.refine((value) => value >= 0, 'must be 0 or more');
const moreThanZero = integerText.refine((value) => value > 0, 'must be more than 0');
const DEFAULT_KEEPALIVE = { connections: 0, requests: 1000, timeoutSeconds: 60, shareVars: false };

/** The nginx variables auth-signin may use, as oauth2-proxy's documented setups do. */
const SIGNIN_VARIABLES = new Set(['$escaped_request_uri', '$request_uri', '$pass_access_scheme', '$scheme', '$http_host', '$host']);

function httpUrl(allowVariables: boolean) {
  return z
    .string()
    .trim()
    .regex(/^[-._~a-zA-Z0-9/:,?&=%$]*$/, 'may hold only the characters of a URL')
    .refine((value) => allowVariables ? [...value.matchAll(/\$[a-z_]+/g)].every(([name]) => SIGNIN_VARIABLES.has(name)) : !value.includes('$'), allowVariables ? `may use only ${[...SIGNIN_VARIABLES].join(', ')}` : 'nginx variables are not evaluated by Pier')
    .refine((value) => /^https?:\/\/[^/?#]+/i.test(value) && URL.canParse(value.replace(/\$[a-z_]+/g, 'x')), 'must be an http:// or https:// URL');
}

const authUrl = httpUrl(false);
const signinUrl = httpUrl(true);
const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE'], { message: 'must be an HTTP method' });
const headerNames = z.string().transform((value, context) => {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.every((name) => /^[a-zA-Z\d\-_]+$/.test(name))) return names;
  context.addIssue({ code: 'custom', message: 'must be header names separated by commas' });
  return z.NEVER;
});
const param = z.string().trim().regex(/^[-._~a-zA-Z0-9]+$/, 'must be a query parameter name');
const redirect = z.string().trim().regex(/^[-._~a-zA-Z0-9/:,?&=]*$/, 'may hold only the characters of a URL');

export const externalAuthFamily: AnnotationFamily<'externalAuth', ExternalAuthConfig> = {
  name: 'externalAuth',
  keys: [
    'auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect', 'auth-always-set-cookie',
    'auth-cache-key', 'auth-cache-duration', 'auth-proxy-set-headers', 'auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-timeout', 'auth-keepalive-share-vars',
  ],
  scope: 'location',
  parse: (read) => {
    const url = read.get('auth-url', authUrl, 'the location is closed: its requests answer 503 until the value is fixed');
    return {
      url,
      invalidUrl: read.has('auth-url') && url === undefined,
      method: read.get('auth-method', method),
      signin: read.get('auth-signin', signinUrl),
      signinRedirectParam: read.get('auth-signin-redirect-param', param) ?? 'rd',
      responseHeaders: read.get('auth-response-headers', headerNames) ?? [],
      requestRedirect: read.get('auth-request-redirect', redirect),
      alwaysSetCookie: read.get('auth-always-set-cookie', booleanText) ?? false,
      cacheKey: read.get('auth-cache-key', cacheKeyText, 'ignored: every request asks the auth service'),
      cacheDurations: read.has('auth-cache-duration') ? read.get('auth-cache-duration', cacheDurationText, 'the location is closed: its requests answer 503 until the value is fixed') : DEFAULT_CACHE_DURATIONS,
      proxySetHeaders: read.has('auth-proxy-set-headers') ? (read.get('auth-proxy-set-headers', configMapName, 'the location is closed: its requests answer 503 until the value is fixed') ?? 'invalid') : undefined,
      keepalive: {
        connections: read.get('auth-keepalive', zeroOrMore) ?? DEFAULT_KEEPALIVE.connections,
        requests: read.get('auth-keepalive-requests', moreThanZero) ?? DEFAULT_KEEPALIVE.requests,
        timeoutSeconds: read.get('auth-keepalive-timeout', moreThanZero) ?? DEFAULT_KEEPALIVE.timeoutSeconds,
        shareVars: read.get('auth-keepalive-share-vars', booleanText) ?? DEFAULT_KEEPALIVE.shareVars,
      },
    };
  },
};

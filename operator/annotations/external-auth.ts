// auth-url and its companions (ingress-nginx's authreq parser): auth-method, auth-signin,
// auth-signin-redirect-param, auth-response-headers, auth-request-redirect, auth-always-set-cookie.
// An auth-url Pier can't use closes the location (503): it is never served without its guard.
// auth-cache-key, auth-cache-duration, auth-proxy-set-headers and the keepalive keys are not
// implemented yet (reported as such; without a cache every request asks the service).
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { booleanText } from './schemas.ts';

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
}

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
  keys: ['auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect', 'auth-always-set-cookie'],
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
    };
  },
};

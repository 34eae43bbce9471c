// The annotation registry: one Ingress's annotations in, each family's configuration and every
// problem out. Values as ingress-nginx parses them (booleans through Go's strconv.ParseBool;
// docs/user-guide/nginx-configuration/annotations.md for the keys it documents).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Ingress } from '../../operator/model.ts';
import { AnnotationCache, readAnnotations, type IngressAnnotations } from '../../operator/annotations/registry.ts';

const PREFIX = 'nginx.ingress.kubernetes.io';

function ingressWith(annotations: Record<string, string>): Ingress {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', namespace: 'default', annotations }, spec: {} } as Ingress;
}

const DEFAULTS: IngressAnnotations = {
  useRegex: { useRegex: false },
  rewrite: { target: undefined, appRoot: undefined, forwardedPrefix: undefined },
  redirect: { redirect: undefined, fromToWww: false },
  tlsRedirect: { sslRedirect: undefined, forceSslRedirect: undefined, preserveTrailingSlash: false },
  backendProtocol: { protocol: 'HTTP' },
  upstreamVhost: { host: undefined },
  serviceUpstream: { serviceUpstream: false },
  serverAlias: { aliases: [] },
  errors: { customHttpErrors: undefined, defaultBackend: undefined },
  sourceRanges: { allow: undefined, deny: undefined, invalid: [] },
  basicAuth: { type: undefined, secret: undefined, secretType: 'auth-file', realm: '', invalid: [] },
  externalAuth: {
    url: undefined, invalidUrl: false, method: undefined, signin: undefined, signinRedirectParam: 'rd', responseHeaders: [], requestRedirect: undefined, alwaysSetCookie: false,
    cacheKey: undefined, cacheDurations: [{ codes: [200, 202, 401], ms: 300_000 }], proxySetHeaders: undefined, keepalive: { connections: 0, requests: 1000, timeoutSeconds: 60, shareVars: false },
  },
  rateLimits: { rps: 0, rpm: 0, connections: 0, burstMultiplier: 5, allowlist: [] },
  cors: { enabled: false, origins: ['*'], methods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS', headers: 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization', credentials: true, exposeHeaders: '', maxAge: 1728000 },
  bodySize: { limit: undefined },
  timeouts: { connectMs: undefined, readMs: undefined, sendMs: undefined, nextUpstream: undefined, nextUpstreamTries: undefined, nextUpstreamTimeoutMs: undefined },
  canary: { enabled: false, header: undefined, headerValue: undefined, headerPattern: undefined, cookie: undefined, weight: 0, weightTotal: 100 },
  affinity: {
    type: undefined, mode: 'balanced', canaryBehavior: 'sticky', cookieName: 'INGRESSCOOKIE', path: undefined, domain: undefined, expiresSeconds: undefined, maxAgeSeconds: undefined,
    secure: undefined, sameSite: undefined, conditionalSameSiteNone: false, changeOnFailure: false,
  },
  balancing: { hashBy: undefined, hashBySubset: false, subsetSize: 3, loadBalance: undefined },
  sslPassthrough: { enabled: false },
};
const TIMEOUTS = DEFAULTS.timeouts;

const ignored = (key: string, value: string, reason: string): string =>
  `InvalidAnnotation ${PREFIX}/${key}: annotation ${PREFIX}/${key}: "${value}" is invalid (${reason}); ignored, the default applies`;
const PATH_CHARS = 'may hold only letters, digits, "/", ":", "-", ".", "_", "~" and "$1".."$9"';

describe('reading an Ingress\'s annotations', () => {
  const cases: { name: string; annotations: Record<string, string>; prefix?: string; config?: Partial<IngressAnnotations>; problems?: string[] }[] = [
    { name: 'Without annotations every family has ingress-nginx\'s defaults, and nothing is reported', annotations: {} },
    { name: 'use-regex "true" turns regex paths on', annotations: { [`${PREFIX}/use-regex`]: 'true' }, config: { useRegex: { useRegex: true } } },
    { name: 'Booleans take what Go\'s ParseBool takes, as ingress-nginx: "True" and "1" are true', annotations: { [`${PREFIX}/use-regex`]: 'True', [`${PREFIX}/ssl-redirect`]: '0' }, config: { useRegex: { useRegex: true }, tlsRedirect: { sslRedirect: false, forceSslRedirect: undefined, preserveTrailingSlash: false } } },
    {
      name: 'A boolean that ParseBool rejects is a warning naming the key, and the default applies',
      annotations: { [`${PREFIX}/ssl-redirect`]: 'no' },
      problems: ['InvalidAnnotation nginx.ingress.kubernetes.io/ssl-redirect: annotation nginx.ingress.kubernetes.io/ssl-redirect: "no" is invalid (must be "true" or "false"); ignored, the default applies'],
    },
    { name: 'backend-protocol is read case-insensitively', annotations: { [`${PREFIX}/backend-protocol`]: ' grpcs ' }, config: { backendProtocol: { protocol: 'GRPCS' } } },
    {
      name: 'An unsupported backend-protocol is a warning and HTTP is used',
      annotations: { [`${PREFIX}/backend-protocol`]: 'FCGI' },
      problems: ['InvalidAnnotation nginx.ingress.kubernetes.io/backend-protocol: annotation nginx.ingress.kubernetes.io/backend-protocol: "FCGI" is invalid (not supported (use HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP); HTTP is used); ignored, the default applies'],
    },
    {
      name: 'A snippet is refused, never run',
      annotations: { [`${PREFIX}/configuration-snippet`]: 'more_set_headers "X: y";' },
      problems: [`RefusedAnnotation nginx.ingress.kubernetes.io/configuration-snippet: annotation nginx.ingress.kubernetes.io/configuration-snippet is refused: Pier never runs configuration text from an Ingress (snippets are how ingress-nginx's worst CVEs happened); ignored`],
    },
    {
      name: 'An ingress-nginx key Pier doesn\'t implement yet is reported with its family',
      annotations: { [`${PREFIX}/limit-rate`]: '100k' },
      problems: ['UnsupportedAnnotation nginx.ingress.kubernetes.io/limit-rate: annotation nginx.ingress.kubernetes.io/limit-rate (ingress-nginx rate limits) is not supported by Pier yet; ignored'],
    },
    {
      name: 'A guard Pier doesn\'t implement yet closes the Ingress\'s locations instead of publishing them unguarded',
      annotations: { [`${PREFIX}/auth-tls-secret`]: 'default/ca' },
      problems: ['UnsupportedAnnotation nginx.ingress.kubernetes.io/auth-tls-secret: annotation nginx.ingress.kubernetes.io/auth-tls-secret (ingress-nginx client certificates) is not supported by Pier yet; the location is closed: its requests answer 503 rather than reach the backend unguarded'],
    },
    // rewrite (values from ingress-nginx's docs/examples/rewrite and test/e2e/annotations/rewrite.go)
    { name: 'rewrite-target keeps its capture groups', annotations: { [`${PREFIX}/rewrite-target`]: '/$2' }, config: { rewrite: { target: '/$2', appRoot: undefined, forwardedPrefix: undefined } } },
    { name: 'An empty rewrite-target is no rewrite, as in ingress-nginx', annotations: { [`${PREFIX}/rewrite-target`]: '' } },
    { name: 'A rewrite-target with a line break is refused, so it can\'t inject a header', annotations: { [`${PREFIX}/rewrite-target`]: '/x\r\nX-Admin: 1' }, problems: [ignored('rewrite-target', '/x\r\nX-Admin: 1', PATH_CHARS)] },
    { name: 'A rewrite-target with a quote or space is refused', annotations: { [`${PREFIX}/rewrite-target`]: '/a "b"' }, problems: [ignored('rewrite-target', '/a "b"', PATH_CHARS)] },
    {
      name: 'A rewrite-target with an nginx variable is refused: Pier evaluates only $1..$9',
      annotations: { [`${PREFIX}/rewrite-target`]: '/$host/x' },
      problems: [ignored('rewrite-target', '/$host/x', 'nginx variables are not evaluated by Pier; only $1..$9 (the path\'s groups) are')],
    },
    { name: 'app-root is a path', annotations: { [`${PREFIX}/app-root`]: '/app1' }, config: { rewrite: { target: undefined, appRoot: '/app1', forwardedPrefix: undefined } } },
    { name: 'An app-root that isn\'t a path is ignored with a warning', annotations: { [`${PREFIX}/app-root`]: 'app1' }, problems: [ignored('app-root', 'app1', 'must be a path beginning with "/"')] },
    { name: 'An app-root that is a URL is ignored with a warning, as ingress-nginx refuses absolute ones', annotations: { [`${PREFIX}/app-root`]: 'https://other/' }, problems: [ignored('app-root', 'https://other/', 'must be a path beginning with "/"')] },
    { name: 'x-forwarded-prefix is read as written', annotations: { [`${PREFIX}/x-forwarded-prefix`]: '/api' }, config: { rewrite: { target: undefined, appRoot: undefined, forwardedPrefix: '/api' } } },
    // redirects (ingress-nginx's redirect parser and test/e2e/annotations/redirect.go)
    { name: 'permanent-redirect answers 301 by default', annotations: { [`${PREFIX}/permanent-redirect`]: 'https://www.google.com' }, config: { redirect: { redirect: { url: 'https://www.google.com', code: 301 }, fromToWww: false } } },
    { name: 'permanent-redirect-code sets the code', annotations: { [`${PREFIX}/permanent-redirect`]: 'https://x.example/a?b=c', [`${PREFIX}/permanent-redirect-code`]: '308' }, config: { redirect: { redirect: { url: 'https://x.example/a?b=c', code: 308 }, fromToWww: false } } },
    {
      name: 'A permanent-redirect-code outside 300-308 is a warning, and 301 is used',
      annotations: { [`${PREFIX}/permanent-redirect`]: 'https://x.example', [`${PREFIX}/permanent-redirect-code`]: '200' },
      config: { redirect: { redirect: { url: 'https://x.example', code: 301 }, fromToWww: false } },
      problems: [ignored('permanent-redirect-code', '200', 'must be between 300 and 308; 301 is used')],
    },
    {
      name: 'temporal-redirect wins over permanent-redirect, with 302 by default',
      annotations: { [`${PREFIX}/permanent-redirect`]: 'https://p.example', [`${PREFIX}/temporal-redirect`]: 'https://t.example' },
      config: { redirect: { redirect: { url: 'https://t.example', code: 302 }, fromToWww: false } },
    },
    {
      name: 'A temporal-redirect-code of 308 is outside 300-307: a warning, and 302 is used',
      annotations: { [`${PREFIX}/temporal-redirect`]: 'https://t.example', [`${PREFIX}/temporal-redirect-code`]: '308' },
      config: { redirect: { redirect: { url: 'https://t.example', code: 302 }, fromToWww: false } },
      problems: [ignored('temporal-redirect-code', '308', 'must be between 300 and 307; 302 is used')],
    },
    { name: 'A redirect to another scheme is refused', annotations: { [`${PREFIX}/permanent-redirect`]: 'ftp://x.example' }, problems: [ignored('permanent-redirect', 'ftp://x.example', 'must be an http:// or https:// URL')] },
    {
      name: 'A redirect URL with a line break is refused, so it can\'t inject a header',
      annotations: { [`${PREFIX}/temporal-redirect`]: 'https://x.example/\r\nSet-Cookie: a=b' },
      problems: [ignored('temporal-redirect', 'https://x.example/\r\nSet-Cookie: a=b', 'may hold only letters, digits and - . _ ~ / : , ? & =')],
    },
    { name: 'from-to-www-redirect is a boolean', annotations: { [`${PREFIX}/from-to-www-redirect`]: 'true' }, config: { redirect: { redirect: undefined, fromToWww: true } } },
    { name: 'preserve-trailing-slash is a boolean', annotations: { [`${PREFIX}/preserve-trailing-slash`]: 'true' }, config: { tlsRedirect: { sslRedirect: undefined, forceSslRedirect: undefined, preserveTrailingSlash: true } } },
    // body size (nginx sizes: bytes, k, m, g)
    { name: 'proxy-body-size "8m" is 8 MiB', annotations: { [`${PREFIX}/proxy-body-size`]: '8m' }, config: { bodySize: { limit: 8 * 1024 * 1024 } } },
    { name: 'proxy-body-size "0" is no limit', annotations: { [`${PREFIX}/proxy-body-size`]: '0' }, config: { bodySize: { limit: 0 } } },
    { name: 'proxy-body-size units are case-insensitive', annotations: { [`${PREFIX}/proxy-body-size`]: '10K' }, config: { bodySize: { limit: 10 * 1024 } } },
    { name: 'A fractional proxy-body-size is ignored with a warning', annotations: { [`${PREFIX}/proxy-body-size`]: '1.5m' }, problems: [ignored('proxy-body-size', '1.5m', 'must be a size such as 1m, 512k or 0')] },
    { name: 'backend-protocol AUTO_HTTP is read', annotations: { [`${PREFIX}/backend-protocol`]: 'AUTO_HTTP' }, config: { backendProtocol: { protocol: 'AUTO_HTTP' } } },
    { name: 'service-upstream is a boolean', annotations: { [`${PREFIX}/service-upstream`]: 'true' }, config: { serviceUpstream: { serviceUpstream: true } } },
    { name: 'server-alias is a comma-separated list of hosts, lower-cased, wildcards allowed', annotations: { [`${PREFIX}/server-alias`]: 'Www.Example.com, *.example.net,www.example.com' }, config: { serverAlias: { aliases: ['www.example.com', '*.example.net'] } } },
    {
      name: 'A server-alias that isn\'t a host name is ignored with a warning',
      annotations: { [`${PREFIX}/server-alias`]: 'ok.example.com, bad_host' },
      problems: [ignored('server-alias', 'ok.example.com, bad_host', 'host "bad_host" is not a valid DNS name (or *.domain wildcard)')],
    },
    // error pages (customhttperrors, defaultbackend)
    { name: 'custom-http-errors lists 4xx and 5xx codes; spaces are ignored', annotations: { [`${PREFIX}/custom-http-errors`]: '404, 503,503' }, config: { errors: { customHttpErrors: [404, 503], defaultBackend: undefined } } },
    { name: 'A custom-http-errors code outside 4xx and 5xx is ignored with a warning', annotations: { [`${PREFIX}/custom-http-errors`]: '404,302' }, problems: [ignored('custom-http-errors', '404,302', 'must be 4xx or 5xx status codes, comma-separated')] },
    { name: 'default-backend names a Service', annotations: { [`${PREFIX}/default-backend`]: 'error-pages' }, config: { errors: { customHttpErrors: undefined, defaultBackend: 'error-pages' } } },
    { name: 'A default-backend that isn\'t a Service name is ignored with a warning', annotations: { [`${PREFIX}/default-backend`]: 'other/ns' }, problems: [ignored('default-backend', 'other/ns', 'must be the name of a Service in the Ingress\'s namespace')] },
    // CORS (ingress-nginx's cors parser and test/e2e/annotations/cors.go)
    {
      name: 'cors-allow-origin takes a list of origins, with *. wildcards and ports',
      annotations: { [`${PREFIX}/enable-cors`]: 'true', [`${PREFIX}/cors-allow-origin`]: 'https://origin.cors.com:8080, https://*.example.com,null' },
      config: { cors: { ...DEFAULTS.cors, enabled: true, origins: ['https://origin.cors.com:8080', 'https://*.example.com', 'null'] } },
    },
    { name: 'A "*" anywhere in cors-allow-origin allows every origin', annotations: { [`${PREFIX}/cors-allow-origin`]: 'https://a.com, *' }, config: { cors: { ...DEFAULTS.cors, origins: ['*'] } } },
    {
      name: 'An origin of another shape is refused with a warning, and "*" stays',
      annotations: { [`${PREFIX}/cors-allow-origin`]: 'https://a.com/path' },
      problems: [ignored('cors-allow-origin', 'https://a.com/path', '"https://a.com/path" is not an origin (scheme://host[:port], *.domain, * or null)')],
    },
    {
      name: 'CORS header values that could carry a line break are refused',
      annotations: { [`${PREFIX}/cors-allow-headers`]: 'X-A\r\nSet-Cookie: x=1', [`${PREFIX}/cors-allow-methods`]: 'GET;POST' },
      problems: [ignored('cors-allow-methods', 'GET;POST', 'must be method names separated by commas'), ignored('cors-allow-headers', 'X-A\r\nSet-Cookie: x=1', 'must be header names separated by commas')],
    },
    {
      name: 'cors-allow-credentials, -expose-headers and -max-age are read as written',
      annotations: { [`${PREFIX}/cors-allow-credentials`]: 'false', [`${PREFIX}/cors-expose-headers`]: 'X-Request-ID, X-Total', [`${PREFIX}/cors-max-age`]: '600' },
      config: { cors: { ...DEFAULTS.cors, credentials: false, exposeHeaders: 'X-Request-ID, X-Total', maxAge: 600 } },
    },
    // basic auth (ingress-nginx's auth parser)
    {
      name: 'auth-type basic with its Secret, type and realm',
      annotations: { [`${PREFIX}/auth-type`]: 'basic', [`${PREFIX}/auth-secret`]: 'other/basic-auth', [`${PREFIX}/auth-secret-type`]: 'auth-map', [`${PREFIX}/auth-realm`]: 'Authentication Required - foo' },
      config: { basicAuth: { type: 'basic', secret: 'other/basic-auth', secretType: 'auth-map', realm: 'Authentication Required - foo', invalid: [] } },
    },
    {
      name: 'An auth-type Pier can\'t read closes the location',
      annotations: { [`${PREFIX}/auth-type`]: 'ntlm' },
      config: { basicAuth: { ...DEFAULTS.basicAuth, invalid: ['auth-type'] } },
      problems: [`InvalidAnnotation ${PREFIX}/auth-type: annotation ${PREFIX}/auth-type: "ntlm" is invalid (must be "basic" or "digest"); the location is closed: its requests answer 503 until the value is fixed`],
    },
    { name: 'A realm with a quote is ignored with a warning', annotations: { [`${PREFIX}/auth-realm`]: 'a"b' }, problems: [ignored('auth-realm', 'a"b', 'may not hold quotes, backslashes or control characters')] },
    // external auth (ingress-nginx's authreq parser; oauth2-proxy's documented annotations)
    {
      name: 'auth-url with an oauth2-proxy signin URL and its variables',
      annotations: {
        [`${PREFIX}/auth-url`]: 'https://oauth2.example.com/oauth2/auth',
        [`${PREFIX}/auth-signin`]: 'https://oauth2.example.com/oauth2/start?rd=$escaped_request_uri',
        [`${PREFIX}/auth-response-headers`]: 'X-Auth-Request-User, X-Auth-Request-Email',
      },
      config: { externalAuth: { ...DEFAULTS.externalAuth, url: 'https://oauth2.example.com/oauth2/auth', signin: 'https://oauth2.example.com/oauth2/start?rd=$escaped_request_uri', responseHeaders: ['X-Auth-Request-User', 'X-Auth-Request-Email'] } },
    },
    {
      name: 'An auth-url with an nginx variable closes the location: Pier doesn\'t evaluate it',
      annotations: { [`${PREFIX}/auth-url`]: 'https://$host/oauth2/auth' },
      config: { externalAuth: { ...DEFAULTS.externalAuth, invalidUrl: true } },
      problems: [`InvalidAnnotation ${PREFIX}/auth-url: annotation ${PREFIX}/auth-url: "https://$host/oauth2/auth" is invalid (nginx variables are not evaluated by Pier); the location is closed: its requests answer 503 until the value is fixed`],
    },
    {
      name: 'auth-cache-key with nginx variables and auth-cache-duration per status, as ingress-nginx\'s docs show them',
      annotations: { [`${PREFIX}/auth-url`]: 'http://auth.example/check', [`${PREFIX}/auth-cache-key`]: '$remote_user$http_authorization', [`${PREFIX}/auth-cache-duration`]: '200 202 10m, 401 5m' },
      config: { externalAuth: { ...DEFAULTS.externalAuth, url: 'http://auth.example/check', cacheKey: '$remote_user$http_authorization', cacheDurations: [{ codes: [200, 202], ms: 600_000 }, { codes: [401], ms: 300_000 }] } },
    },
    {
      name: 'An auth-cache-key with a variable Pier doesn\'t evaluate is ignored with a warning: every request asks the service',
      annotations: { [`${PREFIX}/auth-cache-key`]: '$ssl_client_s_dn' },
      problems: [`InvalidAnnotation ${PREFIX}/auth-cache-key: annotation ${PREFIX}/auth-cache-key: "$ssl_client_s_dn" is invalid (uses $ssl_client_s_dn, which Pier doesn't evaluate (it does $remote_user, $remote_addr, $host, $http_<header>, $cookie_<name>, $arg_<name>, $request_uri, $uri, $scheme...)); ignored: every request asks the auth service`],
    },
    {
      name: 'auth-proxy-set-headers names a ConfigMap of the Ingress\'s namespace, or another with its namespace',
      annotations: { [`${PREFIX}/auth-proxy-set-headers`]: 'auth/headers' },
      config: { externalAuth: { ...DEFAULTS.externalAuth, proxySetHeaders: 'auth/headers' } },
    },
    {
      name: 'An auth-proxy-set-headers value that can\'t be a ConfigMap name closes the location',
      annotations: { [`${PREFIX}/auth-proxy-set-headers`]: 'my headers' },
      config: { externalAuth: { ...DEFAULTS.externalAuth, proxySetHeaders: 'invalid' } },
      problems: [`InvalidAnnotation ${PREFIX}/auth-proxy-set-headers: annotation ${PREFIX}/auth-proxy-set-headers: "my headers" is invalid (must be a ConfigMap name or namespace/name); the location is closed: its requests answer 503 until the value is fixed`],
    },
    {
      name: 'The auth keepalive keys are read as ingress-nginx reads them; a non-positive request count is ignored with a warning',
      annotations: { [`${PREFIX}/auth-keepalive`]: '10', [`${PREFIX}/auth-keepalive-share-vars`]: 'true', [`${PREFIX}/auth-keepalive-requests`]: '0', [`${PREFIX}/auth-keepalive-timeout`]: '30' },
      config: { externalAuth: { ...DEFAULTS.externalAuth, keepalive: { connections: 10, requests: 1000, timeoutSeconds: 30, shareVars: true } } },
      problems: [ignored('auth-keepalive-requests', '0', 'must be more than 0')],
    },
    // rate limits (ingress-nginx's ratelimit parser)
    {
      name: 'limit-rps, limit-rpm, limit-burst-multiplier and limit-whitelist are read as ingress-nginx reads them',
      annotations: { [`${PREFIX}/limit-rps`]: '10', [`${PREFIX}/limit-rpm`]: '300', [`${PREFIX}/limit-burst-multiplier`]: '2', [`${PREFIX}/limit-whitelist`]: '10.0.0.0/8' },
      config: { rateLimits: { rps: 10, rpm: 300, connections: 0, burstMultiplier: 2, allowlist: ['10.0.0.0/8'] } },
    },
    { name: 'limit-connections is a number of requests in progress per client', annotations: { [`${PREFIX}/limit-connections`]: '2' }, config: { rateLimits: { ...DEFAULTS.rateLimits, connections: 2 } } },
    {
      name: 'A negative limit-connections is ignored with a warning',
      annotations: { [`${PREFIX}/limit-connections`]: '-1' },
      problems: [ignored('limit-connections', '-1', 'must be a whole number of requests')],
    },
    {
      name: 'An unreadable limit-allowlist is ignored: the limits then apply to every client',
      annotations: { [`${PREFIX}/limit-rps`]: '1', [`${PREFIX}/limit-allowlist`]: 'office' },
      config: { rateLimits: { ...DEFAULTS.rateLimits, rps: 1 } },
      problems: [`InvalidAnnotation ${PREFIX}/limit-allowlist: annotation ${PREFIX}/limit-allowlist: "office" is invalid ("office" is not an IPv4 or IPv6 address or CIDR); ignored: the limits apply to every client`],
    },
    // canary (ingress-nginx's canary parser; docs/user-guide/nginx-configuration/annotations.md#canary)
    {
      name: 'A canary by header value, cookie and weight, as ingress-nginx\'s docs show them',
      annotations: { [`${PREFIX}/canary`]: 'true', [`${PREFIX}/canary-by-header`]: 'X-Canary', [`${PREFIX}/canary-by-header-value`]: 'us-east', [`${PREFIX}/canary-by-cookie`]: 'canary', [`${PREFIX}/canary-weight`]: '10', [`${PREFIX}/canary-weight-total`]: '1000' },
      config: { canary: { ...DEFAULTS.canary, enabled: true, header: 'X-Canary', headerValue: 'us-east', cookie: 'canary', weight: 10, weightTotal: 1000 } },
    },
    {
      name: 'A canary header pattern RE2 can\'t run is ignored with a warning',
      annotations: { [`${PREFIX}/canary`]: 'true', [`${PREFIX}/canary-by-header`]: 'X-Canary', [`${PREFIX}/canary-by-header-pattern`]: '(a)\\1' },
      config: { canary: { ...DEFAULTS.canary, enabled: true, header: 'X-Canary' } },
      problems: [ignored('canary-by-header-pattern', '(a)\\1', 'it is not a regular expression Pier can match in linear time (RE2 syntax: no backreferences or lookaround): error parsing regexp: invalid escape sequence: `\\1`')],
    },
    {
      name: 'canary-* keys without canary "true" are kept aside (ingress-nginx: "configured but not enabled")',
      annotations: { [`${PREFIX}/canary-weight`]: '50' },
      config: { canary: { ...DEFAULTS.canary, weight: 50 } },
      problems: [`InvalidAnnotation ${PREFIX}/canary-weight: annotation ${PREFIX}/canary-weight is ignored: canary isn't "true" on this Ingress (ingress-nginx refuses it too: "configured but not enabled")`],
    },
    // affinity (sessionaffinity parser)
    {
      name: 'Cookie affinity with every session-cookie key set',
      annotations: {
        [`${PREFIX}/affinity`]: 'cookie', [`${PREFIX}/affinity-mode`]: 'persistent', [`${PREFIX}/session-cookie-name`]: 'route', [`${PREFIX}/session-cookie-path`]: '/app',
        [`${PREFIX}/session-cookie-domain`]: '.example.com', [`${PREFIX}/session-cookie-expires`]: '172800', [`${PREFIX}/session-cookie-max-age`]: '259200',
        [`${PREFIX}/session-cookie-secure`]: 'true', [`${PREFIX}/session-cookie-samesite`]: 'none', [`${PREFIX}/session-cookie-conditional-samesite-none`]: 'true',
        [`${PREFIX}/session-cookie-change-on-failure`]: 'true', [`${PREFIX}/affinity-canary-behavior`]: 'legacy',
      },
      config: {
        affinity: {
          type: 'cookie', mode: 'persistent', canaryBehavior: 'legacy', cookieName: 'route', path: '/app', domain: '.example.com', expiresSeconds: 172_800, maxAgeSeconds: 259_200,
          secure: true, sameSite: 'None', conditionalSameSiteNone: true, changeOnFailure: true,
        },
      },
    },
    {
      name: 'An expiry that isn\'t whole seconds is ignored with a warning, as ingress-nginx\'s affinityCookieExpiresRegex',
      annotations: { [`${PREFIX}/affinity`]: 'cookie', [`${PREFIX}/session-cookie-expires`]: '2d' },
      config: { affinity: { ...DEFAULTS.affinity, type: 'cookie' } },
      problems: [ignored('session-cookie-expires', '2d', 'must be a whole number of seconds (at most 7 digits)')],
    },
    // hashing and balancing (upstreamhashby, loadbalancing)
    {
      name: 'upstream-hash-by with subsets of 4, and ewma',
      annotations: { [`${PREFIX}/upstream-hash-by`]: '$request_uri', [`${PREFIX}/upstream-hash-by-subset`]: 'true', [`${PREFIX}/upstream-hash-by-subset-size`]: '4', [`${PREFIX}/load-balance`]: 'ewma' },
      config: { balancing: { hashBy: '$request_uri', hashBySubset: true, subsetSize: 4, loadBalance: 'ewma' } },
    },
    {
      name: 'A hash key with a variable Pier doesn\'t evaluate is ignored with a warning',
      annotations: { [`${PREFIX}/upstream-hash-by`]: '$binary_remote_addr' },
      problems: [`InvalidAnnotation ${PREFIX}/upstream-hash-by: annotation ${PREFIX}/upstream-hash-by: "$binary_remote_addr" is invalid (uses $binary_remote_addr, which Pier doesn't evaluate); ignored: the load-balance algorithm applies`],
    },
    // source ranges (ipallowlist, ipdenylist)
    { name: 'allowlist-source-range takes IPv4 and IPv6 CIDRs and single addresses', annotations: { [`${PREFIX}/allowlist-source-range`]: '10.0.0.0/8, 192.168.1.7,2001:db8::/32' }, config: { sourceRanges: { allow: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32'], deny: undefined, invalid: [] } } },
    { name: 'whitelist-source-range is the older name of allowlist-source-range', annotations: { [`${PREFIX}/whitelist-source-range`]: '10.0.0.0/8' }, config: { sourceRanges: { allow: ['10.0.0.0/8'], deny: undefined, invalid: [] } } },
    {
      name: 'An invalid source range closes the location, with a warning that says so',
      annotations: { [`${PREFIX}/denylist-source-range`]: '10.0.0.0/33' },
      config: { sourceRanges: { allow: undefined, deny: undefined, invalid: ['denylist-source-range'] } },
      problems: [`InvalidAnnotation ${PREFIX}/denylist-source-range: annotation ${PREFIX}/denylist-source-range: "10.0.0.0/33" is invalid ("10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR); the location is closed: its requests answer 503 until the value is fixed`],
    },
    // timeouts (ingress-nginx's proxy parser: whole seconds; validUpstreamAnnotation)
    {
      name: 'Timeouts are whole seconds',
      annotations: { [`${PREFIX}/proxy-connect-timeout`]: '10', [`${PREFIX}/proxy-read-timeout`]: '3600', [`${PREFIX}/proxy-send-timeout`]: '120' },
      config: { timeouts: { ...TIMEOUTS, connectMs: 10_000, readMs: 3_600_000, sendMs: 120_000 } },
    },
    { name: 'A timeout with a unit is ignored with a warning, as ingress-nginx\'s integer validator does', annotations: { [`${PREFIX}/proxy-read-timeout`]: '60s' }, problems: [ignored('proxy-read-timeout', '60s', 'must be a whole number')] },
    { name: 'A timeout of 0 is ignored with a warning', annotations: { [`${PREFIX}/proxy-connect-timeout`]: '0' }, problems: [ignored('proxy-connect-timeout', '0', 'must be a whole number of seconds above 0')] },
    {
      name: 'proxy-next-upstream lists its conditions; tries and timeout are numbers',
      annotations: { [`${PREFIX}/proxy-next-upstream`]: 'error timeout http_502 http_503', [`${PREFIX}/proxy-next-upstream-tries`]: '5', [`${PREFIX}/proxy-next-upstream-timeout`]: '10' },
      config: { timeouts: { ...TIMEOUTS, nextUpstream: ['error', 'timeout', 'http_502', 'http_503'], nextUpstreamTries: 5, nextUpstreamTimeoutMs: 10_000 } },
    },
    { name: 'proxy-next-upstream "off" is no condition at all', annotations: { [`${PREFIX}/proxy-next-upstream`]: 'off' }, config: { timeouts: { ...TIMEOUTS, nextUpstream: [] } } },
    {
      name: 'A proxy-next-upstream condition nginx doesn\'t know is ignored with a warning',
      annotations: { [`${PREFIX}/proxy-next-upstream`]: 'error http_418' },
      problems: [ignored('proxy-next-upstream', 'error http_418', 'must be "off" or some of: error timeout invalid_header http_500 http_502 http_503 http_504 http_403 http_404 http_429 non_idempotent')],
    },
    // backend
    { name: 'upstream-vhost names the Host sent upstream', annotations: { [`${PREFIX}/upstream-vhost`]: 'internal.example.com:8080' }, config: { upstreamVhost: { host: 'internal.example.com:8080' } } },
    {
      name: 'An upstream-vhost with an nginx variable is ignored with a warning',
      annotations: { [`${PREFIX}/upstream-vhost`]: '$host' },
      problems: [ignored('upstream-vhost', '$host', 'must be a host name, optionally with :port (nginx variables are not evaluated by Pier)')],
    },
    {
      name: 'A key no one documents is reported as a likely typo',
      annotations: { [`${PREFIX}/ssl-redirects`]: 'false' },
      problems: ['UnsupportedAnnotation nginx.ingress.kubernetes.io/ssl-redirects: annotation nginx.ingress.kubernetes.io/ssl-redirects is not one ingress-nginx documents or Pier knows (a typo?); ignored'],
    },
    { name: 'Keys under other prefixes are not Pier\'s business', annotations: { 'kubernetes.io/ingress.class': 'pier', 'cert-manager.io/cluster-issuer': 'letsencrypt', 'nginx.ingress.kubernetes.io.example/x': 'y' } },
    {
      name: 'The prefix is --annotations-prefix: the default prefix is then someone else\'s',
      prefix: 'pier.dev',
      annotations: { 'pier.dev/use-regex': 'true', [`${PREFIX}/use-regex`]: 'false', 'pier.dev/server-snippet': 'x' },
      config: { useRegex: { useRegex: true } },
      problems: [`RefusedAnnotation pier.dev/server-snippet: annotation pier.dev/server-snippet is refused: Pier never runs configuration text from an Ingress (snippets are how ingress-nginx's worst CVEs happened); ignored`],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const { config, problems } = readAnnotations(ingressWith(testCase.annotations), testCase.prefix ?? PREFIX);
      assert.deepEqual(config, { ...DEFAULTS, ...testCase.config });
      assert.deepEqual(problems.map((problem) => `${problem.reason} ${problem.key}: ${problem.message}`), testCase.problems ?? []);
    });
  }

  // ingress-nginx's authreq TestCacheDurationAnnotations and TestParseStringToCacheDurations, in Pier's terms.
  const durationCases: { value: string; durations: unknown }[] = [
    { value: '', durations: DEFAULTS.externalAuth.cacheDurations },
    { value: '  ', durations: DEFAULTS.externalAuth.cacheDurations },
    { value: '5m', durations: [{ ms: 300_000 }] },
    { value: '200 202 10m, 401 5m', durations: [{ codes: [200, 202], ms: 600_000 }, { codes: [401], ms: 300_000 }] },
    { value: ',5m,,401 10m,', durations: [{ ms: 300_000 }, { codes: [401], ms: 600_000 }] },
    { value: '200 202 401 5m, 418 30m', durations: [{ codes: [200, 202, 401], ms: 300_000 }, { codes: [418], ms: 1_800_000 }] },
    { value: 'any 1h 30m', durations: [{ codes: 'any', ms: 5_400_000 }] },
    { value: '200', durations: undefined },
    { value: '5m, xaxax', durations: undefined },
    { value: '5m 200', durations: undefined },
    { value: ',200,', durations: undefined },
  ];
  for (const { value, durations } of durationCases) {
    it(`auth-cache-duration "${value}" is ${durations === undefined ? 'invalid, which closes the location' : 'read as nginx\'s proxy_cache_valid lines'}`, () => {
      const { config, problems } = readAnnotations(ingressWith({ [`${PREFIX}/auth-url`]: 'http://auth.example/', [`${PREFIX}/auth-cache-duration`]: value }), PREFIX);
      assert.deepEqual(config.externalAuth.cacheDurations, durations);
      assert.equal(problems.length, durations === undefined ? 1 : 0);
    });
  }

  it('reads each Ingress object once: the same object gives the same reading, a changed copy a new one', () => {
    const cache = new AnnotationCache();
    const ingress = ingressWith({ [`${PREFIX}/use-regex`]: 'true' });
    const first = cache.read(ingress, PREFIX);
    assert.equal(cache.read(ingress, PREFIX), first);
    const changed = ingressWith({ [`${PREFIX}/use-regex`]: 'false' });
    assert.notEqual(cache.read(changed, PREFIX), first);
    assert.equal(cache.read(changed, PREFIX).config.useRegex.useRegex, false);
    assert.notEqual(cache.read(ingress, 'pier.dev'), first, 'another prefix is another reading');
  });
});

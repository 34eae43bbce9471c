// What each key the families read takes (its value's shape, for the chart's admission policy) and,
// where Pier's behaviour differs from ingress-nginx's, how (for `pier audit`). A test holds this
// table to FAMILIES key for key, so the policy, the audit and the route engine can't drift apart.

/** The shape of an annotation's value, as the admission policy checks it without I/O. */
export type ValueKind =
  | { readonly kind: 'boolean' }
  /** A whole number, 0 or more (counts, seconds, weights). */
  | { readonly kind: 'count' }
  /** An nginx size: bytes, or a number with k, m or g. */
  | { readonly kind: 'size' }
  /** Comma-separated IPv4/IPv6 addresses or CIDRs. */
  | { readonly kind: 'cidrs' }
  /** One HTTP status code. */
  | { readonly kind: 'status' }
  /** Comma-separated HTTP status codes. */
  | { readonly kind: 'statuses' }
  /** An http:// or https:// URL. */
  | { readonly kind: 'url' }
  /** nginx proxy_cache_valid lines, comma-separated (auth-cache-duration). */
  | { readonly kind: 'cacheDuration' }
  /** One of these values (compared without case when `anyCase`). */
  | { readonly kind: 'oneOf'; readonly values: readonly string[]; readonly anyCase?: boolean }
  /** Free text (names, paths, templates): only control characters are refused, as for every key. */
  | { readonly kind: 'text' };

export interface KeyFacts {
  readonly value: ValueKind;
  /** How Pier's behaviour differs from ingress-nginx's for this key; absent when it doesn't. */
  readonly differs?: string;
}

const boolean: KeyFacts = { value: { kind: 'boolean' } };
const count: KeyFacts = { value: { kind: 'count' } };
const text: KeyFacts = { value: { kind: 'text' } };
const cidrs: KeyFacts = { value: { kind: 'cidrs' } };
const status: KeyFacts = { value: { kind: 'status' } };
const oneOf = (values: readonly string[], anyCase = false): KeyFacts => ({ value: { kind: 'oneOf', values, anyCase } });

export const KEY_FACTS: Readonly<Record<string, KeyFacts>> = {
  'use-regex': boolean,
  'rewrite-target': { value: { kind: 'text' }, differs: 'dot segments in the rewritten path are resolved (/a/../b is sent as /b)' },
  'app-root': text,
  'x-forwarded-prefix': text,
  'permanent-redirect': { value: { kind: 'url' } },
  'permanent-redirect-code': status,
  'temporal-redirect': { value: { kind: 'url' } },
  'temporal-redirect-code': status,
  'from-to-www-redirect': boolean,
  'ssl-redirect': boolean,
  'force-ssl-redirect': boolean,
  'preserve-trailing-slash': boolean,
  'backend-protocol': oneOf(['HTTP', 'HTTPS', 'GRPC', 'GRPCS', 'AUTO_HTTP', 'FCGI', 'AJP'], true),
  'upstream-vhost': text,
  'service-upstream': boolean,
  'proxy-body-size': { value: { kind: 'size' }, differs: 'a chunked body is streamed and cut at the limit (nginx buffers it and answers 413 before the backend sees it)' },
  'proxy-connect-timeout': count,
  'proxy-read-timeout': count,
  'proxy-send-timeout': count,
  'proxy-next-upstream': { value: { kind: 'text' }, differs: 'a request whose body Pier started to stream is never sent again (nginx buffers bodies)' },
  'proxy-next-upstream-tries': count,
  'proxy-next-upstream-timeout': count,
  'custom-http-errors': { value: { kind: 'statuses' }, differs: 'the error backend gets no request body, and WebSocket upgrades are not intercepted' },
  'default-backend': text,
  'enable-cors': boolean,
  'cors-allow-origin': { value: { kind: 'text' }, differs: 'origins are matched from the start too (nginx\'s regex isn\'t anchored there); a WebSocket\'s 101 gets no CORS headers' },
  'cors-allow-methods': text,
  'cors-allow-headers': text,
  'cors-allow-credentials': boolean,
  'cors-expose-headers': text,
  'cors-max-age': count,
  'whitelist-source-range': cidrs,
  'allowlist-source-range': cidrs,
  'denylist-source-range': cidrs,
  'auth-type': oneOf(['basic', 'digest']),
  'auth-secret': text,
  'auth-secret-type': oneOf(['auth-file', 'auth-map']),
  'auth-realm': text,
  'auth-url': { value: { kind: 'url' } },
  'auth-method': oneOf(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']),
  'auth-signin': text,
  'auth-signin-redirect-param': text,
  'auth-response-headers': text,
  'auth-request-redirect': text,
  'auth-always-set-cookie': boolean,
  'auth-cache-key': text,
  'auth-cache-duration': { value: { kind: 'cacheDuration' }, differs: 'Expires and X-Accel-Expires on the auth answer are not read' },
  'auth-proxy-set-headers': { value: { kind: 'text' }, differs: 'pier controller reads the ConfigMap only with --enable-auth-proxy-set-headers' },
  'auth-keepalive': { value: { kind: 'count' }, differs: 'checked, not applied: Pier keeps connections to the auth service alive in any case' },
  'auth-keepalive-requests': { value: { kind: 'count' }, differs: 'checked, not applied' },
  'auth-keepalive-timeout': { value: { kind: 'count' }, differs: 'checked, not applied' },
  'auth-keepalive-share-vars': { value: { kind: 'boolean' }, differs: 'checked, not applied' },
  'limit-rps': count,
  'limit-rpm': count,
  'limit-connections': count,
  'limit-burst-multiplier': count,
  'limit-allowlist': cidrs,
  'limit-whitelist': cidrs,
  'server-alias': text,
  canary: { value: { kind: 'boolean' }, differs: 'the canary attaches to its path\'s route only (ingress-nginx attaches it to the main Service\'s upstream, which its other paths share); a canary\'s spec.defaultBackend is not supported' },
  'canary-by-header': text,
  'canary-by-header-value': text,
  'canary-by-header-pattern': { value: { kind: 'text' }, differs: 'RE2 syntax: no backreferences or lookaround' },
  'canary-by-cookie': text,
  'canary-weight': count,
  'canary-weight-total': count,
  affinity: { value: { kind: 'oneOf', values: ['cookie'] }, differs: 'per route (ingress-nginx: per upstream); cookie values are Pier\'s, so sessions from ingress-nginx start over once' },
  'affinity-mode': oneOf(['balanced', 'persistent']),
  'affinity-canary-behavior': oneOf(['sticky', 'legacy']),
  'session-cookie-name': text,
  'session-cookie-path': text,
  'session-cookie-domain': text,
  'session-cookie-expires': count,
  'session-cookie-max-age': count,
  'session-cookie-secure': boolean,
  'session-cookie-samesite': oneOf(['None', 'Lax', 'Strict'], true),
  'session-cookie-conditional-samesite-none': boolean,
  'session-cookie-change-on-failure': boolean,
  'upstream-hash-by': text,
  'upstream-hash-by-subset': boolean,
  'upstream-hash-by-subset-size': count,
  'ssl-passthrough': { value: { kind: 'boolean' }, differs: 'needs --enable-ssl-passthrough, as in ingress-nginx; Pier peeks at the ClientHello on the HTTPS port itself (no second TLS hop through a local port)' },
  'load-balance': { value: { kind: 'oneOf', values: ['round_robin', 'ewma'] }, differs: 'ewma averages the whole attempt\'s time (ingress-nginx: connect and header times)' },
};

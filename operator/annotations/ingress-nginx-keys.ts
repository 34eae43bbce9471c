// The annotation keys ingress-nginx documents (docs/user-guide/nginx-configuration/annotations.md,
// without the prefix), by the family its docs list them under. Pier names a key from this list that
// it doesn't implement as "not supported yet", and any other key under the prefix as unknown.

export const INGRESS_NGINX_KEYS: Readonly<Record<string, readonly string[]>> = {
  rewrite: ['rewrite-target', 'use-regex', 'app-root', 'x-forwarded-prefix', 'enable-rewrite-log'],
  redirects: ['permanent-redirect', 'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code', 'from-to-www-redirect'],
  'TLS redirect': ['ssl-redirect', 'force-ssl-redirect', 'preserve-trailing-slash'],
  'body size and buffering': [
    'proxy-body-size', 'client-body-buffer-size', 'proxy-buffering', 'proxy-buffers-number', 'proxy-buffer-size',
    'proxy-max-temp-file-size', 'proxy-request-buffering',
  ],
  timeouts: ['proxy-connect-timeout', 'proxy-read-timeout', 'proxy-send-timeout', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout'],
  backend: ['backend-protocol', 'upstream-vhost', 'service-upstream', 'proxy-http-version', 'connection-proxy-header', 'custom-headers'],
  'backend TLS': ['proxy-ssl-secret', 'proxy-ssl-ciphers', 'proxy-ssl-name', 'proxy-ssl-protocols', 'proxy-ssl-verify', 'proxy-ssl-verify-depth', 'proxy-ssl-server-name'],
  'proxy rewriting': ['proxy-cookie-domain', 'proxy-cookie-path', 'proxy-redirect-from', 'proxy-redirect-to'],
  errors: ['custom-http-errors', 'default-backend'],
  aliases: ['server-alias'],
  CORS: ['enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-allow-credentials', 'cors-expose-headers', 'cors-max-age'],
  'source ranges': ['whitelist-source-range', 'allowlist-source-range', 'denylist-source-range'],
  'external auth': [
    'auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect',
    'auth-cache-key', 'auth-cache-duration', 'auth-always-set-cookie', 'auth-proxy-set-headers', 'auth-keepalive',
    'auth-keepalive-requests', 'auth-keepalive-timeout', 'auth-keepalive-share-vars', 'enable-global-auth', 'auth-snippet',
  ],
  'basic auth': ['auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm', 'satisfy'],
  'client certificates': ['auth-tls-secret', 'auth-tls-verify-depth', 'auth-tls-verify-client', 'auth-tls-error-page', 'auth-tls-pass-certificate-to-upstream', 'auth-tls-match-cn'],
  'rate limits': ['limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-whitelist', 'limit-allowlist', 'limit-rate', 'limit-rate-after'],
  'global rate limits': ['global-rate-limit', 'global-rate-limit-window', 'global-rate-limit-key', 'global-rate-limit-ignored-cidrs'],
  affinity: [
    'affinity', 'affinity-mode', 'affinity-canary-behavior', 'session-cookie-name', 'session-cookie-path', 'session-cookie-domain',
    'session-cookie-expires', 'session-cookie-max-age', 'session-cookie-secure', 'session-cookie-samesite',
    'session-cookie-conditional-samesite-none', 'session-cookie-change-on-failure',
  ],
  canary: ['canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'],
  balancing: ['upstream-hash-by', 'upstream-hash-by-subset', 'upstream-hash-by-subset-size', 'load-balance'],
  'SSL passthrough': ['ssl-passthrough'],
  'TLS settings': ['ssl-ciphers', 'ssl-prefer-server-ciphers'],
  observability: ['enable-access-log', 'enable-opentelemetry', 'opentelemetry-trust-incoming-span', 'enable-opentracing', 'opentracing-trust-incoming-span', 'enable-influxdb', 'influxdb-measurement', 'influxdb-port', 'influxdb-host', 'influxdb-server-name'],
  'web application firewall': ['enable-modsecurity', 'enable-owasp-core-rules', 'modsecurity-transaction-id', 'modsecurity-snippet'],
  mirroring: ['mirror-target', 'mirror-request-body', 'mirror-host'],
  'HTTP/2 push': ['http2-push-preload'],
  snippets: ['configuration-snippet', 'server-snippet', 'stream-snippet'],
};

/** The family a documented key belongs to, or undefined for a key ingress-nginx doesn't document. */
export function ingressNginxFamilyOf(name: string): string | undefined {
  for (const [family, keys] of Object.entries(INGRESS_NGINX_KEYS)) if (keys.includes(name)) return family;
  return undefined;
}

/** Keys whose value is nginx configuration text (every `*-snippet`). Pier never runs them: they are refused. */
export const SNIPPET_KEYS: ReadonlySet<string> = new Set(Object.values(INGRESS_NGINX_KEYS).flat().filter((name) => name.endsWith('-snippet')));

// The route table's contract: what the operator computes and the data plane compiles. Plain,
// serializable data (a worker receives it over IPC), owned by the data plane: the operator imports
// it from here, and nothing in proxy/ imports the operator.

/** How a route's path is compared with the request path. */
export type MatchKind = 'exact' | 'prefix' | 'regex';

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Endpoint {
  /** An IP address, or a DNS name for ExternalName services. */
  readonly address: string;
  readonly port: number;
}

/**
 * How Pier talks to a backend: the backend-protocol annotation's values, as ingress-nginx names
 * them. AUTO_HTTP is HTTPS for a request that came over HTTPS and HTTP otherwise (nginx's `$scheme://`).
 */
export const BACKEND_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPCS', 'AUTO_HTTP'] as const;
export type BackendProtocol = (typeof BACKEND_PROTOCOLS)[number];
/** What a request actually speaks to its backend: AUTO_HTTP resolved. */
export type WireProtocol = Exclude<BackendProtocol, 'AUTO_HTTP'>;

/** The protocol a request to a route of `protocol` speaks, having come in over HTTPS or not. */
export function wireProtocol(protocol: BackendProtocol, secure: boolean): WireProtocol {
  return protocol === 'AUTO_HTTP' ? (secure ? 'HTTPS' : 'HTTP') : protocol;
}

export interface UpstreamSpec {
  /** `namespace/service:port`, shared by every route to the same Service port, whatever protocol each speaks. */
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  /** The Service port's name or number, as the Ingress referred to it. */
  readonly servicePort: string;
  readonly endpoints: readonly Endpoint[];
}

/**
 * What an Ingress's annotations ask of one location (a route, or an Ingress's default backend).
 * Every field is optional and absent means ingress-nginx's default, so a route without
 * annotations carries none and compiles to no stages.
 */
export interface LocationPolicy {
  /** Plain-HTTP requests get a redirect to https (ssl-redirect / force-ssl-redirect). Absent means no. */
  readonly httpsRedirect?: boolean;
  /** preserve-trailing-slash: the https redirect keeps a trailing `/`. */
  readonly preserveTrailingSlash?: boolean;
  /** How requests reach the upstream (backend-protocol). Absent means HTTP (HTTP/1.1 in clear). */
  readonly protocol?: BackendProtocol;
  /** rewrite-target (and x-forwarded-prefix). */
  readonly rewrite?: RewritePolicy;
  /** app-root: a request for `/` gets a 302 to this path. */
  readonly appRoot?: string;
  /** permanent-redirect / temporal-redirect: every request is answered with this redirect. */
  readonly redirect?: RedirectPolicy;
  /** proxy-body-size in bytes; 0 is unlimited. Absent: the table's (ConfigMap proxy-body-size, 1m). */
  readonly bodySizeLimit?: number;
  /** upstream-vhost: the Host header sent upstream. */
  readonly upstreamVhost?: string;
  /** proxy-connect/read/send-timeout; a field left out is the table's. */
  readonly timeouts?: TimeoutPolicy;
  /** proxy-next-upstream, -tries, -timeout. Absent: the table's. */
  readonly nextUpstream?: NextUpstreamPolicy;
  /** custom-http-errors (annotation, else the ConfigMap's). */
  readonly customErrors?: CustomErrorsPolicy;
  /** allowlist-source-range / denylist-source-range (annotation, else the ConfigMap's): CIDRs. */
  readonly sourceRanges?: { readonly allow?: readonly string[]; readonly deny?: readonly string[] };
  /** Why the location is closed (an annotation that guards it is invalid): every request answers 503. */
  readonly closed?: string;
  /** enable-cors and its settings. */
  readonly cors?: CorsPolicy;
  /** auth-type: basic, with the users of its Secret. */
  readonly basicAuth?: BasicAuthPolicy;
  /** limit-rps, limit-rpm (with limit-burst-multiplier) and limit-allowlist. */
  readonly rateLimit?: RateLimitPolicy;
  /** limit-connections (with limit-allowlist). */
  readonly connectionLimit?: ConnectionLimitPolicy;
  /** auth-url and its companions: a sub-request decides. */
  readonly externalAuth?: ExternalAuthPolicy;
  /** A canary Ingress attached to this route: some requests go to its upstream instead. */
  readonly canary?: CanaryPolicy;
  /** affinity: cookie: a session's requests go back to its endpoint. */
  readonly affinity?: AffinityPolicy;
  /** upstream-hash-by: the endpoint is a consistent hash of this key (nginx variables), or of its subset. */
  readonly hashBy?: { readonly key: string; readonly subsetSize?: number };
  /** load-balance (annotation, else the ConfigMap's) when it isn't round_robin. */
  readonly loadBalance?: 'ewma';
}

/** How a request is sent to the canary instead (ingress-nginx's traffic shaping policy): header, then cookie, then weight. */
export interface CanaryPolicy {
  readonly upstream: string;
  /** The canary Ingress. */
  readonly ingress: ObjectRef;
  readonly header?: string;
  /** With header: only this value sends the request to the canary (else `always` / `never`). */
  readonly headerValue?: string;
  /** With header and no value: a value this RE2 pattern finds sends it to the canary. */
  readonly headerPattern?: string;
  readonly cookie?: string;
  /** Out of weightTotal: the share of the remaining requests that go to the canary. */
  readonly weight: number;
  readonly weightTotal: number;
  /** The canary's own affinity: the main route's (affinity-canary-behavior sticky), the canary Ingress's (legacy), or none. */
  readonly affinity?: AffinityPolicy;
}

export interface AffinityPolicy {
  readonly mode: 'balanced' | 'persistent';
  readonly cookieName: string;
  /** session-cookie-path, else the location's path as written. */
  readonly path: string;
  readonly domain?: string;
  readonly expiresSeconds?: number;
  readonly maxAgeSeconds?: number;
  /** Absent: Secure on HTTPS only. */
  readonly secure?: boolean;
  readonly sameSite?: 'None' | 'Lax' | 'Strict';
  readonly conditionalSameSiteNone?: boolean;
  readonly changeOnFailure?: boolean;
}

export interface ExternalAuthPolicy {
  /** An http(s) URL, without nginx variables. */
  readonly url: string;
  /** auth-method; absent: GET, and no X-Original-URI / X-Scheme. */
  readonly method?: string;
  /** auth-signin: where a 401 redirects (302), with `$host`, `$request_uri`, `$escaped_request_uri`... filled in. */
  readonly signin?: string;
  /** auth-signin-redirect-param (`rd`). */
  readonly signinRedirectParam: string;
  /** auth-response-headers: copied from the auth answer onto the upstream request. */
  readonly responseHeaders: readonly string[];
  /** auth-request-redirect: X-Auth-Request-Redirect instead of the request URI. */
  readonly requestRedirect?: string;
  /** auth-always-set-cookie: the auth answer's Set-Cookie goes on every answer, not only 2xx and 3xx. */
  readonly alwaysSetCookie: boolean;
  /** auth-proxy-set-headers: name/value pairs (values may use nginx-variables.ts's variables) set on the auth sub-request. */
  readonly proxySetHeaders?: readonly string[];
  /** auth-cache-key and auth-cache-duration: verdicts kept per location and key. */
  readonly cache?: AuthCachePolicy;
}

export interface AuthCachePolicy {
  /** Whose entries these are: the Ingress and the location's path. */
  readonly scope: string;
  /** auth-cache-key, with nginx variables (nginx-variables.ts). */
  readonly key: string;
  /** auth-cache-duration: for which statuses, how long; the first that lists a status applies. */
  readonly durations: readonly AuthCacheDuration[];
}

export interface AuthCacheDuration {
  /** Statuses; absent: nginx's 200, 301, 302; `any`: every status. */
  readonly codes?: readonly number[] | 'any';
  readonly ms: number;
}

export interface RateLimitPolicy {
  /** The state's owner: one Ingress's locations share their limits, as ingress-nginx's zones. */
  readonly zone: string;
  /** Requests per second (0: none), and the burst above it. */
  readonly rps: number;
  readonly rpsBurst: number;
  /** Requests per minute (0: none), and the burst above it. */
  readonly rpm: number;
  readonly rpmBurst: number;
  /** Client CIDRs never limited. */
  readonly allowlist: readonly string[];
  /** ConfigMap limit-req-status-code (503). */
  readonly status: number;
}

export interface ConnectionLimitPolicy {
  /** The state's owner: one Ingress's locations share it, as ingress-nginx's zones. */
  readonly zone: string;
  /** limit-connections: requests in progress per client address. */
  readonly connections: number;
  /** Client CIDRs never limited (limit-allowlist). */
  readonly allowlist: readonly string[];
  /** ConfigMap limit-conn-status-code (503). */
  readonly status: number;
}

export interface BasicAuthPolicy {
  readonly realm: string;
  readonly credentials: Credentials;
}

/**
 * Users and their htpasswd hashes. They travel inside the table so the proxy can check them;
 * toJSON hides them so `pier routes --output json` and logs never print a hash.
 */
export class Credentials {
  readonly users: readonly (readonly [string, string])[];

  constructor(users: readonly (readonly [string, string])[]) {
    this.users = users;
    Object.freeze(this);
  }

  toJSON(): string {
    return `(${this.users.length} users, hashes not shown)`;
  }
}

export interface CorsPolicy {
  /** `['*']`, or origins with an optional leading `*.` in the host. */
  readonly origins: readonly string[];
  readonly methods: string;
  readonly headers: string;
  readonly credentials: boolean;
  readonly exposeHeaders: string;
  readonly maxAge: number;
}

export interface CustomErrorsPolicy {
  /** Answers with these statuses, the backend's or the proxy's own, are replaced. */
  readonly codes: readonly number[];
  /** The error backend's upstream id (default-backend, else --default-backend-service), or null for the built-in 404. */
  readonly upstream: string | null;
}

export interface TimeoutPolicy {
  readonly connectMs?: number;
  /** Longest wait for the response head, and between two reads of its body (nginx's proxy_read_timeout). */
  readonly readMs?: number;
  /** Longest time the upstream may take no request body (proxy_send_timeout). */
  readonly sendMs?: number;
}

/** When nginx passes a failed request to the next endpoint (proxy_next_upstream). */
export const NEXT_UPSTREAM_CONDITIONS = ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429', 'non_idempotent'] as const;
export type NextUpstreamCondition = (typeof NEXT_UPSTREAM_CONDITIONS)[number];

export interface NextUpstreamPolicy {
  /** Empty: never (`off`). */
  readonly conditions: readonly NextUpstreamCondition[];
  /** Most attempts in all, 0 for as many as there are endpoints. */
  readonly tries: number;
  /** No further attempt after this long since the first, 0 for no limit. */
  readonly timeoutMs: number;
}

/** ingress-nginx's defaults: `error timeout`, 3 tries, no time limit. */
export const DEFAULT_NEXT_UPSTREAM: NextUpstreamPolicy = Object.freeze({ conditions: Object.freeze(['error', 'timeout'] as const), tries: 3, timeoutMs: 0 });

export interface RewritePolicy {
  /** The regex the target's `$1`..`$9` come from: the route's path, as ingress-nginx's `rewrite "(?i)<path>"`. */
  readonly pattern: string;
  /** The new path, `$n` standing for the pattern's groups; the query is kept. */
  readonly target: string;
  /** x-forwarded-prefix: sent upstream as X-Forwarded-Prefix along with the rewrite. */
  readonly forwardedPrefix?: string;
}

export interface RedirectPolicy {
  /** An absolute http(s) URL, as written. */
  readonly url: string;
  readonly code: number;
}

export interface RouteSpec extends LocationPolicy {
  /** The path as the Ingress wrote it (the regex source for `regex`). */
  readonly path: string;
  readonly match: MatchKind;
  /** The Ingress's pathType, for display. */
  readonly pathType: string;
  readonly upstream: string;
  readonly ingress: ObjectRef;
}

export interface VirtualHostSpec {
  /** Lower-case host, `*.example.com` for a wildcard, or `''` for rules without a host. */
  readonly host: string;
  /** server-alias: more names routed exactly as this host. Absent: none. */
  readonly aliases?: readonly string[];
  readonly routes: readonly RouteSpec[];
  /** Where requests for this host that match no path go: an Ingress defaultBackend, else the global default. */
  readonly fallback: FallbackSpec | null;
}

export interface FallbackSpec extends LocationPolicy {
  readonly upstream: string;
  /** The Ingress whose defaultBackend this is, or null for --default-backend-service. */
  readonly ingress: ObjectRef | null;
}

export interface RouteTableSpec {
  readonly virtualHosts: readonly VirtualHostSpec[];
  /** For requests whose host matches no virtual host and no catch-all path. */
  readonly defaultBackend: FallbackSpec | null;
  readonly upstreams: readonly UpstreamSpec[];
  /** Certificates by SNI host. Absent: no certificates (every handshake gets the default one). */
  readonly tls?: TlsSpec;
  /** How HTTPS behaves (HSTS, redirects), from the controller ConfigMap. Absent: the defaults. */
  readonly https?: HttpsSettings;
  /** ConfigMap enable-underscores-in-headers: client header names with `_` are forwarded. Absent: false. */
  readonly underscoresInHeaders?: boolean;
  /** ConfigMap use-forwarded-headers: a client's X-Forwarded-Proto and -Host are believed (redirects). Absent: false. */
  readonly useForwardedHeaders?: boolean;
  /** ConfigMap proxy-body-size in bytes, 0 unlimited. Absent: 1m, ingress-nginx's default. */
  readonly bodySizeLimit?: number;
  /** from-to-www-redirect: hosts that only redirect to another (`www.` added or removed). */
  readonly hostRedirects?: readonly HostRedirectSpec[];
  /** The ConfigMap's proxy-*-timeout keys. Absent fields: the proxy's own flags. */
  readonly timeouts?: TimeoutPolicy;
  /** The ConfigMap's proxy-next-upstream keys. Absent: DEFAULT_NEXT_UPSTREAM. */
  readonly nextUpstream?: NextUpstreamPolicy;
  /** With use-forwarded-headers: the peers (proxy-real-ip-cidr) whose X-Forwarded-For names the client. Absent: the peer is the client. */
  readonly realIpFrom?: readonly string[];
  /** --tcp-services-configmap and --udp-services-configmap: ports proxied as streams. Absent: none. */
  readonly streams?: readonly StreamSpec[];
  /** ConfigMap proxy-stream-timeout in ms: how long a stream (or a UDP flow) may stay idle. Absent: 600 s. */
  readonly streamTimeoutMs?: number;
  /** ssl-passthrough hosts (with --enable-ssl-passthrough): their TLS connections go to the upstream as they are. Absent: none. */
  readonly passthrough?: readonly PassthroughSpec[];
}

/** One TCP or UDP port of the tcp/udp services ConfigMaps (ingress-nginx's `<port>: <namespace>/<service>:<port>[:PROXY][:PROXY]`). */
export interface StreamSpec {
  readonly protocol: 'TCP' | 'UDP';
  readonly port: number;
  readonly upstream: string;
  /** The first PROXY: clients send a PROXY protocol header (v1 or v2), read before anything is forwarded. */
  readonly acceptProxyProtocol: boolean;
  /** The second PROXY: a PROXY protocol v1 header goes to the backend first, as nginx's proxy_protocol on. */
  readonly sendProxyProtocol: boolean;
}

export interface PassthroughSpec {
  /** Lower-case host, as the ClientHello's server name must name it. */
  readonly host: string;
  readonly upstream: string;
}

/** ingress-nginx's proxy-stream-timeout default, 600 s. */
export const DEFAULT_STREAM_TIMEOUT_MS = 600_000;

/** ingress-nginx's client_max_body_size default, 1m. */
export const DEFAULT_BODY_SIZE_LIMIT = 1024 * 1024;

export interface HostRedirectSpec {
  /** The host redirected from, lower-case. */
  readonly from: string;
  /** The host of the Ingress that asked for it. */
  readonly to: string;
}

/**
 * A certificate and its key. The PEM text travels inside the table so the proxy can compile it
 * on swap; toJSON hides it so `pier routes --output json` and logs never print a private key.
 */
export class KeyMaterial {
  readonly certificatePem: string;
  readonly keyPem: string;

  constructor(certificatePem: string, keyPem: string) {
    this.certificatePem = certificatePem;
    this.keyPem = keyPem;
    Object.freeze(this);
  }

  toJSON(): string {
    return '(PEM not shown)';
  }
}

export interface CertificateSpec {
  /** A hash of the certificate and key: equal material has an equal id, so the proxy can reuse its compiled context. */
  readonly id: string;
  /** The Secret it came from, `namespace/name`. */
  readonly secret: string;
  /** The certificate's subject and DNS names, for display. */
  readonly subject: string;
  readonly notAfter: string;
  readonly material: KeyMaterial;
}

export interface TlsHostSpec {
  /** Lower-case host, or `*.example.com` for a wildcard (it covers exactly one label). */
  readonly host: string;
  /** Id of an entry of TlsSpec.certificates. */
  readonly certificate: string;
}

export interface TlsSpec {
  readonly certificates: readonly CertificateSpec[];
  readonly hosts: readonly TlsHostSpec[];
  /** --default-ssl-certificate, when it is set and valid; otherwise the proxy's own fake certificate. */
  readonly defaultCertificate: string | null;
}

export interface HttpsSettings {
  /** The Strict-Transport-Security value for HTTPS responses, or null for none. */
  readonly hsts: string | null;
  /** The status of http-to-https redirects (ConfigMap http-redirect-code, default 308). */
  readonly redirectCode: number;
  /** Path prefixes that are never redirected (ConfigMap no-tls-redirect-locations), for ACME http-01. */
  readonly noRedirectPrefixes: readonly string[];
}

/** ingress-nginx's defaults, for tables that carry no HttpsSettings: HSTS for a year including subdomains, 308 redirects, ACME exempt. */
export const DEFAULT_HTTPS_SETTINGS: HttpsSettings = Object.freeze({
  hsts: 'max-age=31536000; includeSubDomains',
  redirectCode: 308,
  noRedirectPrefixes: Object.freeze(['/.well-known/acme-challenge']),
});

/** The prefix a Prefix path compares with: without its trailing slash, so `/a/` and `/a` are one rule. */
export function prefixKey(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}

// The controller ConfigMap keys that shape HTTPS, which client headers pass and how large a body
// may be, with ingress-nginx's names and defaults. A bad value is a warning and its default is
// used, so a typo never takes HTTPS down.
import { z } from 'zod';
import type { ConfigMap } from '../model.ts';
import type { HttpsSettings } from './types.ts';
import { sizeText } from '../annotations/schemas.ts';
import { httpErrorList } from '../annotations/errors.ts';
import { loadBalanceText } from '../annotations/balancing.ts';
import { parseCidrList } from '../../proxy/source-ranges.ts';
import { nextUpstreamText, nonNegativeSecondsText, secondsText, triesText } from '../annotations/timeouts.ts';
import { DEFAULT_BODY_SIZE_LIMIT, DEFAULT_NEXT_UPSTREAM, type NextUpstreamPolicy, type TimeoutPolicy } from '../../proxy/route-spec.ts';

/** ingress-nginx's defaults: HSTS on for a year including subdomains, no preload; 308 redirects. */
const DEFAULT_HSTS_MAX_AGE_SECONDS = 31_536_000;
const DEFAULT_REDIRECT_CODE = 308;
const DEFAULT_NO_REDIRECT_LOCATIONS = '/.well-known/acme-challenge';

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');
const KEYS = {
  hsts: flag.default(true),
  'hsts-max-age': z.string().regex(/^\d+$/, 'must be a number of seconds').transform(Number).default(DEFAULT_HSTS_MAX_AGE_SECONDS),
  'hsts-include-subdomains': flag.default(true),
  'hsts-preload': flag.default(false),
  'ssl-redirect': flag.default(true),
  'force-ssl-redirect': flag.default(false),
  'http-redirect-code': z.enum(['301', '302', '307', '308']).transform(Number).default(DEFAULT_REDIRECT_CODE),
  'no-tls-redirect-locations': z.string().default(DEFAULT_NO_REDIRECT_LOCATIONS),
  'enable-underscores-in-headers': flag.default(false),
  'use-forwarded-headers': flag.default(false),
  'proxy-body-size': sizeText.default(DEFAULT_BODY_SIZE_LIMIT),
  // Absent, the proxy's own --proxy-*-timeout flags apply (ingress-nginx's 5 s, 60 s, 60 s by default).
  'proxy-connect-timeout': secondsText.optional(),
  'proxy-read-timeout': secondsText.optional(),
  'proxy-send-timeout': secondsText.optional(),
  'proxy-next-upstream': nextUpstreamText.default([...DEFAULT_NEXT_UPSTREAM.conditions]),
  'proxy-next-upstream-tries': triesText.default(DEFAULT_NEXT_UPSTREAM.tries),
  'proxy-next-upstream-timeout': nonNegativeSecondsText.default(DEFAULT_NEXT_UPSTREAM.timeoutMs),
  'retry-non-idempotent': flag.default(false),
  'custom-http-errors': httpErrorList.default([]),
  // Read as text here: a bad list must close locations, not fall back to "allow all" (see sourceRangeSettings).
  'whitelist-source-range': z.string().optional(),
  'denylist-source-range': z.string().optional(),
  'proxy-real-ip-cidr': z.string().optional(),
  'limit-req-status-code': z.string().regex(/^[45]\d\d$/, 'must be a 4xx or 5xx status').transform(Number).default(503),
  'limit-conn-status-code': z.string().regex(/^[45]\d\d$/, 'must be a 4xx or 5xx status').transform(Number).default(503),
  'allow-cross-namespace-resources': flag.default(false),
  'load-balance': loadBalanceText.default('round_robin'),
  // nginx's time: 600s, 10m, 1h (ingress-nginx's default 600s).
  'proxy-stream-timeout': z.string().regex(/^\d+(ms|s|m|h)?$/, 'must be a time such as 600s or 10m').transform((value) => {
    const [, amount = '0', unit = 's'] = /^(\d+)(ms|s|m|h)?$/.exec(value) ?? [];
    return Number(amount) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]!;
  }).default(600_000),
} as const;

type Values = { [K in keyof typeof KEYS]: z.output<(typeof KEYS)[K]> };

export interface ControllerSettings {
  readonly https: HttpsSettings;
  /** ConfigMap ssl-redirect: whether hosts with TLS redirect unless an Ingress says otherwise. */
  readonly sslRedirect: boolean;
  /** ConfigMap force-ssl-redirect: whether every host redirects unless an Ingress says otherwise. */
  readonly forceSslRedirect: boolean;
  /** ConfigMap enable-underscores-in-headers: client header names with `_` are forwarded. */
  readonly underscoresInHeaders: boolean;
  /** ConfigMap use-forwarded-headers: a client's X-Forwarded-Proto/-Host/-Port are believed in redirects. */
  readonly useForwardedHeaders: boolean;
  /** ConfigMap proxy-body-size in bytes (0: no limit). */
  readonly bodySizeLimit: number;
  /** ConfigMap proxy-*-timeout, the keys it sets. */
  readonly timeouts: TimeoutPolicy;
  /** ConfigMap proxy-next-upstream keys (retry-non-idempotent adds non_idempotent). */
  readonly nextUpstream: NextUpstreamPolicy;
  /** ConfigMap retry-non-idempotent. */
  readonly retryNonIdempotent: boolean;
  /** ConfigMap custom-http-errors: every location's, unless an annotation lists its own. */
  readonly customHttpErrors: readonly number[];
  /** ConfigMap whitelist-source-range and denylist-source-range: every location's, unless an annotation sets its own. */
  readonly sourceRanges: GlobalSourceRanges;
  /** With use-forwarded-headers, the peers trusted to name the client (proxy-real-ip-cidr, default 0.0.0.0/0); else null. */
  readonly realIpFrom: readonly string[] | null;
  /** ConfigMap limit-req-status-code: the answer to a rate-limited request. */
  readonly limitReqStatus: number;
  /** ConfigMap limit-conn-status-code: the answer to a request over limit-connections. */
  readonly limitConnStatus: number;
  /** ConfigMap proxy-stream-timeout in ms: the idle time after which a stream or UDP flow ends. */
  readonly streamTimeoutMs: number;
  /** ConfigMap load-balance: every location's algorithm unless an annotation names its own. */
  readonly loadBalance: 'round_robin' | 'ewma';
  /** ConfigMap allow-cross-namespace-resources: annotations may name a Secret or ConfigMap of another namespace. */
  readonly crossNamespaceResources: boolean;
}

/** A ConfigMap CIDR list: its CIDRs, or `invalid` when it can't be read (then it closes the locations it applies to). */
export type CidrListSetting = { readonly cidrs: readonly string[] } | { readonly invalid: string };

export interface GlobalSourceRanges {
  readonly allow: CidrListSetting;
  readonly deny: CidrListSetting;
}

/** ingress-nginx's proxy-real-ip-cidr default: every IPv4 peer is trusted once use-forwarded-headers is on. */
const DEFAULT_REAL_IP_CIDR = ['0.0.0.0/0'];

function cidrSetting(key: string, text: string | undefined, problems: string[]): CidrListSetting {
  const parsed = parseCidrList(text ?? '');
  if (parsed.ok) return { cidrs: parsed.cidrs };
  problems.push(`${key}: "${text}" is invalid (${parsed.error}); every location without its own list answers 503 until it is fixed`);
  return { invalid: key };
}

/** proxy-real-ip-cidr: a bad list trusts no peer (the peer is the client), never every one. */
function realIpSetting(enabled: boolean, text: string | undefined, problems: string[]): readonly string[] | null {
  if (!enabled) return null;
  if (text === undefined) return DEFAULT_REAL_IP_CIDR;
  const parsed = parseCidrList(text);
  if (parsed.ok) return parsed.cidrs;
  problems.push(`proxy-real-ip-cidr: "${text}" is invalid (${parsed.error}); no peer is trusted to name the client`);
  return [];
}

/** The settings from the ConfigMap's data (absent ConfigMap: all defaults), and a problem per bad key. */
export function controllerSettings(configMap: ConfigMap | undefined): { settings: ControllerSettings; problems: string[] } {
  const data = configMap?.data ?? {};
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(KEYS)) {
    const parsed = (schema as z.ZodType).safeParse(data[key]);
    if (parsed.success) {
      values[key] = parsed.data;
      continue;
    }
    problems.push(`${key}: "${data[key]}" is invalid (${parsed.error.issues.map((issue) => issue.message).join('; ')}); the default is used`);
    values[key] = (schema as z.ZodType).parse(undefined);
  }
  const v = values as Values;
  const hsts = v.hsts ? [`max-age=${v['hsts-max-age']}`, ...(v['hsts-include-subdomains'] ? ['includeSubDomains'] : []), ...(v['hsts-preload'] ? ['preload'] : [])].join('; ') : null;
  return {
    settings: {
      https: {
        hsts,
        redirectCode: v['http-redirect-code'],
        noRedirectPrefixes: v['no-tls-redirect-locations'].split(',').map((location) => location.trim()).filter((location) => location !== ''),
      },
      sslRedirect: v['ssl-redirect'],
      forceSslRedirect: v['force-ssl-redirect'],
      underscoresInHeaders: v['enable-underscores-in-headers'],
      useForwardedHeaders: v['use-forwarded-headers'],
      bodySizeLimit: v['proxy-body-size'],
      timeouts: definedOnly({ connectMs: v['proxy-connect-timeout'], readMs: v['proxy-read-timeout'], sendMs: v['proxy-send-timeout'] }),
      nextUpstream: withNonIdempotent({ conditions: v['proxy-next-upstream'], tries: v['proxy-next-upstream-tries'], timeoutMs: v['proxy-next-upstream-timeout'] }, v['retry-non-idempotent']),
      retryNonIdempotent: v['retry-non-idempotent'],
      customHttpErrors: v['custom-http-errors'],
      sourceRanges: { allow: cidrSetting('whitelist-source-range', v['whitelist-source-range'], problems), deny: cidrSetting('denylist-source-range', v['denylist-source-range'], problems) },
      realIpFrom: realIpSetting(v['use-forwarded-headers'], v['proxy-real-ip-cidr'], problems),
      limitReqStatus: v['limit-req-status-code'],
      limitConnStatus: v['limit-conn-status-code'],
      crossNamespaceResources: v['allow-cross-namespace-resources'],
      loadBalance: v['load-balance'],
      streamTimeoutMs: v['proxy-stream-timeout'],
    },
    problems,
  };
}


/** The object without its undefined fields, so an unset key stays unset in the route table. */
export function definedOnly<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** As ingress-nginx's buildNextUpstream: retry-non-idempotent adds `non_idempotent`, unless retrying is off. */
export function withNonIdempotent(policy: NextUpstreamPolicy, retryNonIdempotent: boolean): NextUpstreamPolicy {
  if (!retryNonIdempotent || policy.conditions.length === 0 || policy.conditions.includes('non_idempotent')) return policy;
  return { ...policy, conditions: [...policy.conditions, 'non_idempotent'] };
}

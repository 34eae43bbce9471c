// The controller ConfigMap keys that shape HTTPS, which client headers pass and how large a body
// may be, with ingress-nginx's names and defaults. A bad value is a warning and its default is
// used, so a typo never takes HTTPS down.
import { z } from 'zod';
import type { ConfigMap } from '../model.ts';
import type { HttpsSettings } from './types.ts';
import { sizeText } from '../annotations/schemas.ts';
import { DEFAULT_BODY_SIZE_LIMIT } from '../../proxy/route-spec.ts';

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
    },
    problems,
  };
}


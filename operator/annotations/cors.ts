// enable-cors and the cors-* keys (ingress-nginx's cors parser): which origins get CORS headers,
// and what those headers say. Values are held to ingress-nginx's validators, so none can carry a
// line break into a response header; an invalid value is ignored with a warning and its default used.
import { z } from 'zod';
import type { CorsPolicy } from '../../proxy/route-spec.ts';
import type { AnnotationFamily } from './family.ts';
import { booleanText, integerText } from './schemas.ts';

/** Whether CORS is on, and what its headers say (the policy the data plane gets). */
export interface CorsConfig extends CorsPolicy {
  readonly enabled: boolean;
}

export const DEFAULT_CORS_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
export const DEFAULT_CORS_HEADERS = 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization';
export const DEFAULT_CORS_MAX_AGE = 1_728_000;

/** One origin as ingress-nginx's corsOriginRegex takes it: scheme://host[:port] with an optional leading `*.`, `*` or `null`. */
const ORIGIN = /^([a-z]+:\/\/(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|\*|null)$/;

/** The list, trimmed; `*` anywhere means any origin (as ingress-nginx stops at it); an entry of another shape is refused. */
const originList = z.string().transform((value, context) => {
  const origins: string[] = [];
  for (const origin of value.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    if (origin === '*') return ['*'];
    if (!ORIGIN.test(origin)) {
      context.addIssue({ code: 'custom', message: `"${origin}" is not an origin (scheme://host[:port], *.domain, * or null)` });
      return z.NEVER;
    }
    origins.push(origin);
  }
  return origins.length > 0 ? origins : ['*'];
});
const headerList = z.string().regex(/^[A-Za-z0-9\-_, ]*$/, 'must be header names separated by commas');
const methodList = z.string().regex(/^([A-Za-z]+,?\s?)+$/, 'must be method names separated by commas');
const exposeList = z.string().regex(/^(([A-Za-z0-9\-_]+|\*),?\s?)+$/, 'must be header names (or *) separated by commas');
const seconds = integerText.refine((value) => value >= 0, 'must be a number of seconds');

export const corsFamily: AnnotationFamily<'cors', CorsConfig> = {
  name: 'cors',
  keys: ['enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-allow-credentials', 'cors-expose-headers', 'cors-max-age'],
  scope: 'location',
  parse: (read) => ({
    enabled: read.get('enable-cors', booleanText) ?? false,
    origins: read.get('cors-allow-origin', originList) ?? ['*'],
    methods: read.get('cors-allow-methods', methodList) ?? DEFAULT_CORS_METHODS,
    headers: read.get('cors-allow-headers', headerList) ?? DEFAULT_CORS_HEADERS,
    credentials: read.get('cors-allow-credentials', booleanText) ?? true,
    exposeHeaders: read.get('cors-expose-headers', exposeList) ?? '',
    maxAge: read.get('cors-max-age', seconds) ?? DEFAULT_CORS_MAX_AGE,
  }),
};

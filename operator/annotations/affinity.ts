// affinity: cookie and its session-cookie-* keys (ingress-nginx's sessionaffinity parser, with
// the defaults of its docs): requests carrying the cookie go back to the endpoint that served the
// session first (proxy/balancing.ts). An invalid value is ignored with a warning and its default
// applies, as ingress-nginx does.
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { booleanText } from './schemas.ts';

export interface AffinityConfig {
  /** `cookie`, or undefined for none. */
  readonly type: 'cookie' | undefined;
  readonly mode: 'balanced' | 'persistent';
  readonly canaryBehavior: 'sticky' | 'legacy';
  readonly cookieName: string;
  readonly path: string | undefined;
  readonly domain: string | undefined;
  /** Seconds from now, written as an `Expires` date. */
  readonly expiresSeconds: number | undefined;
  readonly maxAgeSeconds: number | undefined;
  /** undefined: Secure on HTTPS only. */
  readonly secure: boolean | undefined;
  readonly sameSite: 'None' | 'Lax' | 'Strict' | undefined;
  readonly conditionalSameSiteNone: boolean;
  readonly changeOnFailure: boolean;
}

const DEFAULT_COOKIE_NAME = 'INGRESSCOOKIE';
/** ingress-nginx's affinityCookieExpiresRegex: whole seconds, at most seven digits. */
const seconds = z.string().regex(/^\d{1,7}$/, 'must be a whole number of seconds (at most 7 digits)').transform(Number);
const cookieName = z.string().regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, 'must be a cookie name (a token: letters, digits and !#$%&\'*+-.^_`|~)');
const cookiePath = z.string().regex(/^\/[-._~a-zA-Z0-9/]*$/, 'must be a path starting with "/"');
const domain = z.string().regex(/^\.?[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?$/, 'must be a domain name');
const sameSite = z.string().transform((value, context) => {
  const known = ['None', 'Lax', 'Strict'].find((candidate) => candidate.toLowerCase() === value.toLowerCase());
  if (known !== undefined) return known as 'None' | 'Lax' | 'Strict';
  context.addIssue({ code: 'custom', message: 'must be None, Lax or Strict' });
  return z.NEVER;
});

const affinityType = z.literal('cookie', { message: 'must be "cookie", the one affinity ingress-nginx has' });
const affinityMode = z.enum(['balanced', 'persistent'], { message: 'must be "balanced" or "persistent"' });
const canaryBehavior = z.enum(['sticky', 'legacy'], { message: 'must be "sticky" or "legacy"' });

export const affinityFamily: AnnotationFamily<'affinity', AffinityConfig> = {
  name: 'affinity',
  keys: [
    'affinity', 'affinity-mode', 'affinity-canary-behavior', 'session-cookie-name', 'session-cookie-path', 'session-cookie-domain', 'session-cookie-expires',
    'session-cookie-max-age', 'session-cookie-secure', 'session-cookie-samesite', 'session-cookie-conditional-samesite-none', 'session-cookie-change-on-failure',
  ],
  scope: 'location',
  parse: (read) => ({
    type: read.get('affinity', affinityType, 'ignored: no affinity'),
    mode: read.get('affinity-mode', affinityMode) ?? 'balanced',
    canaryBehavior: read.get('affinity-canary-behavior', canaryBehavior) ?? 'sticky',
    cookieName: read.get('session-cookie-name', cookieName) ?? DEFAULT_COOKIE_NAME,
    path: read.get('session-cookie-path', cookiePath),
    domain: read.get('session-cookie-domain', domain),
    expiresSeconds: read.get('session-cookie-expires', seconds),
    maxAgeSeconds: read.get('session-cookie-max-age', seconds),
    secure: read.get('session-cookie-secure', booleanText),
    sameSite: read.get('session-cookie-samesite', sameSite),
    conditionalSameSiteNone: read.get('session-cookie-conditional-samesite-none', booleanText) ?? false,
    changeOnFailure: read.get('session-cookie-change-on-failure', booleanText) ?? false,
  }),
};

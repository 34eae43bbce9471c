// ssl-redirect and force-ssl-redirect: plain-HTTP requests redirected to HTTPS. Absent, the
// ConfigMap's keys of the same names decide (ingress-nginx's annotation defaults are those keys).
// preserve-trailing-slash keeps the request's trailing `/` in that redirect's Location.
import type { AnnotationFamily } from './family.ts';
import { booleanText } from './schemas.ts';

export interface TlsRedirectConfig {
  /** Redirect when the host has TLS; undefined: the ConfigMap's ssl-redirect. */
  readonly sslRedirect: boolean | undefined;
  /** Redirect whether or not the host has TLS; undefined: the ConfigMap's force-ssl-redirect. */
  readonly forceSslRedirect: boolean | undefined;
  readonly preserveTrailingSlash: boolean;
}

export const tlsRedirectFamily: AnnotationFamily<'tlsRedirect', TlsRedirectConfig> = {
  name: 'tlsRedirect',
  keys: ['ssl-redirect', 'force-ssl-redirect', 'preserve-trailing-slash'],
  scope: 'location',
  parse: (read) => ({
    sslRedirect: read.get('ssl-redirect', booleanText),
    forceSslRedirect: read.get('force-ssl-redirect', booleanText),
    preserveTrailingSlash: read.get('preserve-trailing-slash', booleanText) ?? false,
  }),
};

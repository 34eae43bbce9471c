// ssl-passthrough (ingress-nginx's sslpassthrough parser): with --enable-ssl-passthrough, TLS
// connections for the Ingress's hosts go to the backend of its `/` path as they are; Pier never
// terminates them, so no other annotation applies to them.
import type { AnnotationFamily } from './family.ts';
import { booleanText } from './schemas.ts';

export interface SslPassthroughConfig {
  readonly enabled: boolean;
}

export const sslPassthroughFamily: AnnotationFamily<'sslPassthrough', SslPassthroughConfig> = {
  name: 'sslPassthrough',
  keys: ['ssl-passthrough'],
  scope: 'server',
  parse: (read) => ({ enabled: read.get('ssl-passthrough', booleanText) ?? false }),
};

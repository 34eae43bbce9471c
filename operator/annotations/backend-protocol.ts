// backend-protocol: how Pier talks to this Ingress's backends (ingress-nginx's values; HTTP by default).
import { z } from 'zod';
import { BACKEND_PROTOCOLS, type BackendProtocol } from '../../proxy/route-spec.ts';
import type { AnnotationFamily } from './family.ts';

export interface BackendProtocolConfig {
  readonly protocol: BackendProtocol;
}

const protocol = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .pipe(z.enum(BACKEND_PROTOCOLS, { message: `not supported (use ${BACKEND_PROTOCOLS.join(', ')}); HTTP is used` }));

export const backendProtocolFamily: AnnotationFamily<'backendProtocol', BackendProtocolConfig> = {
  name: 'backendProtocol',
  keys: ['backend-protocol'],
  scope: 'location',
  parse: (read) => ({ protocol: read.get('backend-protocol', protocol) ?? 'HTTP' }),
};

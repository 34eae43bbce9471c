// custom-http-errors and default-backend (ingress-nginx's customhttperrors and defaultbackend
// parsers). Answers with a listed status are replaced by the error backend's answer to `/`; the
// error backend is the default-backend annotation's Service, else --default-backend-service, else
// the built-in 404. default-backend also takes the location's requests while its own Service has
// no ready endpoints.
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';

export interface ErrorsConfig {
  /** Statuses (4xx, 5xx) whose answers go to the error backend; undefined: the ConfigMap's. */
  readonly customHttpErrors: readonly number[] | undefined;
  /** A Service of the Ingress's namespace. */
  readonly defaultBackend: string | undefined;
}

/** ingress-nginx's arrayOfHTTPErrors, spaces removed first: 4xx and 5xx codes, comma-separated. */
export const httpErrorList = z
  .string()
  .transform((value) => value.replace(/\s+/g, ''))
  .refine((value) => /^(?:[45]\d{2},?)*$/.test(value), 'must be 4xx or 5xx status codes, comma-separated')
  .transform((value) => [...new Set(value.split(',').filter((code) => code !== '').map(Number))]);

const serviceName = z.string().trim().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be the name of a Service in the Ingress\'s namespace');

export const errorsFamily: AnnotationFamily<'errors', ErrorsConfig> = {
  name: 'errors',
  keys: ['custom-http-errors', 'default-backend'],
  scope: 'location',
  parse: (read) => ({ customHttpErrors: read.get('custom-http-errors', httpErrorList), defaultBackend: read.get('default-backend', serviceName) }),
};

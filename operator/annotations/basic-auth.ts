// auth-type, auth-secret, auth-secret-type and auth-realm (ingress-nginx's auth parser): basic
// authentication against an htpasswd Secret. The Secret is looked up when routes are computed;
// a missing or unreadable one closes the location (see routes/basic-auth.ts).
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';

export interface BasicAuthConfig {
  /** `basic`, `digest` (which Pier doesn't support: the location closes), or undefined for none. */
  readonly type: 'basic' | 'digest' | undefined;
  /** `name` (the Ingress's namespace) or `namespace/name`. */
  readonly secret: string | undefined;
  /** `auth-file`: an htpasswd file under the key `auth`; `auth-map`: one key per user, the hash as its value. */
  readonly secretType: 'auth-file' | 'auth-map';
  readonly realm: string;
  /** Keys set with a value that can't be used: the location closes rather than open without its guard. */
  readonly invalid: readonly string[];
}

const CLOSED = 'the location is closed: its requests answer 503 until the value is fixed';
const authType = z.enum(['basic', 'digest'], { message: 'must be "basic" or "digest"' });
const secretRef = z.string().trim().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, 'must be a Secret name, or namespace/name');
const secretType = z.enum(['auth-file', 'auth-map'], { message: 'must be "auth-file" or "auth-map"' });
/** The realm goes into a quoted WWW-Authenticate parameter: no quotes, backslashes or control characters. */
const realm = z.string().regex(/^[^"\\\u0000-\u001f\u007f]*$/, 'may not hold quotes, backslashes or control characters');

export const basicAuthFamily: AnnotationFamily<'basicAuth', BasicAuthConfig> = {
  name: 'basicAuth',
  keys: ['auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm'],
  scope: 'location',
  parse: (read) => {
    const type = read.get('auth-type', authType, CLOSED);
    const secret = read.get('auth-secret', secretRef, CLOSED);
    const kind = read.get('auth-secret-type', secretType, CLOSED);
    const invalid = [
      ...(read.has('auth-type') && type === undefined ? ['auth-type'] : []),
      ...(read.has('auth-secret') && secret === undefined ? ['auth-secret'] : []),
      ...(read.has('auth-secret-type') && kind === undefined ? ['auth-secret-type'] : []),
    ];
    return { type, secret, secretType: kind ?? 'auth-file', realm: read.get('auth-realm', realm) ?? '', invalid };
  },
};

// rewrite-target, app-root and x-forwarded-prefix (ingress-nginx's rewrite family; use-regex and
// the TLS-redirect keys it also holds are their own modules here). Values are limited to the
// characters ingress-nginx's validator takes, so none can carry a space, quote or line break.
import type { AnnotationFamily } from './family.ts';
import { pathText } from './schemas.ts';

export interface RewriteConfig {
  /** The path the upstream gets, with `$1`..`$9`; undefined: no rewrite. */
  readonly target: string | undefined;
  /** A request for `/` is redirected (302) here. */
  readonly appRoot: string | undefined;
  /** Sent as X-Forwarded-Prefix with rewritten requests. */
  readonly forwardedPrefix: string | undefined;
}

// Schemas are built once: zod schemas are costly to make, and every Ingress is read through them.
const pathWithCaptures = pathText(true);
const plainPath = pathText(false);
const absolutePath = plainPath.refine((value) => value.startsWith('/'), 'must be a path beginning with "/"');

export const rewriteFamily: AnnotationFamily<'rewrite', RewriteConfig> = {
  name: 'rewrite',
  keys: ['rewrite-target', 'app-root', 'x-forwarded-prefix'],
  scope: 'location',
  parse: (read) => ({
    target: read.get('rewrite-target', pathWithCaptures) || undefined,
    appRoot: read.get('app-root', absolutePath) || undefined,
    forwardedPrefix: read.get('x-forwarded-prefix', plainPath) || undefined,
  }),
};

// Schemas for the value shapes ingress-nginx annotations share.
import { z } from 'zod';

/** What Go's strconv.ParseBool, which ingress-nginx reads boolean annotations with, takes. */
const TRUE_TEXTS: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_TEXTS: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A boolean as ingress-nginx reads one: "true"/"false", and the other spellings ParseBool takes. */
export const booleanText = z.string().transform((value, context) => {
  if (TRUE_TEXTS.has(value)) return true;
  if (FALSE_TEXTS.has(value)) return false;
  context.addIssue({ code: 'custom', message: 'must be "true" or "false"' });
  return z.NEVER;
});

/** ingress-nginx's path characters (its RegexPathWithCapture): no spaces, quotes, `%`, `?`, `#` or line breaks can get through. */
const PATH_CHARACTERS = /^[-._~a-zA-Z0-9/:$]*$/;

/** A `$` that isn't `$1`..`$9`: an nginx variable, which Pier doesn't evaluate. */
const NGINX_VARIABLE = /\$(?![1-9])/;

/** A path as ingress-nginx's rewrite annotations take it; `$1`..`$9` only where `captures` allows them. */
export function pathText(captures: boolean) {
  return z
    .string()
    .regex(PATH_CHARACTERS, 'may hold only letters, digits, "/", ":", "-", ".", "_", "~" and "$1".."$9"')
    .refine((value) => !(captures ? NGINX_VARIABLE : /\$/).test(value), captures ? 'nginx variables are not evaluated by Pier; only $1..$9 (the path\'s groups) are' : 'may not hold "$" (nginx variables are not evaluated by Pier)');
}

/** An nginx size (client_max_body_size): bytes, or a number with k, m or g; in bytes. */
export const sizeText = z
  .string()
  .trim()
  .regex(/^\d+[bkmg]?$/i, 'must be a size such as 1m, 512k or 0')
  .transform((value) => {
    const unit = value.slice(-1).toLowerCase();
    const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
    return Number.parseInt(value, 10) * scale;
  });

/** An integer, as Go's strconv.Atoi reads one. */
export const integerText = z.string().trim().regex(/^[-+]?\d+$/, 'must be a whole number').transform(Number);

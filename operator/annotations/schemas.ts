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

// Schemas for the value shapes ingress-nginx annotations share.
import { z } from 'zod';

/** "true" or "false", nothing else (ingress-nginx's parser.GetBoolAnnotation uses strconv.ParseBool, which also takes 1, t, T, TRUE, True). */
export const booleanText = z
  .string()
  .transform((value, context) => {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
    context.addIssue({ code: 'custom', message: 'must be "true" or "false"' });
    return z.NEVER;
  });

// permanent-redirect, temporal-redirect (and their -code keys) and from-to-www-redirect, as
// ingress-nginx's redirect parser: temporal wins over permanent; a code outside its range is
// replaced by the default (301 permanent, valid 300-308; 302 temporal, valid 300-307).
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { booleanText, integerText } from './schemas.ts';

export interface RedirectConfig {
  /** Every request of the location is answered with this redirect. */
  readonly redirect: { readonly url: string; readonly code: number } | undefined;
  /** `www.<host>` redirects to `<host>`, or `<host>` to `www.<host>`, whichever isn't a rule host. */
  readonly fromToWww: boolean;
}

/** ingress-nginx's URL characters (URLIsValidRegex), then an http or https scheme with a host. */
const redirectUrl = z
  .string()
  .regex(/^[-._~a-zA-Z0-9/:,?&=]*$/, 'may hold only letters, digits and - . _ ~ / : , ? & =')
  .refine((value) => /^https?:\/\/[^/?]+/i.test(value), 'must be an http:// or https:// URL');

function code(range: { readonly min: number; readonly max: number; readonly fallback: number }) {
  return integerText.refine((value) => value >= range.min && value <= range.max, `must be between ${range.min} and ${range.max}; ${range.fallback} is used`);
}

const PERMANENT = { min: 300, max: 308, fallback: 301 };
const TEMPORAL = { min: 300, max: 307, fallback: 302 };
const permanentCode = code(PERMANENT);
const temporalCode = code(TEMPORAL);

export const redirectFamily: AnnotationFamily<'redirect', RedirectConfig> = {
  name: 'redirect',
  keys: ['permanent-redirect', 'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code', 'from-to-www-redirect'],
  scope: 'location',
  parse: (read) => {
    const fromToWww = read.get('from-to-www-redirect', booleanText) ?? false;
    const temporal = read.get('temporal-redirect', redirectUrl);
    const temporalStatus = read.get('temporal-redirect-code', temporalCode) ?? TEMPORAL.fallback;
    const permanent = read.get('permanent-redirect', redirectUrl);
    const permanentStatus = read.get('permanent-redirect-code', permanentCode) ?? PERMANENT.fallback;
    if (temporal) return { redirect: { url: temporal, code: temporalStatus }, fromToWww };
    if (permanent) return { redirect: { url: permanent, code: permanentStatus }, fromToWww };
    return { redirect: undefined, fromToWww };
  },
};

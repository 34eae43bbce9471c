// canary and its traffic rules (ingress-nginx's canary parser): an Ingress with canary "true"
// doesn't serve its paths itself; each attaches to the main Ingress's route of the same host, path
// and pathType (operator/routes/canary.ts), and some of that route's requests go to the canary's
// Service: by header, then cookie, then weight, as ingress-nginx's balancer.lua decides.
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { booleanText, integerText } from './schemas.ts';
import { compileSearchPattern } from '../../proxy/path-regex.ts';

export interface CanaryConfig {
  readonly enabled: boolean;
  readonly header: string | undefined;
  readonly headerValue: string | undefined;
  readonly headerPattern: string | undefined;
  readonly cookie: string | undefined;
  readonly weight: number;
  readonly weightTotal: number;
}

/** ingress-nginx's BasicCharsRegex: what a header or cookie name, or a header value, may hold. */
const basicChars = z.string().regex(/^[/\-.\w~:]*$/, 'may hold only letters, digits, "/", "-", ".", "_", "~" and ":"');
const pattern = z.string().superRefine((value, context) => {
  const compiled = compileSearchPattern(value);
  if (!compiled.ok) context.addIssue({ code: 'custom', message: `${compiled.error}` });
});
const weight = integerText.refine((value) => value >= 0, 'must be a whole number of 0 or more');
const weightTotal = weight.refine((value) => value > 0, 'must be more than 0');
const DEFAULT_WEIGHT_TOTAL = 100;
const TRAFFIC_KEYS = ['canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'];

export const canaryFamily: AnnotationFamily<'canary', CanaryConfig> = {
  name: 'canary',
  keys: ['canary', ...TRAFFIC_KEYS],
  scope: 'location',
  parse: (read) => {
    const enabled = read.get('canary', booleanText) ?? false;
    // ingress-nginx refuses canary-* keys on an Ingress that isn't a canary ("configured but not enabled").
    if (!enabled) for (const key of TRAFFIC_KEYS) read.ignore(key, 'canary isn\'t "true" on this Ingress (ingress-nginx refuses it too: "configured but not enabled")');
    return {
      enabled,
      header: read.get('canary-by-header', basicChars),
      headerValue: read.get('canary-by-header-value', basicChars),
      headerPattern: read.get('canary-by-header-pattern', pattern),
      cookie: read.get('canary-by-cookie', basicChars),
      weight: read.get('canary-weight', weight) ?? 0,
      weightTotal: read.get('canary-weight-total', weightTotal) ?? DEFAULT_WEIGHT_TOTAL,
    };
  },
};

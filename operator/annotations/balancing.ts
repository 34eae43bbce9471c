// upstream-hash-by (with -subset and -subset-size) and load-balance (ingress-nginx's
// upstreamhashby and loadbalancing parsers): how a location's requests are spread over the
// endpoints when no affinity cookie decides (proxy/balancing.ts).
import { z } from 'zod';
import type { AnnotationFamily } from './family.ts';
import { booleanText, integerText } from './schemas.ts';
import { unknownVariables } from '../../proxy/nginx-variables.ts';

export interface BalancingConfig {
  /** The hash key with nginx variables (`$request_uri`, `$remote_addr`, `$http_x_user`, `$cookie_id`...), or undefined. */
  readonly hashBy: string | undefined;
  readonly hashBySubset: boolean;
  readonly subsetSize: number;
  /** undefined: the ConfigMap's load-balance (round_robin). */
  readonly loadBalance: 'round_robin' | 'ewma' | undefined;
}

const DEFAULT_SUBSET_SIZE = 3;
/** ingress-nginx's hashByRegex, and variables Pier evaluates. */
const hashKey = z
  .string()
  .regex(/^[a-zA-Z0-9$_\-{}/:.]+$/, 'may hold only letters, digits, "$", "_", "-", "{", "}", "/", ":" and "."')
  .superRefine((value, context) => {
    const unknown = unknownVariables(value);
    if (unknown.length > 0) context.addIssue({ code: 'custom', message: `uses ${unknown.join(', ')}, which Pier doesn't evaluate` });
  });
const subsetSize = integerText.refine((value) => value >= 1, 'must be 1 or more');
export const loadBalanceText = z.enum(['round_robin', 'ewma'], { message: 'must be "round_robin" or "ewma"' });

export const balancingFamily: AnnotationFamily<'balancing', BalancingConfig> = {
  name: 'balancing',
  keys: ['upstream-hash-by', 'upstream-hash-by-subset', 'upstream-hash-by-subset-size', 'load-balance'],
  scope: 'location',
  parse: (read) => ({
    hashBy: read.get('upstream-hash-by', hashKey, 'ignored: the load-balance algorithm applies'),
    hashBySubset: read.get('upstream-hash-by-subset', booleanText) ?? false,
    subsetSize: read.get('upstream-hash-by-subset-size', subsetSize) ?? DEFAULT_SUBSET_SIZE,
    loadBalance: read.get('load-balance', loadBalanceText),
  }),
};

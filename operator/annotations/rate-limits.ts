// limit-rps, limit-rpm, limit-connections, limit-burst-multiplier and limit-allowlist (or
// limit-whitelist), as ingress-nginx's ratelimit parser: burst = rate × multiplier (5), per client
// address, one zone per Ingress.
import type { AnnotationFamily } from './family.ts';
import { integerText } from './schemas.ts';
import { cidrListText } from './source-ranges.ts';

export interface RateLimitsConfig {
  readonly rps: number;
  readonly rpm: number;
  /** Requests in progress per client address (0: no limit). */
  readonly connections: number;
  readonly burstMultiplier: number;
  /** Client CIDRs never limited; an unreadable list is ignored, so the limits apply to everyone. */
  readonly allowlist: readonly string[];
}

const DEFAULT_BURST_MULTIPLIER = 5;
const rate = integerText.refine((value) => value >= 0, 'must be a whole number of requests');
const multiplier = integerText.refine((value) => value >= 1, 'must be a whole number of 1 or more');

export const rateLimitsFamily: AnnotationFamily<'rateLimits', RateLimitsConfig> = {
  name: 'rateLimits',
  keys: ['limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-allowlist', 'limit-whitelist'],
  scope: 'location',
  parse: (read) => {
    const allowKey = read.has('limit-allowlist') ? 'limit-allowlist' : 'limit-whitelist';
    return {
      rps: read.get('limit-rps', rate) ?? 0,
      rpm: read.get('limit-rpm', rate) ?? 0,
      connections: read.get('limit-connections', rate) ?? 0,
      burstMultiplier: read.get('limit-burst-multiplier', multiplier) ?? DEFAULT_BURST_MULTIPLIER,
      allowlist: read.get(allowKey, cidrListText, 'ignored: the limits apply to every client') ?? [],
    };
  },
};

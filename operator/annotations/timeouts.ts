// proxy-connect-timeout, proxy-read-timeout, proxy-send-timeout (whole seconds, as ingress-nginx
// reads them) and proxy-next-upstream, -tries, -timeout: when a failed attempt is tried again on
// another endpoint. Absent keys take the ConfigMap's values, which take ingress-nginx's defaults.
import { z } from 'zod';
import { NEXT_UPSTREAM_CONDITIONS, type NextUpstreamCondition } from '../../proxy/route-spec.ts';
import type { AnnotationFamily } from './family.ts';
import { integerText } from './schemas.ts';

export interface TimeoutsConfig {
  readonly connectMs: number | undefined;
  readonly readMs: number | undefined;
  readonly sendMs: number | undefined;
  /** proxy-next-upstream's conditions, `off` as an empty list. */
  readonly nextUpstream: readonly NextUpstreamCondition[] | undefined;
  /** 0: as many tries as there are endpoints. */
  readonly nextUpstreamTries: number | undefined;
  /** 0: no limit. */
  readonly nextUpstreamTimeoutMs: number | undefined;
}

/** A timeout in whole seconds (nginx's `10s` as ingress-nginx writes it), in milliseconds. */
export const secondsText = integerText.refine((value) => value > 0, 'must be a whole number of seconds above 0').transform((value) => value * 1000);
export const nonNegativeSecondsText = integerText.refine((value) => value >= 0, 'must be a whole number of seconds').transform((value) => value * 1000);
export const triesText = integerText.refine((value) => value >= 0, 'must be a number of tries (0: no limit)');

/** ingress-nginx's validUpstreamAnnotation: space-separated conditions; `off` alone means never. */
export const nextUpstreamText = z
  .string()
  .trim()
  .refine((value) => value !== '' && value.split(/\s+/).every((token) => token === 'off' || (NEXT_UPSTREAM_CONDITIONS as readonly string[]).includes(token)), `must be "off" or some of: ${NEXT_UPSTREAM_CONDITIONS.join(' ')}`)
  .transform((value) => (value.split(/\s+/).includes('off') ? [] : [...new Set(value.split(/\s+/))]) as NextUpstreamCondition[]);

export const timeoutsFamily: AnnotationFamily<'timeouts', TimeoutsConfig> = {
  name: 'timeouts',
  keys: ['proxy-connect-timeout', 'proxy-read-timeout', 'proxy-send-timeout', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout'],
  scope: 'location',
  parse: (read) => ({
    connectMs: read.get('proxy-connect-timeout', secondsText),
    readMs: read.get('proxy-read-timeout', secondsText),
    sendMs: read.get('proxy-send-timeout', secondsText),
    nextUpstream: read.get('proxy-next-upstream', nextUpstreamText),
    nextUpstreamTries: read.get('proxy-next-upstream-tries', triesText),
    nextUpstreamTimeoutMs: read.get('proxy-next-upstream-timeout', nonNegativeSecondsText),
  }),
};

// allowlist-source-range (and its older name whitelist-source-range) and denylist-source-range:
// CIDR lists checked against the client address (403). A list that is set but invalid closes the
// location (503) instead of opening it, as ingress-nginx denies a location whose guard it can't parse.
import { z } from 'zod';
import { parseCidrList } from '../../proxy/source-ranges.ts';
import type { AnnotationFamily } from './family.ts';

export interface SourceRangesConfig {
  readonly allow: readonly string[] | undefined;
  readonly deny: readonly string[] | undefined;
  /** The keys set with a value that isn't a CIDR list: the location is closed. */
  readonly invalid: readonly string[];
}

export const cidrListText = z.string().transform((value, context) => {
  const parsed = parseCidrList(value);
  if (parsed.ok) return parsed.cidrs;
  context.addIssue({ code: 'custom', message: parsed.error });
  return z.NEVER;
});

const CLOSED = 'the location is closed: its requests answer 503 until the value is fixed';

export const sourceRangesFamily: AnnotationFamily<'sourceRanges', SourceRangesConfig> = {
  name: 'sourceRanges',
  keys: ['allowlist-source-range', 'whitelist-source-range', 'denylist-source-range'],
  scope: 'location',
  parse: (read) => {
    const allowKey = read.has('allowlist-source-range') ? 'allowlist-source-range' : 'whitelist-source-range';
    const allow = read.get(allowKey, cidrListText, CLOSED);
    const deny = read.get('denylist-source-range', cidrListText, CLOSED);
    const invalid = [...(read.has(allowKey) && allow === undefined ? [allowKey] : []), ...(read.has('denylist-source-range') && deny === undefined ? ['denylist-source-range'] : [])];
    return { allow, deny, invalid };
  },
};

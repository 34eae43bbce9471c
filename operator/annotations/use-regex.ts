// use-regex: ImplementationSpecific paths of this Ingress are regular expressions (RE2, anchored at
// the start, case-insensitive), as ingress-nginx's `location ~*`.
import type { AnnotationFamily } from './family.ts';
import { booleanText } from './schemas.ts';

export interface UseRegexConfig {
  readonly useRegex: boolean;
}

export const useRegexFamily: AnnotationFamily<'useRegex', UseRegexConfig> = {
  name: 'useRegex',
  keys: ['use-regex'],
  scope: 'location',
  parse: (read) => ({ useRegex: read.get('use-regex', booleanText) ?? false }),
};

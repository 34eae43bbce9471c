// proxy-body-size: the largest request body forwarded (nginx's client_max_body_size); larger ones
// get 413. Absent, the ConfigMap's proxy-body-size (1m by default) applies; 0 means no limit.
import type { AnnotationFamily } from './family.ts';
import { sizeText } from './schemas.ts';

export interface BodySizeConfig {
  /** In bytes; undefined: the ConfigMap's. */
  readonly limit: number | undefined;
}

export const bodySizeFamily: AnnotationFamily<'bodySize', BodySizeConfig> = {
  name: 'bodySize',
  keys: ['proxy-body-size'],
  scope: 'location',
  parse: (read) => ({ limit: read.get('proxy-body-size', sizeText) }),
};

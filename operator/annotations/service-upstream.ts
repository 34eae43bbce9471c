// service-upstream: send to the Service's ClusterIP (kube-proxy then picks the pod) instead of to
// its endpoints, as ingress-nginx does for it: one endpoint, the ClusterIP on the Service port.
import type { AnnotationFamily } from './family.ts';
import { booleanText } from './schemas.ts';

export interface ServiceUpstreamConfig {
  readonly serviceUpstream: boolean;
}

export const serviceUpstreamFamily: AnnotationFamily<'serviceUpstream', ServiceUpstreamConfig> = {
  name: 'serviceUpstream',
  keys: ['service-upstream'],
  scope: 'location',
  parse: (read) => ({ serviceUpstream: read.get('service-upstream', booleanText) ?? false }),
};

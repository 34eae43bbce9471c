// Endpoint churn is the most frequent change in a cluster, and it changes nothing in a route table
// but the endpoints of its upstreams (routes refer to upstreams by id). When only EndpointSlices
// changed, the data plane can take just the upstreams whose endpoints moved instead of a new table.
import type { Endpoint, RouteTableSpec, UpstreamSpec } from './types.ts';

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((endpoint, index) => endpoint.address === b[index]?.address && endpoint.port === b[index]?.port);
}

/**
 * The upstreams of `next` whose endpoints differ from those in `previous`, or null when the two
 * tables don't have the same upstreams (ids, in order). Only the upstreams are compared: callers
 * use this when nothing but EndpointSlices changed, which leaves hosts, routes and TLS as they were.
 */
export function endpointChanges(previous: RouteTableSpec, next: RouteTableSpec): UpstreamSpec[] | null {
  if (previous.upstreams.length !== next.upstreams.length) return null;
  const changed: UpstreamSpec[] = [];
  for (let index = 0; index < next.upstreams.length; index++) {
    const before = previous.upstreams[index] as UpstreamSpec;
    const after = next.upstreams[index] as UpstreamSpec;
    if (before === after) continue;
    if (before.id !== after.id) return null;
    if (!sameEndpoints(before.endpoints, after.endpoints)) changed.push(after);
  }
  return changed;
}

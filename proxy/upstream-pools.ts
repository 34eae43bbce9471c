// Upstreams that outlive a route-table swap. A table names its upstreams by id (the Service port,
// `namespace/service:port`); the pools keep one Upstream per id across tables, so its balancer
// state (the round-robin position today; affinity, EWMA or rate-limit state later) survives any
// configuration change that keeps the upstream, and a table swap only updates endpoints in place.
import { Upstream, sameEndpoints } from './route-table.ts';
import type { UpstreamSpec } from './route-spec.ts';

/** The upstreams a new table will use, applied to the pools only once that table compiled. */
export interface PreparedUpstreams {
  readonly byId: ReadonlyMap<string, Upstream>;
  /** Gives reused upstreams whose endpoints changed the new ones, and forgets the ones the new table dropped. */
  commit(): void;
}

export class UpstreamPools {
  #byId = new Map<string, Upstream>();

  /**
   * The upstreams for these specs: the pooled one for each known id (unchanged until commit, so a
   * table that fails to compile leaves the serving one as it was), a new one for each new id.
   */
  prepare(specs: readonly UpstreamSpec[]): PreparedUpstreams {
    const byId = new Map<string, Upstream>();
    const reused: [Upstream, UpstreamSpec][] = [];
    for (const spec of specs) {
      const pooled = this.#byId.get(spec.id);
      if (pooled) reused.push([pooled, spec]);
      byId.set(spec.id, pooled ?? new Upstream(spec));
    }
    return {
      byId,
      commit: () => {
        // Most swaps change few endpoints: the others keep their origins as they are.
        for (const [upstream, spec] of reused) {
          if (!sameEndpoints(upstream.endpoints, spec.endpoints)) upstream.setEndpoints(spec.endpoints);
        }
        this.#byId = byId;
      },
    };
  }
}

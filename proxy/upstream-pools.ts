// Upstreams that outlive a route-table swap. A table names its upstreams by id (the Service port,
// `namespace/service:port`); the pools keep one Upstream per id across tables, so its balancer
// state (the round-robin position today; affinity, EWMA or rate-limit state later) survives any
// configuration change that keeps the upstream, and a table swap only updates endpoints in place.
// The next table's upstreams are found by walking its list against the last one (both sorted by
// id, sharing the objects that did not change), so a swap touches only the upstreams that changed.
import { Upstream, sameEndpoints, type UpstreamsSince } from './route-table.ts';
import type { UpstreamSpec } from './route-spec.ts';
import { ShardedMap } from './sharded-map.ts';
import { indexOfKey, isStrictlySorted, sortedChanges } from './sorted-changes.ts';

/** The upstreams a new table will use, applied to the pools only once that table compiled. */
export interface PreparedUpstreams extends UpstreamsSince {
  /** Gives reused upstreams whose endpoints changed the new ones, and forgets the ones the new table dropped. */
  commit(): void;
}

const upstreamId = (upstream: UpstreamSpec): string => upstream.id;

export class UpstreamPools {
  #byId: ShardedMap<Upstream> = ShardedMap.empty();
  /** The specs last committed, which the next table's are walked against while they are sorted by id. */
  #specs: readonly UpstreamSpec[] = [];
  #sorted = true;
  /** Upstreams an endpoint update gave other endpoints since the last commit: the next table sets its own again. */
  readonly #updated = new Set<string>();

  /**
   * The upstreams for these specs: the pooled one for each known id (unchanged until commit, so a
   * table that fails to compile leaves the serving one as it was), a new one for each new id.
   */
  prepare(specs: readonly UpstreamSpec[]): PreparedUpstreams {
    const changes = this.#sorted ? sortedChanges(this.#specs, specs, upstreamId) : null;
    const base = this.#byId;
    const builder = base.builder();
    /** Pooled upstreams with their spec in the new table, whose endpoints commit compares. */
    const reused: [Upstream, UpstreamSpec][] = [];
    /** Ids whose Upstream is not base's: new ones, and dropped ones. */
    let replaced: string[] | null = [];
    if (changes === null) {
      // Not sorted: every spec is looked up, and a table compiled on these checks all its upstreams.
      replaced = null;
      const kept = new Set<string>();
      for (const spec of specs) {
        const pooled = base.get(spec.id);
        if (pooled) reused.push([pooled, spec]);
        else builder.set(spec.id, new Upstream(spec));
        kept.add(spec.id);
      }
      for (const id of base.keys()) {
        if (!kept.has(id)) builder.delete(id);
      }
    } else {
      for (const { key, after } of changes) {
        const pooled = base.get(key);
        if (after === undefined) {
          builder.delete(key);
          replaced.push(key);
        } else if (pooled) {
          reused.push([pooled, after]);
        } else {
          builder.set(key, new Upstream(after));
          replaced.push(key);
        }
      }
      for (const id of this.#updated) {
        const index = indexOfKey(specs, id, upstreamId);
        const pooled = base.get(id);
        if (index !== -1 && pooled) reused.push([pooled, specs[index] as UpstreamSpec]);
      }
    }
    const byId = builder.build();
    const sorted = changes !== null || isStrictlySorted(specs, upstreamId);
    return {
      byId,
      base,
      replaced,
      commit: () => {
        // Most swaps change few endpoints: the others keep their origins as they are.
        for (const [upstream, spec] of reused) {
          if (!sameEndpoints(upstream.endpoints, spec.endpoints)) upstream.setEndpoints(spec.endpoints);
        }
        this.#byId = byId;
        this.#specs = specs;
        this.#sorted = sorted;
        this.#updated.clear();
      },
    };
  }

  /** Notes that an endpoint update replaced these upstreams' endpoints outside a table. */
  endpointsUpdated(ids: Iterable<string>): void {
    for (const id of ids) this.#updated.add(id);
  }
}

// What a proxy process serves from: the route table and the secure contexts compiled from one
// spec, with the upstream pools they share across swaps. The next one is derived from the one it
// replaces (route-table.ts, tls-contexts.ts, upstream-pools.ts), so a swap costs what changed.
// ProxyServer swaps these; tests hold incremental chains of them to tables compiled from scratch.
import type { SecureContext } from 'node:tls';
import type { RouteTableSpec, UpstreamSpec } from './route-spec.ts';
import { RouteTable, type StageCompiler } from './route-table.ts';
import { CertificateContexts } from './tls-contexts.ts';
import type { PreparedUpstreams, UpstreamPools } from './upstream-pools.ts';

/** The route table and the secure contexts compiled from the same spec, swapped as one. */
export interface CompiledTable {
  readonly routes: RouteTable;
  readonly certificates: CertificateContexts;
}

export function emptyTable(fakeContext: SecureContext): CompiledTable {
  return { routes: RouteTable.empty(), certificates: new CertificateContexts(undefined, fakeContext, null) };
}

/**
 * The table for `spec`, taking over what `previous` compiled that is still the same, and the
 * upstreams it now routes to. The pools take the new upstreams only once both the routes and the
 * certificates compiled: a bad spec throws and leaves `previous` and the pools as they were.
 */
export function compileNextTable(spec: RouteTableSpec, previous: CompiledTable, pools: UpstreamPools, compileStages: StageCompiler, fakeContext: SecureContext): { readonly table: CompiledTable; readonly upstreams: PreparedUpstreams } {
  const upstreams = pools.prepare(spec.upstreams);
  const routes = new RouteTable(spec, compileStages, upstreams, previous.routes);
  const certificates = new CertificateContexts(spec.tls, fakeContext, previous.certificates);
  upstreams.commit();
  return { table: { routes, certificates }, upstreams };
}

/** Gives upstreams of `table` new endpoints in place; false, changing nothing, when one is not in it. */
export function updateTableEndpoints(table: CompiledTable, pools: UpstreamPools, upstreams: readonly UpstreamSpec[]): boolean {
  if (!table.routes.updateEndpoints(upstreams)) return false;
  // The next table sets its own endpoints on these again, as it would had they not been updated.
  pools.endpointsUpdated(upstreams.map((upstream) => upstream.id));
  return true;
}

// What the runtime needs from the data plane, whichever one runs: ProxyServer in this process
// (--workers=1) or a WorkerPool of proxy processes (--workers=N). serve and controller only ever
// see this, so they don't know or care how many processes forward traffic.
import type { RouteTableSpec, UpstreamSpec } from './route-spec.ts';
import type { BoundPorts } from './server.ts';

export interface DataPlane {
  /**
   * Makes this table the one new requests are routed by (throws, changing nothing, on a bad spec).
   * Returns why each certificate the TLS library refused was refused (worker processes report their own).
   */
  swap(spec: RouteTableSpec): readonly string[];
  /**
   * Gives upstreams of the current table new endpoints without recompiling it (endpoint churn).
   * False, changing nothing, when one of them isn't in the current table: swap a whole table then.
   */
  updateEndpoints(upstreams: readonly UpstreamSpec[]): boolean;
  /** Binds the HTTP, HTTPS and default-server ports; resolves once traffic can be served. */
  listen(): Promise<BoundPorts>;
  /** Stops accepting, lets requests under way finish within drainMs, then closes the rest. */
  close(drainMs: number): Promise<void>;
}

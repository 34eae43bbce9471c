// limit-connections, as nginx's limit_conn: how many requests from one client address a zone has in
// progress at once (a WebSocket counts until it closes); one more is answered with
// limit-conn-status-code (503). A slot is taken by the stage and given back when the exchange
// finishes. State is per Ingress (as ingress-nginx's zones are), per proxy process, kept across
// table swaps; it holds only clients with something in progress, so it is bounded by the open
// requests themselves.
import type { BlockList } from 'node:net';
import type { ConnectionLimitPolicy } from './route-spec.ts';
import { onFinish, statusAnswer, type RequestStage } from './pipeline.ts';
import { blockListOf, listed } from './source-ranges.ts';

export class ConnectionLimit {
  readonly #limit: number;
  readonly #inProgress = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes a slot for `client`; false when it already has the limit in progress. */
  acquire(client: string): boolean {
    const count = this.#inProgress.get(client) ?? 0;
    if (count >= this.#limit) return false;
    this.#inProgress.set(client, count + 1);
    return true;
  }

  release(client: string): void {
    const count = this.#inProgress.get(client) ?? 0;
    if (count <= 1) this.#inProgress.delete(client);
    else this.#inProgress.set(client, count - 1);
  }

  /** Clients with something in progress. */
  get clients(): number {
    return this.#inProgress.size;
  }
}

/** The zone's limit, made once and kept while its setting stays the same. */
export function connectionLimitStage(policy: ConnectionLimitPolicy, zones: Map<string, ConnectionLimit>): RequestStage {
  const key = `${policy.zone}|${policy.connections}`;
  let limit = zones.get(key);
  if (limit === undefined) {
    limit = new ConnectionLimit(policy.connections);
    zones.set(key, limit);
  }
  const zoneLimit = limit;
  const allowlist: BlockList | null = policy.allowlist.length > 0 ? blockListOf(policy.allowlist) : null;
  return (exchange) => {
    const client = exchange.clientAddress;
    if (allowlist !== null && listed(allowlist, client)) return null;
    if (!zoneLimit.acquire(client)) return statusAnswer(policy.status);
    onFinish(exchange, () => zoneLimit.release(client));
    return null;
  };
}

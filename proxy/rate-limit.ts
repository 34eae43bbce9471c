// limit-rps and limit-rpm as nginx's limit_req with `nodelay`: per client address, a leaky bucket
// that drains at the rate and holds up to `burst` requests above it; a request that would overflow
// it is answered with limit-req-status-code (503) and doesn't count. State is per Ingress (as
// ingress-nginx's zones are), per proxy process, bounded, and kept across table swaps.
import type { BlockList } from 'node:net';
import { listed } from './source-ranges.ts';

/** Most client addresses one limit tracks; past it the least recently seen is forgotten (nginx's zone evicts too). */
const MAX_CLIENTS = 100_000;

export class RequestRateLimit {
  /** In thousandths of a request per second, as nginx keeps it, so the arithmetic is exact. */
  readonly #rate: number;
  readonly #burst: number;
  /** Per client: thousandths of a request above the rate still in the bucket, and when (ms) it was last counted. Map order is recency. */
  readonly #clients = new Map<string, { excess: number; at: number }>();

  /** `perSecond` requests per second (limit-rpm / 60 for a per-minute limit); `burst` requests above it. */
  constructor(perSecond: number, burst: number) {
    this.#rate = Math.round(perSecond * 1000);
    this.#burst = burst * 1000;
  }

  /** Counts a request from `client` at `now` (ms); false when it is over the limit (then it isn't counted). */
  allow(client: string, now: number): boolean {
    const state = this.#clients.get(client);
    if (state === undefined) {
      if (this.#clients.size >= MAX_CLIENTS) this.#clients.delete(this.#clients.keys().next().value as string);
      this.#clients.set(client, { excess: 0, at: now });
      return true;
    }
    // nginx's limit_req: what drained since the last request, plus this one, clamped at zero.
    const elapsed = Math.max(0, Math.floor(now - state.at));
    const excess = Math.max(0, state.excess - Math.floor((this.#rate * elapsed) / 1000) + 1000);
    if (excess > this.#burst) return false;
    this.#clients.delete(client);
    this.#clients.set(client, { excess, at: elapsed > 0 ? now : state.at });
    return true;
  }
}

/** True when every limit lets the request through; addresses in the allowlist (limit-allowlist) are never limited. */
export function withinLimits(limits: readonly RequestRateLimit[], allowlist: BlockList | null, client: string, now: number): boolean {
  if (allowlist !== null && listed(allowlist, client)) return true;
  // Every limit counts the request, as nginx's limit_req lines each do, and all must allow it.
  let allowed = true;
  for (const limit of limits) allowed = limit.allow(client, now) && allowed;
  return allowed;
}

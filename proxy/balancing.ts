// Which upstream and endpoint a request goes to when its route says more than round-robin, as
// ingress-nginx's balancer.lua and its balancers decide:
// - a canary route (route_to_alternative_balancer): a request affinitized to the main upstream
//   stays there, one affinitized to the canary goes there; otherwise canary-by-header (`always`,
//   `never`, the value, or the pattern), then canary-by-cookie (`always`, `never`), then
//   canary-weight out of canary-weight-total. A canary without endpoints takes nothing.
// - affinity: cookie (sticky_balanced, sticky_persistent): the cookie names the session's endpoint
//   (`<key>|<upstream key>`); `balanced` keeps a random key whose endpoint is a consistent hash,
//   `persistent` names the endpoint itself, so it moves only when that endpoint leaves.
// - upstream-hash-by (chash, chashsubset): a consistent hash of the key, over the endpoints or
//   over subsets of them, then one of the subset at random.
// - load-balance: ewma (ewma.lua): the better of two random endpoints by a decaying average of
//   response time, weighted by the requests in flight.
// Consistent hashing is rendezvous hashing: when endpoints change, only the keys whose endpoint
// left, or whose new endpoint ranks first, move (1/n of them for an nth endpoint added).
import { createHash, randomBytes } from 'node:crypto';
import type { AffinityPolicy, CanaryPolicy, LocationPolicy, WireProtocol } from './route-spec.ts';
import type { Upstream } from './route-table.ts';
import { compileSearchPattern, type PathRegex } from './path-regex.ts';
import { compileTemplate, cookieValue, evaluateTemplate, type CompiledTemplate } from './nginx-variables.ts';
import type { Exchange, ResponseStage } from './pipeline.ts';

/** How a route's requests choose their upstream and first endpoint; retries go to endpoints not yet tried. */
export interface Balance {
  /** The upstream for this request: the route's, or its canary's. */
  upstreamFor(exchange: Exchange, protocol: WireProtocol): Upstream;
  /** The first endpoint of `upstream` (one upstreamFor gave) to try. */
  pick(upstream: Upstream, exchange: Exchange, origins: readonly string[]): string;
  /** With session-cookie-change-on-failure: the endpoint a retry goes to, given the ones tried, re-pinning the session; else null. */
  repick(upstream: Upstream, exchange: Exchange, origins: readonly string[], tried: readonly string[]): string | null;
}

/** ingress-nginx's sticky_balanced tries this many random keys for one that avoids failed endpoints. */
const MAX_KEY_TRIES = 20;
const EWMA_DECAY_MS = 10_000;
const COOKIE_DELIMITER = '|';

/** FNV-1a, 32 bits: the rendezvous score of a key on an endpoint; fast, and spread well enough for ranking. */
function score(key: string, origin: string): number {
  let hash = 0x811c9dc5;
  const text = `${key}\u0000${origin}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche, so keys differing in their last characters still rank endpoints differently.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}

/** The endpoint `key` ranks first among `origins`, skipping `excluded`; undefined when none is left. */
export function rendezvous(key: string, origins: readonly string[], excluded: readonly string[] = []): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const origin of origins) {
    if (excluded.includes(origin)) continue;
    const value = score(key, origin);
    if (value > bestScore) {
      best = origin;
      bestScore = value;
    }
  }
  return best;
}

/** The upstream's key in affinity cookies (ingress-nginx: md5(md5(name) .. name)): it tells main and canary sessions apart. */
function upstreamKey(id: string): string {
  return createHash('sha1').update(`pier-upstream\u0000${id}`).digest('hex').slice(0, 16);
}

/** sticky_persistent's endpoint key: the endpoint named, salted by the upstream. */
function endpointKey(upstreamId: string, origin: string): string {
  return createHash('sha1').update(`${upstreamId}\u0000${origin.replace(/^https?:\/\//, '')}`).digest('hex').slice(0, 16);
}

function cookieOf(exchange: Exchange, name: string): string | undefined {
  const header = exchange.clientHeaders.cookie;
  if (header === undefined) return undefined;
  return cookieValue(Array.isArray(header) ? header.join('; ') : header, name, false);
}

function headerText(exchange: Exchange, name: string): string | undefined {
  const value = exchange.clientHeaders[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** nginx's cookie_time: `Wed, 02-Dec-26 07:45:00 GMT`, as ingress-nginx's affinity e2e test expects it. */
export function cookieTime(epochMs: number): string {
  const date = new Date(epochMs);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${two(date.getUTCDate())}-${months[date.getUTCMonth()]}-${two(date.getUTCFullYear() % 100)} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} GMT`;
}

/** ingress-nginx's same_site.lua: user agents that mishandle SameSite=None get no SameSite at all. */
function sameSiteNoneCompatible(userAgent: string | undefined): boolean {
  if (userAgent === undefined) return true;
  if (/Chrome\/[456]/.test(userAgent) || userAgent.includes('CPU iPhone OS 12') || userAgent.includes('iPad; CPU OS 12')) return false;
  return !(userAgent.includes('Macintosh') && userAgent.includes('Intel Mac OS X 10_14') && userAgent.includes('Safari') && !userAgent.includes('Chrome'));
}

/** One upstream's cookie affinity: reads the session's endpoint from the cookie, or pins a new one. */
class CookieAffinity {
  readonly #policy: AffinityPolicy;
  readonly #upstreamKey: string;
  readonly #upstreamId: string;

  constructor(policy: AffinityPolicy, upstreamId: string) {
    this.#policy = policy;
    this.#upstreamId = upstreamId;
    this.#upstreamKey = upstreamKey(upstreamId);
  }

  /** The cookie's parts, when the request carries this affinity's cookie. */
  #parsed(exchange: Exchange): { key: string; upstreamKey: string } | null {
    const value = cookieOf(exchange, this.#policy.cookieName);
    if (value === undefined) return null;
    const [key = '', owner = ''] = value.split(COOKIE_DELIMITER);
    return { key, upstreamKey: owner };
  }

  /** ingress-nginx's is_affinitized: the request's session belongs to this upstream. */
  holds(exchange: Exchange): boolean {
    return this.#parsed(exchange)?.upstreamKey === this.#upstreamKey;
  }

  /** The session's endpoint, if it is still one of `origins`. */
  #sessionEndpoint(exchange: Exchange, origins: readonly string[]): string | undefined {
    const parsed = this.#parsed(exchange);
    if (parsed === null || parsed.key === '') return undefined;
    if (this.#policy.mode === 'persistent') return origins.find((origin) => endpointKey(this.#upstreamId, origin) === parsed.key);
    return rendezvous(parsed.key, origins);
  }

  pick(exchange: Exchange, origins: readonly string[], fallback: () => string): string {
    return this.#sessionEndpoint(exchange, origins) ?? this.#pinNew(exchange, origins, [], fallback);
  }

  repick(exchange: Exchange, origins: readonly string[], tried: readonly string[]): string | null {
    if (!this.#policy.changeOnFailure) return null;
    const untried = origins.filter((origin) => !tried.includes(origin));
    if (untried.length === 0) return null;
    return this.#pinNew(exchange, origins, tried, () => untried[Math.floor(Math.random() * untried.length)] as string);
  }

  /** A new endpoint for the session (avoiding `excluded`), and the cookie that names it. */
  #pinNew(exchange: Exchange, origins: readonly string[], excluded: readonly string[], fallback: () => string): string {
    let origin: string | undefined;
    let key = '';
    if (this.#policy.mode === 'balanced') {
      for (let i = 0; i < MAX_KEY_TRIES && origin === undefined; i++) {
        key = randomBytes(8).toString('hex');
        const candidate = rendezvous(key, origins);
        if (candidate !== undefined && !excluded.includes(candidate)) origin = candidate;
      }
    }
    if (origin === undefined) {
      // persistent mode, or no random key avoided the failed endpoints: name the endpoint itself.
      origin = fallback();
      key = this.#policy.mode === 'persistent' ? endpointKey(this.#upstreamId, origin) : findKeyFor(origin, origins);
    }
    exchange.affinityCookie = this.#cookie(exchange, key);
    return origin;
  }

  #cookie(exchange: Exchange, key: string): string {
    const policy = this.#policy;
    let sameSite = policy.sameSite;
    if (sameSite === 'None' && policy.conditionalSameSiteNone && !sameSiteNoneCompatible(headerText(exchange, 'user-agent'))) sameSite = undefined;
    const parts = [`${policy.cookieName}=${key}${COOKIE_DELIMITER}${this.#upstreamKey}`];
    if (policy.expiresSeconds !== undefined) parts.push(`Expires=${cookieTime(Date.now() + policy.expiresSeconds * 1000)}`);
    if (policy.maxAgeSeconds !== undefined) parts.push(`Max-Age=${policy.maxAgeSeconds}`);
    if (policy.domain !== undefined) parts.push(`Domain=${policy.domain}`);
    parts.push(`Path=${policy.path}`);
    if (policy.secure ?? exchange.secure) parts.push('Secure');
    parts.push('HttpOnly');
    if (sameSite !== undefined) parts.push(`SameSite=${sameSite}`);
    return parts.join('; ');
  }
}

/** A balanced-mode key whose rendezvous endpoint is `origin` (found by trying random keys; ~n tries for n endpoints). */
function findKeyFor(origin: string, origins: readonly string[]): string {
  for (let i = 0; i < 64 * origins.length; i++) {
    const key = randomBytes(8).toString('hex');
    if (rendezvous(key, origins) === origin) return key;
  }
  return randomBytes(8).toString('hex');
}

/** upstream-hash-by: the key's endpoint, or with subsets, a random endpoint of the key's subset. */
function hashPicker(key: CompiledTemplate, subsetSize: number | undefined): (exchange: Exchange, origins: readonly string[]) => string {
  return (exchange, origins) => {
    const value = evaluateTemplate(key, exchange);
    if (subsetSize === undefined) return rendezvous(value, origins) as string;
    // Subsets as chashsubset builds them: the endpoints in a stable order, cut into groups of the size.
    const sorted = [...origins].sort();
    const subsets: string[] = [];
    for (let start = 0; start < sorted.length; start += subsetSize) subsets.push(sorted.slice(start, start + subsetSize).join(' '));
    const chosen = (rendezvous(value, subsets) as string).split(' ');
    return chosen[Math.floor(Math.random() * chosen.length)] as string;
  };
}

/** Per-endpoint response-time averages for load-balance: ewma, kept on the upstream across swaps. */
export class EwmaScores {
  readonly #byOrigin = new Map<string, { ewmaMs: number; at: number; inFlight: number }>();

  #state(origin: string): { ewmaMs: number; at: number; inFlight: number } {
    let state = this.#byOrigin.get(origin);
    if (state === undefined) {
      state = { ewmaMs: 0, at: performance.now(), inFlight: 0 };
      this.#byOrigin.set(origin, state);
    }
    return state;
  }

  #cost(origin: string, now: number): number {
    const state = this.#state(origin);
    const decayed = state.ewmaMs * Math.exp(-(now - state.at) / EWMA_DECAY_MS);
    return decayed * (state.inFlight + 1);
  }

  /** The better of two random endpoints (power of two choices); counts the request in flight until `done`. */
  pick(origins: readonly string[]): { origin: string; done: (elapsedMs: number | null) => void } {
    const now = performance.now();
    const first = origins[Math.floor(Math.random() * origins.length)] as string;
    const second = origins[Math.floor(Math.random() * origins.length)] as string;
    const origin = this.#cost(first, now) <= this.#cost(second, now) ? first : second;
    const state = this.#state(origin);
    state.inFlight++;
    return {
      origin,
      done: (elapsedMs) => {
        state.inFlight = Math.max(0, state.inFlight - 1);
        if (elapsedMs === null) return;
        const at = performance.now();
        const weight = Math.exp(-(at - state.at) / EWMA_DECAY_MS);
        state.ewmaMs = state.ewmaMs * weight + elapsedMs * (1 - weight);
        state.at = at;
      },
    };
  }

  /** Forgets endpoints no longer in `origins`. */
  retain(origins: readonly string[]): void {
    for (const origin of this.#byOrigin.keys()) if (!origins.includes(origin)) this.#byOrigin.delete(origin);
  }
}

/** canary's traffic shaping, as route_to_alternative_balancer: header, then cookie, then weight. */
function shapedToCanary(policy: CanaryPolicy, pattern: PathRegex | null): (exchange: Exchange) => boolean {
  const total = Math.max(policy.weightTotal, 1);
  return (exchange) => {
    if (policy.header !== undefined) {
      const value = headerText(exchange, policy.header);
      if (value !== undefined) {
        if (policy.headerValue !== undefined && policy.headerValue !== '') {
          if (value === policy.headerValue) return true;
        } else if (pattern !== null) {
          if (pattern.test(value)) return true;
        } else if (value === 'always') {
          return true;
        } else if (value === 'never') {
          return false;
        }
      }
    }
    if (policy.cookie !== undefined) {
      const value = cookieOf(exchange, policy.cookie);
      if (value === 'always') return true;
      if (value === 'never') return false;
    }
    // math.random(total) <= weight: 1..total, so weight out of total.
    return Math.floor(Math.random() * total) + 1 <= policy.weight;
  };
}

/**
 * The route's balance, or null when round-robin over its own upstream is all there is (most
 * routes: then forwarding does no more work than before).
 */
export function compileBalance(policy: LocationPolicy, upstream: Upstream, canaryUpstream: Upstream | null): Balance | null {
  const hash = policy.hashBy === undefined ? null : hashPicker(compileTemplate(policy.hashBy.key), policy.hashBy.subsetSize);
  const ewma = policy.loadBalance === 'ewma';
  const canary = policy.canary;
  if (policy.affinity === undefined && hash === null && !ewma && (canary === undefined || canaryUpstream === null)) return null;
  const affinity = policy.affinity === undefined ? null : new CookieAffinity(policy.affinity, upstream.spec.id);
  const canaryAffinity = canary?.affinity === undefined || canaryUpstream === null ? null : new CookieAffinity(canary.affinity, canaryUpstream.spec.id);
  const pattern = canary?.headerPattern === undefined ? null : compileSearchPattern(canary.headerPattern);
  const toCanary = canary === undefined ? null : shapedToCanary(canary, pattern !== null && pattern.ok ? pattern.regex : null);
  const plain = (target: Upstream, origins: readonly string[], exchange: Exchange): string => {
    if (hash !== null) return hash(exchange, origins);
    if (ewma) {
      const chosen = target.ewma.pick(origins);
      exchange.onResponseTime = chosen.done;
      return chosen.origin;
    }
    return target.pick(origins);
  };
  return {
    upstreamFor(exchange, protocol) {
      if (canaryUpstream === null || toCanary === null) return upstream;
      if (affinity?.holds(exchange)) return upstream;
      const chosen = canaryAffinity?.holds(exchange) || toCanary(exchange);
      // A canary without endpoints takes nothing (ingress-nginx has no balancer for it then).
      return chosen && canaryUpstream.originsFor(protocol).length > 0 ? canaryUpstream : upstream;
    },
    pick(target, exchange, origins) {
      const sticky = target === upstream ? affinity : canaryAffinity;
      return sticky === null ? plain(target, origins, exchange) : sticky.pick(exchange, origins, () => plain(target, origins, exchange));
    },
    repick(target, exchange, origins, tried) {
      const sticky = target === upstream ? affinity : canaryAffinity;
      return sticky === null ? null : sticky.repick(exchange, origins, tried);
    },
  };
}

/** The affinity cookie a pick set, on the route's every answer (the balancer sets it before the response, as nginx does). */
export const affinityCookieStage: ResponseStage = (exchange, _status, headers) => {
  if (exchange.affinityCookie !== null) headers.push('set-cookie', exchange.affinityCookie);
};

// auth-cache-key and auth-cache-duration: the auth service's verdicts kept for a while, as
// ingress-nginx's auth location does with proxy_cache. The key is the location's plus the
// evaluated auth-cache-key, hashed (nginx's ngx_conf_rewrite_auth.lua hashes it too), so a long
// Authorization header costs no more memory than a short one. A verdict is kept for the first
// duration whose codes list its status, unless the answer forbids it (Set-Cookie, Cache-Control
// no-store, no-cache or private; max-age replaces the duration), as nginx's proxy cache decides.
// Per proxy process, bounded in entries, kept across table swaps.
import { createHash } from 'node:crypto';
import type { AuthCacheDuration } from './route-spec.ts';

/** Most verdicts one process keeps; past it the least recently stored goes. */
const MAX_ENTRIES = 10_000;
/** nginx's proxy_cache_valid codes when a duration names none. */
const DEFAULT_CODES: readonly number[] = [200, 301, 302];

/** What Pier keeps of an auth answer: enough to answer again without asking. */
export interface AuthVerdict {
  readonly status: number;
  /** auth-response-headers values on 2xx, as name/value pairs for the upstream request. */
  readonly copied: readonly string[];
  /** WWW-Authenticate of a 401. */
  readonly challenge: string | undefined;
}

export class AuthCache {
  readonly #entries = new Map<string, { readonly verdict: AuthVerdict; readonly expires: number }>();

  /** The location's key for a request: scope and evaluated auth-cache-key, hashed. */
  static keyOf(scope: string, host: string, evaluated: string): string {
    return createHash('sha1').update(`${scope}\n${host}\n${evaluated}`).digest('base64');
  }

  get(key: string, now: number): AuthVerdict | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires > now) return entry.verdict;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, verdict: AuthVerdict, lifetimeMs: number, now: number): void {
    if (lifetimeMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, { verdict, expires: now + lifetimeMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** How long an auth answer may be kept (ms), 0 for not at all. */
export function cacheLifetime(durations: readonly AuthCacheDuration[], status: number, cacheControl: string | undefined, setsCookie: boolean): number {
  if (setsCookie) return 0;
  if (cacheControl !== undefined) {
    const directives = cacheControl.toLowerCase();
    if (/(?:^|[\s,])(?:no-store|no-cache|private)(?:$|[\s,=])/.test(directives)) return 0;
    const maxAge = /(?:^|[\s,])max-age\s*=\s*"?(\d+)/.exec(directives);
    if (maxAge !== null) return Number(maxAge[1]) * 1000;
  }
  for (const duration of durations) {
    const codes = duration.codes ?? DEFAULT_CODES;
    if (codes === 'any' || codes.includes(status)) return duration.ms;
  }
  return 0;
}

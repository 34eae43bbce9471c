// The annotation families Pier implements, and the reading of one Ingress's annotations through
// them: each family's typed configuration, and a problem for every key under the prefix that is
// not honoured as written (an invalid value, a key Pier doesn't implement, a refused snippet).
// A new family is a module beside this one, added to FAMILIES.
import type { Ingress } from '../model.ts';
import { backendProtocolFamily } from './backend-protocol.ts';
import { AnnotationReader, type AnnotationProblem } from './family.ts';
import { SNIPPET_KEYS, ingressNginxFamilyOf } from './ingress-nginx-keys.ts';
import { bodySizeFamily } from './body-size.ts';
import { redirectFamily } from './redirect.ts';
import { rewriteFamily } from './rewrite.ts';
import { basicAuthFamily } from './basic-auth.ts';
import { corsFamily } from './cors.ts';
import { errorsFamily } from './errors.ts';
import { externalAuthFamily } from './external-auth.ts';
import { rateLimitsFamily } from './rate-limits.ts';
import { serverAliasFamily } from './server-alias.ts';
import { serviceUpstreamFamily } from './service-upstream.ts';
import { sourceRangesFamily } from './source-ranges.ts';
import { timeoutsFamily } from './timeouts.ts';
import { tlsRedirectFamily } from './tls-redirect.ts';
import { upstreamVhostFamily } from './upstream-vhost.ts';
import { useRegexFamily } from './use-regex.ts';
import { canaryFamily } from './canary.ts';
import { affinityFamily } from './affinity.ts';
import { balancingFamily } from './balancing.ts';
import { sslPassthroughFamily } from './ssl-passthrough.ts';

export const FAMILIES = [useRegexFamily, rewriteFamily, redirectFamily, tlsRedirectFamily, backendProtocolFamily, upstreamVhostFamily, serviceUpstreamFamily, bodySizeFamily, timeoutsFamily, errorsFamily, corsFamily, sourceRangesFamily, basicAuthFamily, externalAuthFamily, rateLimitsFamily, serverAliasFamily, canaryFamily, affinityFamily, balancingFamily, sslPassthroughFamily] as const;

type Family = (typeof FAMILIES)[number];

/** Every family's configuration for one Ingress, by family name. */
export type IngressAnnotations = { readonly [F in Family as F['name']]: ReturnType<F['parse']> };

export interface ReadAnnotations {
  readonly config: IngressAnnotations;
  readonly problems: readonly AnnotationProblem[];
  /** Guard keys set that Pier doesn't implement: the Ingress's locations close rather than open unguarded. */
  readonly unsupportedGuards: readonly string[];
}

/** ingress-nginx keys that guard a location. Set but not implemented, they close it (503): failing open would publish it unguarded. */
const GUARD_KEYS: ReadonlySet<string> = new Set(['auth-tls-secret', 'auth-tls-verify-client', 'auth-tls-match-cn', 'global-rate-limit']);

const IMPLEMENTED_KEYS: ReadonlySet<string> = new Set(FAMILIES.flatMap((family) => family.keys));

/** Why a key under the prefix that no family reads is not honoured. */
function unhandledKey(key: string, name: string): AnnotationProblem {
  if (SNIPPET_KEYS.has(name)) {
    return { key, reason: 'RefusedAnnotation', message: `annotation ${key} is refused: Pier never runs configuration text from an Ingress (snippets are how ingress-nginx's worst CVEs happened); ignored` };
  }
  const family = ingressNginxFamilyOf(name);
  if (family !== undefined) return { key, reason: 'UnsupportedAnnotation', message: `annotation ${key} (ingress-nginx ${family}) is not supported by Pier yet; ignored` };
  return { key, reason: 'UnsupportedAnnotation', message: `annotation ${key} is not one ingress-nginx documents or Pier knows (a typo?); ignored` };
}

/** Reads one Ingress's annotations under `prefix` through every family. Pure. */
export function readAnnotations(ingress: Ingress, prefix: string): ReadAnnotations {
  const annotations = ingress.metadata.annotations ?? {};
  const problems: AnnotationProblem[] = [];
  const read = new AnnotationReader(annotations, prefix, problems);
  const config = Object.fromEntries(FAMILIES.map((family) => [family.name, family.parse(read)])) as unknown as IngressAnnotations;
  const unsupportedGuards: string[] = [];
  for (const name of read.names()) {
    if (IMPLEMENTED_KEYS.has(name)) continue;
    const key = `${prefix}/${name}`;
    if (GUARD_KEYS.has(name)) {
      unsupportedGuards.push(name);
      problems.push({ key, reason: 'UnsupportedAnnotation', message: `annotation ${key} (ingress-nginx ${ingressNginxFamilyOf(name) ?? 'guard'}) is not supported by Pier yet; the location is closed: its requests answer 503 rather than reach the backend unguarded` });
    } else {
      problems.push(unhandledKey(key, name));
    }
  }
  return { config, problems, unsupportedGuards };
}

/**
 * Remembers each Ingress's reading by object identity: the store keeps an unchanged object's
 * identity, so a computation reads only the Ingresses that changed. Entries go with their objects.
 */
export class AnnotationCache {
  readonly #byIngress = new WeakMap<Ingress, { readonly prefix: string; readonly result: ReadAnnotations }>();

  read(ingress: Ingress, prefix: string): ReadAnnotations {
    const cached = this.#byIngress.get(ingress);
    if (cached && cached.prefix === prefix) return cached.result;
    const result = readAnnotations(ingress, prefix);
    this.#byIngress.set(ingress, { prefix, result });
    return result;
  }
}

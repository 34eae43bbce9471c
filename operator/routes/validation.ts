// Checks on the parts of an Ingress that the API server would also reject, so that manifest
// files and the cluster are held to the same rules.
import { compilePathRegex } from '../../proxy/path-regex.ts';
import type { MatchKind } from './types.ts';

const MAX_HOST_LENGTH = 253;
const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOST_PATTERN = new RegExp(`^(\\*\\.)?${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const IPV4_PATTERN = /^\d{1,3}(\.\d{1,3}){3}$/;

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** A rule host, lower-cased. `''` (no host) matches every host. */
export function checkHost(host: string | undefined): Checked<string> {
  if (host === undefined || host === '') return { ok: true, value: '' };
  const lower = host.toLowerCase();
  if (lower === '*') return { ok: false, error: `host "*" is invalid: a wildcard must be followed by a domain, as in *.example.com` };
  if (lower.length > MAX_HOST_LENGTH) return { ok: false, error: `host "${host}" is longer than ${MAX_HOST_LENGTH} characters` };
  if (IPV4_PATTERN.test(lower) || lower.includes(':')) return { ok: false, error: `host "${host}" must be a DNS name, not an IP address` };
  if (!HOST_PATTERN.test(lower)) return { ok: false, error: `host "${host}" is not a valid DNS name (or *.domain wildcard)` };
  return { ok: true, value: lower };
}

export interface CheckedPath {
  readonly path: string;
  readonly match: MatchKind;
}

/**
 * Exact and Prefix paths must be absolute. ImplementationSpecific is a prefix match, or a regular
 * expression anchored at the start of the path when the Ingress sets use-regex, as in ingress-nginx.
 */
export function checkPath(path: string | undefined, pathType: string, useRegex: boolean): Checked<CheckedPath> {
  if (pathType === 'ImplementationSpecific') {
    const value = path === undefined || path === '' ? '/' : path;
    if (useRegex) {
      const compiled = compilePathRegex(value);
      if (!compiled.ok) return { ok: false, error: `path "${value}": ${compiled.error}` };
      return { ok: true, value: { path: value, match: 'regex' } };
    }
    if (!value.startsWith('/')) return { ok: false, error: `path "${value}" must begin with "/"` };
    return { ok: true, value: { path: value, match: 'prefix' } };
  }
  if (path === undefined || !path.startsWith('/')) {
    return { ok: false, error: `${pathType} path "${path ?? ''}" must be an absolute path beginning with "/"` };
  }
  return { ok: true, value: { path, match: pathType === 'Exact' ? 'exact' : 'prefix' } };
}


// The path a request is matched with. nginx matches locations against a normalized URI (dot
// segments resolved, slashes merged, escapes decoded), so `/public/%2e%2e/admin` can't slip past a
// rule for `/admin`. Pier does the same for matching; the backend still gets the path unchanged.

const PERCENT = 0x25;
const SLASH = 0x2f;
const DOT = 0x2e;

function needsNormalizing(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === PERCENT) return true;
    if (c === SLASH) {
      const next = path.charCodeAt(i + 1);
      if (next === SLASH || next === DOT) return true;
    }
  }
  return false;
}

/** Decodes escapes of unreserved characters and of `/` and `.`, which change what a path means. */
function decodeSafeEscapes(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~/]/.test(char) ? char : escape.toUpperCase();
  });
}

function removeDotSegments(path: string): string {
  const output: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] as string;
    const last = i === segments.length - 1;
    if (segment === '..') {
      output.pop();
      if (last) output.push('');
    } else if (segment === '.') {
      if (last) output.push('');
    } else if (segment === '' && !last) {
      // merge repeated slashes
    } else {
      output.push(segment);
    }
  }
  return '/' + output.join('/');
}

/**
 * A path a rewrite produced, made safe to send: starting with `/`, with dot segments resolved (so
 * `/$1` with `$1 = ../admin` can't climb out of the route's backend path), like a normalized request path.
 */
export function normalizeRewrittenPath(path: string): string {
  const absolute = path.charCodeAt(0) === SLASH ? path : `/${path}`;
  return needsNormalizing(absolute) ? removeDotSegments(decodeSafeEscapes(absolute)) : absolute;
}

/** The request target's path without its query, normalized for matching. */
export function pathForMatching(url: string): string {
  const query = url.indexOf('?');
  const raw = query === -1 ? url : url.slice(0, query);
  if (!raw.startsWith('/')) return raw === '*' ? raw : '/' + raw;
  return needsNormalizing(raw) ? removeDotSegments(decodeSafeEscapes(raw)) : raw;
}

/** The Host header without its port or a trailing dot, lower-cased. */
export function hostForMatching(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let end = hostHeader.length;
  if (hostHeader.charCodeAt(0) === 0x5b) {
    const close = hostHeader.indexOf(']');
    end = close === -1 ? end : close + 1;
  } else {
    const colon = hostHeader.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  if (hostHeader.charCodeAt(end - 1) === DOT) end--;
  return hostHeader.slice(0, end).toLowerCase();
}

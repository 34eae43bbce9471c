// Regular-expression paths (ImplementationSpecific with use-regex), matched by RE2's linear-time
// algorithm (re2js, a pure-JavaScript port of RE2): a tenant's pattern such as `/(a+)+b` can't
// hold the event loop by backtracking, whatever the request path. The semantics are
// ingress-nginx's `location ~* "^<path>"`: case-insensitive, with `^` put in front of the path
// as written. RE2 has no backreferences or lookaround; such a pattern is refused with the reason.
import { RE2JS } from 're2js';

export interface PathRegex {
  test(path: string): boolean;
}

export type CompiledPathRegex = { readonly ok: true; readonly regex: PathRegex } | { readonly ok: false; readonly error: string };

export function compilePathRegex(source: string): CompiledPathRegex {
  try {
    return { ok: true, regex: RE2JS.compile(`^${source}`, RE2JS.CASE_INSENSITIVE) };
  } catch (error) {
    return { ok: false, error: `it is not a regular expression Pier can match in linear time (RE2 syntax: no backreferences or lookaround): ${(error as Error).message}` };
  }
}

/** A rewrite-target's pattern: the groups it captures in a path, found anywhere in it, as nginx's unanchored `rewrite`. */
export interface CapturePattern {
  /** `[whole match, $1, $2, ...]` (a group that took no part is ''), or null when the path doesn't match. */
  capture(path: string): readonly string[] | null;
}

export type CompiledCapturePattern = { readonly ok: true; readonly pattern: CapturePattern } | { readonly ok: false; readonly error: string };

/** nginx's `rewrite "(?i)<source>"`, on RE2: case-insensitive, not anchored. */
export function compileCapturePattern(source: string): CompiledCapturePattern {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    return { ok: false, error: `it is not a regular expression Pier can match in linear time (RE2 syntax: no backreferences or lookaround): ${(error as Error).message}` };
  }
  const groups = compiled.groupCount();
  return {
    ok: true,
    pattern: {
      capture(path) {
        const matcher = compiled.matcher(path);
        if (!matcher.find()) return null;
        const captured: string[] = [];
        for (let i = 0; i <= groups; i++) captured.push(matcher.group(i) ?? '');
        return captured;
      },
    },
  };
}

/** nginx's `ngx.re.match(value, pattern)` on RE2: found anywhere in the value, case-sensitive (canary-by-header-pattern). */
export function compileSearchPattern(source: string): CompiledPathRegex {
  try {
    const compiled = RE2JS.compile(source);
    return { ok: true, regex: { test: (value) => compiled.matcher(value).find() } };
  } catch (error) {
    return { ok: false, error: `it is not a regular expression Pier can match in linear time (RE2 syntax: no backreferences or lookaround): ${(error as Error).message}` };
  }
}

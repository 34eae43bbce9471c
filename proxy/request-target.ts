// What a request asks for, decided once before routing: the host it names and its path in origin
// form. Pure. RFC 9112 §3.2: a request with two Host fields, or (HTTP/2, RFC 9113 §8.3.1) a Host
// that disagrees with :authority, is answered 400 and reaches no backend. §3.2.2: in an
// absolute-form target (`GET http://a.example/x`) the target's authority wins over any Host
// header, and the request goes upstream in origin form (`/x`) with that authority as its Host.

export interface RequestTarget {
  /** The authority the request is for (maybe with a port), or undefined when it names none. */
  readonly host: string | undefined;
  /** The path and query, always starting with `/`: what routing matches and the upstream gets. */
  readonly url: string;
  /** True when `host` came from an absolute-form target: the upstream's Host is set from it. */
  readonly fromAbsoluteForm: boolean;
}

export type TargetReading = { readonly ok: true; readonly target: RequestTarget } | { readonly ok: false; readonly problem: string };

const SLASH = 0x2f;
const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)([^#]*)$/i;

/** Reads the target from node's `req.url` and raw header list (HTTP/1.1, or HTTP/2 with its pseudo-headers). */
export function readRequestTarget(url: string | undefined, rawHeaders: readonly string[]): TargetReading {
  let host: string | undefined;
  let authority: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 10 && name === ':authority') authority = rawHeaders[i + 1];
    else if (name.length === 4 && name.toLowerCase() === 'host') {
      if (host !== undefined) return { ok: false, problem: 'more than one Host header' };
      host = rawHeaders[i + 1];
    }
  }
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase()) {
    return { ok: false, problem: 'the Host header disagrees with :authority' };
  }
  const target = url ?? '/';
  if (target.charCodeAt(0) === SLASH) return { ok: true, target: { host: host ?? authority, url: target, fromAbsoluteForm: false } };
  const absolute = ABSOLUTE_FORM.exec(target);
  if (!absolute) return { ok: false, problem: 'the request target is neither a path nor an http(s) URI' };
  const [, , targetAuthority = '', rest = ''] = absolute;
  // RFC 9110 §4.2.4: an http(s) URI with userinfo is invalid; one without a host names nothing.
  if (targetAuthority === '' || targetAuthority.includes('@')) return { ok: false, problem: 'the request target has no valid authority' };
  const path = rest === '' ? '/' : rest.charCodeAt(0) === SLASH ? rest : `/${rest}`;
  return { ok: true, target: { host: targetAuthority, url: path, fromAbsoluteForm: true } };
}

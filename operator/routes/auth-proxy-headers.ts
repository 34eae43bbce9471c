// The ConfigMap an Ingress's auth-proxy-set-headers names: its keys are header names, its values
// what the auth sub-request sends (nginx variables allowed, nginx-variables.ts). Anything that
// keeps it from being used as written closes the location, as ingress-nginx denies it: the auth
// service may rely on those headers, so the location is never served without them.
import type { Snapshot } from '../store.ts';
import { unknownVariables } from '../../proxy/nginx-variables.ts';

export type ProxySetHeadersResolution = { readonly headers: readonly string[] } | { readonly closed: string; readonly warning: string };

const HEADER_NAME = /^[a-zA-Z\d\-_]+$/;
/** Control characters (line breaks included) would split the header. */
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface ProxySetHeadersContext {
  /** ConfigMap allow-cross-namespace-resources. */
  readonly crossNamespace: boolean;
  /** Whether ConfigMaps other than the controller's are read at all (pier serve, or --enable-auth-proxy-set-headers). */
  readonly configMapsReadable: boolean;
}

/** The headers (flat name/value list, by name) from `reference` (`name` or `namespace/name`), or why the location closes. */
export function resolveAuthProxySetHeaders(snapshot: Snapshot, namespace: string, reference: string, context: ProxySetHeadersContext): ProxySetHeadersResolution {
  const close = (why: string): ProxySetHeadersResolution => ({ closed: why, warning: `${why}; the location is closed: its requests answer 503` });
  if (reference === 'invalid') return { closed: 'invalid auth-proxy-set-headers', warning: '' };
  const [mapNamespace, name] = reference.includes('/') ? (reference.split('/') as [string, string]) : [namespace, reference];
  if (mapNamespace !== namespace && !context.crossNamespace) {
    return close(`auth-proxy-set-headers names ConfigMap ${mapNamespace}/${name} in another namespace, which the ConfigMap's allow-cross-namespace-resources doesn't allow`);
  }
  if (!context.configMapsReadable) {
    return close(`auth-proxy-set-headers names ConfigMap ${mapNamespace}/${name}, but Pier reads ConfigMaps other than its own only with --enable-auth-proxy-set-headers`);
  }
  const configMap = snapshot.configMaps.get(`${mapNamespace}/${name}`);
  if (!configMap) return close(`auth-proxy-set-headers ConfigMap ${mapNamespace}/${name} not found`);
  const headers: string[] = [];
  for (const [header, value] of Object.entries(configMap.data ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!HEADER_NAME.test(header)) return close(`auth-proxy-set-headers ConfigMap ${mapNamespace}/${name}: "${header}" is not a header name`);
    if (CONTROL.test(value)) return close(`auth-proxy-set-headers ConfigMap ${mapNamespace}/${name}: the value of ${header} holds a control character or line break`);
    const unknown = unknownVariables(value);
    if (unknown.length > 0) return close(`auth-proxy-set-headers ConfigMap ${mapNamespace}/${name}: the value of ${header} uses ${unknown.join(', ')}, which Pier doesn't evaluate`);
    headers.push(header, value);
  }
  return { headers };
}

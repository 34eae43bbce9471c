// The htpasswd Secret of an Ingress with auth-type: basic, read when routes are computed. Anything
// that keeps the guard from working (digest, no Secret, no users) closes the location instead: it
// is never published without its guard (ingress-nginx denies such a location with 503 too).
import type { Snapshot } from '../store.ts';
import type { BasicAuthConfig } from '../annotations/basic-auth.ts';
import { Credentials, type BasicAuthPolicy } from '../../proxy/route-spec.ts';
import { secretValue } from './tls.ts';

export type BasicAuthResolution = { readonly basicAuth?: BasicAuthPolicy } | { readonly closed: string; readonly warning: string };

/** `user:hash` lines; blank lines and `#` comments skipped, as htpasswd files have them. */
function htpasswdUsers(text: string): [string, string][] {
  const users: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    const colon = trimmed.indexOf(':');
    if (trimmed === '' || trimmed.startsWith('#') || colon <= 0) continue;
    users.push([trimmed.slice(0, colon), trimmed.slice(colon + 1)]);
  }
  return users;
}

export function resolveBasicAuth(snapshot: Snapshot, namespace: string, config: BasicAuthConfig, crossNamespace: boolean): BasicAuthResolution {
  if (config.invalid.length > 0) return { closed: `invalid ${config.invalid.join(', ')}`, warning: '' };
  if (config.type === undefined) return {};
  const close = (why: string): BasicAuthResolution => ({ closed: why, warning: `${why}; the location is closed: its requests answer 503` });
  if (config.type === 'digest') return close('auth-type digest is not supported by Pier');
  if (config.secret === undefined) return close('auth-type basic needs auth-secret');
  const [secretNamespace, name] = config.secret.includes('/') ? (config.secret.split('/') as [string, string]) : [namespace, config.secret];
  // As ingress-nginx (allow-cross-namespace-resources, off by default): an Ingress can't borrow another namespace's users.
  if (secretNamespace !== namespace && !crossNamespace) return close(`auth-secret ${secretNamespace}/${name} is in another namespace, which the ConfigMap's allow-cross-namespace-resources doesn't allow`);
  const secret = snapshot.secrets.get(`${secretNamespace}/${name}`);
  if (!secret) return close(`auth-secret ${secretNamespace}/${name} not found`);
  const users = config.secretType === 'auth-map'
    ? Object.keys({ ...secret.data, ...secret.stringData }).map((user): [string, string] => [user, (secretValue(secret, user) ?? '').trim()])
    : htpasswdUsers(secretValue(secret, 'auth') ?? '');
  if (users.length === 0) return close(`auth-secret ${secretNamespace}/${name} has no users (${config.secretType === 'auth-map' ? 'no keys' : 'no user:hash lines under the key "auth"'})`);
  return { basicAuth: { realm: config.realm, credentials: new Credentials(users) } };
}

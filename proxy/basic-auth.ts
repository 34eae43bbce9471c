// auth-type: basic, as nginx's auth_basic with an htpasswd file: 401 with
// `WWW-Authenticate: Basic realm="..."` unless the request's credentials match a user's hash.
// The hash formats htpasswd and users' tools write: bcrypt (`$2a$`, `$2b$`, `$2y$`), Apache MD5
// (`$apr1$`), `{SHA}` and traditional crypt, verified by maintained libraries.
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import md5 from 'apache-md5';
import crypt from 'apache-crypt';
import type { BasicAuthPolicy } from './route-spec.ts';
import { statusAnswer, type RequestStage } from './pipeline.ts';

const STATUS_UNAUTHORIZED = 401;
/** Accepted Authorization values remembered per location, so a bcrypt hash is checked once per client, not per request. */
const ACCEPTED_CACHE_LIMIT = 1024;

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** True when `password` matches an htpasswd hash; false for a format Pier doesn't know. */
export function verifyPassword(password: string, hash: string): boolean {
  if (/^\$2[aby]\$\d\d\$/.test(hash)) return bcrypt.compareSync(password, hash);
  if (hash.startsWith('$apr1$')) return sameText(md5(password, hash), hash);
  if (hash.startsWith('{SHA}')) return sameText(`{SHA}${createHash('sha1').update(password).digest('base64')}`, hash);
  if (hash.startsWith('{PLAIN}')) return sameText(`{PLAIN}${password}`, hash);
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return sameText(crypt(password, hash), hash);
  return false;
}

/** The user and password of a `Basic` Authorization header, or null. */
export function basicCredentials(header: string | undefined): { readonly user: string; readonly password: string } | null {
  if (header === undefined || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function basicAuthStage(policy: BasicAuthPolicy): RequestStage {
  const hashes = new Map(policy.credentials.users);
  const challenge = ['www-authenticate', `Basic realm="${policy.realm}"`];
  // Digests of accepted header values: a bounded set, the oldest forgotten first.
  const accepted = new Set<string>();
  return (exchange) => {
    const header = exchange.clientHeaders.authorization;
    const digest = header === undefined ? '' : createHash('sha256').update(header).digest('base64');
    if (header !== undefined && accepted.has(digest)) return null;
    const credentials = basicCredentials(header);
    const hash = credentials ? hashes.get(credentials.user) : undefined;
    if (!credentials || hash === undefined || !verifyPassword(credentials.password, hash)) return statusAnswer(STATUS_UNAUTHORIZED, challenge);
    if (accepted.size >= ACCEPTED_CACHE_LIMIT) accepted.delete(accepted.values().next().value as string);
    accepted.add(digest);
    return null;
  };
}

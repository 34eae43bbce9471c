// TLS for computeRoutes: each served Ingress's spec.tls[] becomes the certificate for each SNI
// host, and every Secret that can't be used becomes a warning (its hosts then get the default
// certificate; nothing else is affected). Deterministic: the clock is an input (options.now), and
// the cache only remembers what parsing the same bytes gave before.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { Ingress, Secret } from '../model.ts';
import type { Snapshot } from '../store.ts';
import type { CertificateSpec, ObjectRef, TlsFallback, TlsHostSpec, TlsSpec, WarningReason } from './types.ts';
import { KeyMaterial } from './types.ts';
import { checkHost } from './validation.ts';
import { secureContextFor } from '../../proxy/tls-contexts.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
const CERTIFICATE_KEY = 'tls.crt';
const PRIVATE_KEY_KEY = 'tls.key';
/** Hex digits of the material's SHA-256 kept in a certificate id: plenty to tell certificates apart. */
const ID_LENGTH = 16;
/** Key types a handshake can sign with (RFC 8446 §4.2.3; TLS 1.2 with ECDHE_RSA or ECDHE_ECDSA suites). */
const HANDSHAKE_KEY_TYPES: ReadonlySet<string> = new Set(['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448']);
/** A label put in front of a wildcard host to ask the certificate whether it covers one label there. */
const WILDCARD_PROBE_LABEL = 'pier-wildcard-probe';

/** A certificate whose PEM parsed and whose key matches; validity dates are checked per computation. */
interface ParsedCertificate {
  readonly ok: true;
  readonly certificate: X509Certificate;
  readonly spec: Omit<CertificateSpec, 'secret'>;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}
type Inspection = ParsedCertificate | { readonly ok: false; readonly problem: string };

/**
 * Parsed certificates by the Secret bytes they came from, held by the caller (the Runtime) so an
 * unchanged Secret isn't parsed again. An entry lives while some Secret holds its bytes: a Secret
 * that is rotated lets go of its old bytes, and one that is deleted is forgotten by the caller.
 */
export class CertificateCache {
  readonly #entries = new Map<string, Inspection>();
  /** The bytes each Secret (`namespace/name`) had when last looked up... */
  readonly #bytesOf = new Map<string, string>();
  /** ...and how many Secrets hold each entry's bytes. */
  readonly #holders = new Map<string, number>();

  lookup(secret: string, bytes: string, inspect: () => Inspection): Inspection {
    const before = this.#bytesOf.get(secret);
    if (before !== bytes) {
      this.#holders.set(bytes, (this.#holders.get(bytes) ?? 0) + 1);
      this.#bytesOf.set(secret, bytes);
      if (before !== undefined) this.#release(before);
    }
    let entry = this.#entries.get(bytes);
    if (!entry) {
      entry = inspect();
      this.#entries.set(bytes, entry);
    }
    return entry;
  }

  /** The Secret is gone: its entry is dropped unless another Secret holds the same bytes. */
  forget(secret: string): void {
    const bytes = this.#bytesOf.get(secret);
    if (bytes === undefined) return;
    this.#bytesOf.delete(secret);
    this.#release(bytes);
  }

  #release(bytes: string): void {
    const holders = (this.#holders.get(bytes) ?? 1) - 1;
    if (holders > 0) {
      this.#holders.set(bytes, holders);
      return;
    }
    this.#holders.delete(bytes);
    this.#entries.delete(bytes);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The Secret's value for `key` as text: stringData wins over data, as the API server merges them. */
export function secretValue(secret: Secret, key: string): string | undefined {
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return plain;
  const encoded = secret.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}

function inspectPem(certificatePem: string, keyPem: string): Inspection {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (error) {
    return { ok: false, problem: `${CERTIFICATE_KEY} is not a PEM certificate (${(error as Error).message})` };
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(keyPem));
  } catch (error) {
    return { ok: false, problem: `${PRIVATE_KEY_KEY} is not a PEM private key (${(error as Error).message})` };
  }
  if (!matches) return { ok: false, problem: `${PRIVATE_KEY_KEY} does not belong to the certificate in ${CERTIFICATE_KEY}` };
  const keyType = certificate.publicKey.asymmetricKeyType ?? 'unknown';
  if (!HANDSHAKE_KEY_TYPES.has(keyType)) return { ok: false, problem: `the certificate has a ${keyType} key, which no TLS 1.3 handshake or TLS 1.2 ECDHE suite can use` };
  const material = new KeyMaterial(certificatePem, keyPem);
  // The proxy loads it with the same call: what OpenSSL refuses there is refused here, and reported.
  try {
    secureContextFor(material);
  } catch (error) {
    return { ok: false, problem: `OpenSSL refused the certificate and key (${(error as Error).message})` };
  }
  const id = createHash('sha256').update(certificatePem).update('\n').update(keyPem).digest('hex').slice(0, ID_LENGTH);
  const names = certificate.subjectAltName ? ` (${certificate.subjectAltName})` : '';
  return {
    ok: true,
    certificate,
    notBeforeMs: Date.parse(certificate.validFrom),
    notAfterMs: Date.parse(certificate.validTo),
    spec: {
      id,
      subject: `${certificate.subject.replaceAll('\n', ', ')}${names}`,
      notAfter: new Date(Date.parse(certificate.validTo)).toISOString(),
      material,
    },
  };
}

/** `changesAt`: when this lookup's answer changes by the clock alone (expiry, or the start of validity). */
export type CertificateLookup =
  | { ok: true; parsed: ParsedCertificate; spec: CertificateSpec; changesAt: number }
  | { ok: false; reason: WarningReason; problem: string; changesAt?: number };

/** The certificate in Secret `ref`, or why it can't be used. */
export function certificateFromSecret(snapshot: Snapshot, ref: ObjectRef, now: number | undefined, cache: CertificateCache): CertificateLookup {
  const name = `${ref.namespace}/${ref.name}`;
  const secret = snapshot.secrets.get(name);
  if (!secret) return { ok: false, reason: 'TlsSecretNotFound', problem: `Secret ${name} not found` };
  if (secret.type !== TLS_SECRET_TYPE) {
    return { ok: false, reason: 'TlsSecretInvalid', problem: `Secret ${name} has type ${secret.type ?? '(none)'}, not ${TLS_SECRET_TYPE}` };
  }
  const certificatePem = secretValue(secret, CERTIFICATE_KEY);
  const keyPem = secretValue(secret, PRIVATE_KEY_KEY);
  if (!certificatePem || !keyPem) {
    return { ok: false, reason: 'TlsSecretInvalid', problem: `Secret ${name} has no ${!certificatePem ? CERTIFICATE_KEY : PRIVATE_KEY_KEY}` };
  }
  const inspection = cache.lookup(name, `${certificatePem}\n${keyPem}`, () => inspectPem(certificatePem, keyPem));
  if (!inspection.ok) return { ok: false, reason: 'TlsSecretInvalid', problem: `Secret ${name}: ${inspection.problem}` };
  if (now !== undefined && inspection.notAfterMs < now) {
    return { ok: false, reason: 'TlsSecretInvalid', problem: `Secret ${name}: the certificate expired on ${inspection.spec.notAfter}` };
  }
  if (now !== undefined && inspection.notBeforeMs > now) {
    return { ok: false, reason: 'TlsSecretInvalid', problem: `Secret ${name}: the certificate is not valid before ${new Date(inspection.notBeforeMs).toISOString()}`, changesAt: inspection.notBeforeMs };
  }
  // notAfter is the last valid instant: the certificate counts as expired from the next millisecond.
  return { ok: true, parsed: inspection, spec: { ...inspection.spec, secret: name }, changesAt: inspection.notAfterMs + 1 };
}

/** True when the certificate's names cover `host`; for `*.foo.com`, when it covers any one label under foo.com. */
function certificateCovers(certificate: X509Certificate, host: string): boolean {
  const name = host.startsWith('*.') ? `${WILDCARD_PROBE_LABEL}${host.slice(1)}` : host;
  return certificate.checkHost(name) !== undefined;
}

export interface ResolvedTls {
  /** The partition's TLS hosts and their certificates (the default certificate is the caller's). */
  readonly spec: Omit<TlsSpec, 'defaultCertificate'>;
  /** The next instant a certificate looked at here expires or becomes valid; null when none will. */
  readonly certificatesChangeAt: number | null;
  /** TLS hosts served the default certificate because the one their Ingress names can't be used. */
  readonly fallbacks: readonly TlsFallback[];
}

type Warn = (ingress: ObjectRef, reason: WarningReason, message: string) => void;

export interface TlsInputs {
  readonly snapshot: Snapshot;
  /** Served Ingresses, oldest first: the oldest claim on a TLS host wins. */
  readonly served: readonly Ingress[];
  readonly now: number | undefined;
  readonly cache: CertificateCache;
  readonly warn: Warn;
}

/** What resolveTls builds up, Ingress by Ingress. */
interface TlsDraft {
  readonly certificates: Map<string, CertificateSpec>;
  readonly hosts: Map<string, TlsHostSpec & { readonly ingress: ObjectRef }>;
  readonly fallbacks: TlsFallback[];
}

type TlsEntry = NonNullable<Ingress['spec']['tls']>[number];

/** The raw hosts a spec.tls entry lists: its own, or, when it lists none, the Ingress's rule hosts. */
function entryNames(ingress: Ingress, entry: TlsEntry): readonly string[] {
  if (entry.hosts && entry.hosts.length > 0) return entry.hosts;
  return (ingress.spec.rules ?? []).map((rule) => rule.host).filter((host): host is string => !!host);
}

/**
 * The hosts a served Ingress asks to be served over TLS (valid, non-empty, as spec.tls lists
 * them): ssl-redirect redirects a host when any served Ingress lists it or a wildcard covering it.
 */
export function tlsHostsOf(ingress: Ingress): string[] {
  const hosts: string[] = [];
  for (const entry of ingress.spec.tls ?? []) {
    for (const raw of entryNames(ingress, entry)) {
      const host = checkHost(raw);
      if (host.ok && host.value !== '') hosts.push(host.value);
    }
  }
  return hosts;
}

/** True when `host` is served over TLS: it, or a wildcard one label above it, is a TLS host. */
export function hasTls(isTlsHost: (name: string) => boolean, host: string): boolean {
  if (host === '') return false;
  if (isTlsHost(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && !host.startsWith('*.') && isTlsHost(`*${host.slice(dot)}`);
}

/** The valid hosts a spec.tls entry lists (an entry without hosts covers the Ingress's rule hosts). */
function entryHosts(ingress: Ingress, entry: TlsEntry, where: string, ref: ObjectRef, warn: Warn): string[] {
  const listed: string[] = [];
  for (const raw of entryNames(ingress, entry)) {
    const host = checkHost(raw);
    if (!host.ok || host.value === '') {
      warn(ref, 'InvalidHost', `${where}: ${host.ok ? 'an empty host' : host.error}; ignored`);
      continue;
    }
    listed.push(host.value);
  }
  return listed;
}

/**
 * Of two specs of one certificate (equal material in two Secrets), the one named by the Secret
 * that sorts first: whichever Ingresses are computed together, the same one is kept.
 */
export function preferredCertificate(a: CertificateSpec | undefined, b: CertificateSpec): CertificateSpec {
  return a !== undefined && a.secret <= b.secret ? a : b;
}

/** Gives each listed host this certificate, unless an older Ingress gave it one or the certificate doesn't cover it. */
function assignCertificate(found: Extract<CertificateLookup, { ok: true }>, listed: readonly string[], where: string, ref: ObjectRef, warn: Warn, draft: TlsDraft): void {
  for (const host of listed) {
    const holder = draft.hosts.get(host);
    if (holder) {
      if (holder.certificate !== found.spec.id) {
        warn(ref, 'TlsHostConflict', `${where}: host ${host} already has a certificate from Ingress ${holder.ingress.namespace}/${holder.ingress.name}, which is older; this one is not used for it`);
      }
      continue;
    }
    if (!certificateCovers(found.parsed.certificate, host)) {
      warn(ref, 'TlsHostMismatch', `${where}: the certificate in Secret ${found.spec.secret} (${found.spec.subject}) does not cover ${host}; ${host} gets the default certificate`);
      draft.fallbacks.push({ ingress: ref, host });
      continue;
    }
    draft.certificates.set(found.spec.id, preferredCertificate(draft.certificates.get(found.spec.id), found.spec));
    draft.hosts.set(host, { host, certificate: found.spec.id, ingress: ref });
  }
}

/** The earlier of two instants, null meaning never. */
export function earlier(a: number | null, b: number | null | undefined): number | null {
  if (b === null || b === undefined) return a;
  return a === null || b < a ? b : a;
}

export function resolveTls({ snapshot, served, now, cache, warn }: TlsInputs): ResolvedTls {
  const draft: TlsDraft = { certificates: new Map(), hosts: new Map(), fallbacks: [] };
  const { certificates, hosts, fallbacks } = draft;
  let certificatesChangeAt: number | null = null;

  for (const ingress of served) {
    const ref: ObjectRef = { namespace: ingress.metadata.namespace ?? '', name: ingress.metadata.name };
    (ingress.spec.tls ?? []).forEach((entry, index) => {
      const where = `spec.tls[${index}]`;
      const listed = entryHosts(ingress, entry, where, ref, warn);
      // No secretName: these hosts are served over TLS with the default certificate, as in ingress-nginx.
      if (!entry.secretName || listed.length === 0) return;
      const found = certificateFromSecret(snapshot, { namespace: ref.namespace, name: entry.secretName }, now, cache);
      certificatesChangeAt = earlier(certificatesChangeAt, found.changesAt);
      if (!found.ok) {
        warn(ref, found.reason, `${where}: ${found.problem}; ${listed.join(', ')} ${listed.length === 1 ? 'gets' : 'get'} the default certificate`);
        for (const host of listed) fallbacks.push({ ingress: ref, host });
        return;
      }
      assignCertificate(found, listed, where, ref, warn, draft);
    });
  }

  const byName = (a: { host: string } | { id: string }, b: typeof a): number => {
    const ka = 'host' in a ? a.host : a.id;
    const kb = 'host' in b ? b.host : b.id;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
  return {
    spec: {
      certificates: [...certificates.values()].sort(byName),
      hosts: [...hosts.values()].map(({ host, certificate }) => ({ host, certificate })).sort(byName),
    },
    certificatesChangeAt: now === undefined ? null : certificatesChangeAt,
    // A host another Ingress gave a usable certificate is not falling back.
    fallbacks: fallbacks.filter((fallback) => !hosts.has(fallback.host)),
  };
}

/** --default-ssl-certificate: its certificate, or the warning that says why the fake one is served. */
export function resolveDefaultCertificate(snapshot: Snapshot, ref: ObjectRef | null, now: number | undefined, cache: CertificateCache): { certificate: CertificateSpec | null; problem: { reason: WarningReason; message: string } | null; changesAt: number | null } {
  if (!ref) return { certificate: null, problem: null, changesAt: null };
  const found = certificateFromSecret(snapshot, ref, now, cache);
  const changesAt = now === undefined ? null : (found.changesAt ?? null);
  if (found.ok) return { certificate: found.spec, problem: null, changesAt };
  return { certificate: null, problem: { reason: found.reason, message: `--default-ssl-certificate: ${found.problem}; the built-in fake certificate is served instead` }, changesAt };
}

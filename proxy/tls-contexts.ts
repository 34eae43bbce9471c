// Secure contexts compiled from a table's TlsSpec, found by SNI with hash lookups: exact host,
// then a wildcard for the parent domain (one label), then the default certificate. A certificate
// whose id (a hash of its PEM) was already compiled by the previous table is reused, so rotating
// one Secret among thousands compiles one context; and when both tables' lists are sorted (as the
// operator hands them over), the next contexts are the previous ones with only the certificates
// and TLS hosts that changed, found by walking the lists, so a swap costs what changed.
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { CertificateSpec, TlsHostSpec, TlsSpec } from './route-spec.ts';
import { ShardedMap, type ShardedMapBuilder } from './sharded-map.ts';
import { indexOfKey, isStrictlySorted, sortedChanges } from './sorted-changes.ts';
import type { PemPair } from './tls-fake-certificate.ts';

/**
 * ingress-nginx's default ssl-ciphers for TLS 1.2, less the DHE suites (they need dhparams it
 * doesn't ship by default either): ECDHE key exchange with AEAD ciphers only. TLS 1.3 suites
 * are OpenSSL's defaults, which are all AEAD.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The protocol settings every context gets, the server's own and each SNI one alike. */
export const TLS_PROTOCOL_SETTINGS = {
  minVersion: 'TLSv1.2',
  ciphers: TLS12_CIPHERS,
  honorCipherOrder: true,
} as const satisfies SecureContextOptions;

export function secureContextFor(pem: PemPair): SecureContext {
  return createSecureContext({ ...TLS_PROTOCOL_SETTINGS, cert: pem.certificatePem, key: pem.keyPem });
}

/** A certificate OpenSSL refused, and why. */
interface Refusal {
  readonly id: string;
  readonly message: string;
}

/** A table's contexts and how SNI finds them, kept so that the next table can derive its own. */
interface ContextLookup {
  readonly certificates: readonly CertificateSpec[];
  readonly hosts: readonly TlsHostSpec[];
  /** Whether each list was strictly sorted by key: only then can the next table walk it. */
  readonly certificatesSorted: boolean;
  readonly hostsSorted: boolean;
  /** Compiled contexts by certificate id. */
  readonly byId: ShardedMap<SecureContext>;
  /** The certificates OpenSSL refused, in id order: reported again with every table that lists them. */
  readonly refused: readonly Refusal[];
  /** Exact TLS hosts to their certificate's id (a host whose certificate has no context gets the wildcard's, or the default). */
  readonly exact: ShardedMap<string>;
  /** Wildcard TLS hosts by the domain after `*.`, to their certificate's id. */
  readonly wildcard: ShardedMap<string>;
}

const certificateId = (certificate: CertificateSpec): string => certificate.id;
const tlsHostName = (host: TlsHostSpec): string => host.host;

function compileCertificate(certificate: CertificateSpec, byId: ShardedMapBuilder<SecureContext>, refused: Refusal[]): void {
  try {
    byId.set(certificate.id, secureContextFor(certificate.material));
  } catch (error) {
    refused.push({ id: certificate.id, message: `${certificate.secret}: ${(error as Error).message}` });
  }
}

/** Contexts for these certificates, each taken from `previous` when it has its id, else compiled. */
function certificatesFromScratch(certificates: readonly CertificateSpec[], previous: ContextLookup | null): Pick<ContextLookup, 'byId' | 'refused' | 'certificatesSorted'> {
  const byId = ShardedMap.empty<SecureContext>().builder();
  const refused: Refusal[] = [];
  for (const certificate of certificates) {
    const reused = previous?.byId.get(certificate.id);
    if (reused) byId.set(certificate.id, reused);
    else compileCertificate(certificate, byId, refused);
  }
  return { byId: byId.build(), refused, certificatesSorted: isStrictlySorted(certificates, certificateId) };
}

/** `previous`'s contexts with the certificates that differ from its list compiled or dropped; null when the list is not sorted. */
function certificatesFromChanges(certificates: readonly CertificateSpec[], previous: ContextLookup): Pick<ContextLookup, 'byId' | 'refused' | 'certificatesSorted'> | null {
  const changes = previous.certificatesSorted ? sortedChanges(previous.certificates, certificates, certificateId) : null;
  if (changes === null) return null;
  if (changes.length === 0) return { byId: previous.byId, refused: previous.refused, certificatesSorted: true };
  const byId = previous.byId.builder();
  const refused: Refusal[] = [];
  const touched = new Set<string>();
  for (const { key, after } of changes) {
    touched.add(key);
    // Same id, same PEM: a context compiled for it is the one it would compile.
    if (after === undefined) byId.delete(key);
    else if (!byId.has(key)) compileCertificate(after, byId, refused);
  }
  const kept = previous.refused.filter((refusal) => !touched.has(refusal.id));
  return { byId: byId.build(), refused: [...kept, ...refused].sort((a, b) => (a.id < b.id ? -1 : 1)), certificatesSorted: true };
}

function placeHost(host: string, id: string | undefined, exact: ShardedMapBuilder<string>, wildcard: ShardedMapBuilder<string>): void {
  const isWildcard = host.startsWith('*.');
  const map = isWildcard ? wildcard : exact;
  const key = isWildcard ? host.slice(2) : host;
  if (id === undefined) map.delete(key);
  else map.set(key, id);
}

function hostsFromScratch(hosts: readonly TlsHostSpec[], byId: ShardedMap<SecureContext>): Pick<ContextLookup, 'exact' | 'wildcard' | 'hostsSorted'> {
  const exact = ShardedMap.empty<string>().builder();
  const wildcard = ShardedMap.empty<string>().builder();
  const hostsSorted = isStrictlySorted(hosts, tlsHostName);
  for (const { host, certificate } of hosts) {
    // A host listed twice keeps the last entry whose certificate has a context; one listed once
    // keeps its certificate's id even without one, for a next table that compiles it.
    if (!hostsSorted && !byId.has(certificate)) continue;
    placeHost(host, certificate, exact, wildcard);
  }
  return { exact: exact.build(), wildcard: wildcard.build(), hostsSorted };
}

function hostsFromChanges(hosts: readonly TlsHostSpec[], previous: ContextLookup): Pick<ContextLookup, 'exact' | 'wildcard' | 'hostsSorted'> | null {
  const changes = previous.hostsSorted ? sortedChanges(previous.hosts, hosts, tlsHostName) : null;
  if (changes === null) return null;
  if (changes.length === 0) return { exact: previous.exact, wildcard: previous.wildcard, hostsSorted: true };
  const exact = previous.exact.builder();
  const wildcard = previous.wildcard.builder();
  for (const { key, after } of changes) placeHost(key, after?.certificate, exact, wildcard);
  return { exact: exact.build(), wildcard: wildcard.build(), hostsSorted: true };
}

export class CertificateContexts {
  readonly #lookup: ContextLookup;
  /** For names no certificate covers, and for clients that send no SNI. */
  readonly defaultContext: SecureContext;
  /** The default certificate's id, or null for the fake certificate. */
  readonly defaultCertificateId: string | null;
  /** The default certificate, or null for the fake certificate. */
  readonly defaultCertificate: CertificateSpec | null;
  /** Certificates OpenSSL refused to load (computeRoutes already checked them, so this is rare); their hosts get the default. */
  readonly unusable: readonly string[];

  constructor(spec: TlsSpec | undefined, fakeContext: SecureContext, previous: CertificateContexts | null) {
    const before = previous === null ? null : previous.#lookup;
    const certificates = spec?.certificates ?? [];
    const hosts = spec?.hosts ?? [];
    const compiled = (before === null ? null : certificatesFromChanges(certificates, before)) ?? certificatesFromScratch(certificates, before);
    const named = (before === null ? null : hostsFromChanges(hosts, before)) ?? hostsFromScratch(hosts, compiled.byId);
    this.#lookup = { certificates, hosts, ...compiled, ...named };
    const chosenDefault = spec?.defaultCertificate ? compiled.byId.get(spec.defaultCertificate) : undefined;
    this.defaultContext = chosenDefault ?? fakeContext;
    this.defaultCertificateId = chosenDefault ? (spec?.defaultCertificate ?? null) : null;
    this.defaultCertificate = this.defaultCertificateId === null ? null : certificateWithId(certificates, this.defaultCertificateId, compiled.certificatesSorted);
    this.unusable = compiled.refused.map((refusal) => refusal.message);
  }

  /** The context for an SNI server name (any case, maybe with a trailing dot). */
  forServerName(serverName: string): SecureContext {
    const host = normalizeServerName(serverName);
    const { byId, exact, wildcard } = this.#lookup;
    const exactId = exact.get(host);
    const exactContext = exactId === undefined ? undefined : byId.get(exactId);
    if (exactContext) return exactContext;
    const dot = host.indexOf('.');
    const wildcardId = dot > 0 ? wildcard.get(host.slice(dot + 1)) : undefined;
    return (wildcardId === undefined ? undefined : byId.get(wildcardId)) ?? this.defaultContext;
  }

  /** The id of the certificate forServerName picks, or null for the fake certificate (what it serves, as data). */
  certificateIdFor(serverName: string): string | null {
    const host = normalizeServerName(serverName);
    const { byId, exact, wildcard } = this.#lookup;
    const exactId = exact.get(host);
    if (exactId !== undefined && byId.has(exactId)) return exactId;
    const dot = host.indexOf('.');
    const wildcardId = dot > 0 ? wildcard.get(host.slice(dot + 1)) : undefined;
    return wildcardId !== undefined && byId.has(wildcardId) ? wildcardId : this.defaultCertificateId;
  }
}

function certificateWithId(certificates: readonly CertificateSpec[], id: string, sorted: boolean): CertificateSpec | null {
  if (!sorted) return certificates.find((certificate) => certificate.id === id) ?? null;
  const index = indexOfKey(certificates, id, certificateId);
  return index === -1 ? null : (certificates[index] as CertificateSpec);
}

function normalizeServerName(serverName: string): string {
  const lower = serverName.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

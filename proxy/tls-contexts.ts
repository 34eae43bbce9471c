// Secure contexts compiled from a table's TlsSpec, found by SNI with hash lookups: exact host,
// then a wildcard for the parent domain (one label), then the default certificate. Compiled
// once per swap; a certificate whose id (a hash of its PEM) was already compiled by the previous
// table is reused, so rotating one Secret among thousands compiles one context.
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsSpec } from './route-spec.ts';
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

export class CertificateContexts {
  /** Compiled contexts by certificate id, for the next table to reuse. */
  readonly #byId = new Map<string, SecureContext>();
  readonly #exact = new Map<string, SecureContext>();
  /** Wildcard certificates keyed by the domain after `*.`. */
  readonly #wildcard = new Map<string, SecureContext>();
  /** For names no certificate covers, and for clients that send no SNI. */
  readonly defaultContext: SecureContext;
  /** The default certificate's id, or null for the fake certificate. */
  readonly defaultCertificateId: string | null;
  /** Certificates OpenSSL refused to load (computeRoutes already checked them, so this is rare); their hosts get the default. */
  readonly unusable: readonly string[];

  constructor(spec: TlsSpec | undefined, fakeContext: SecureContext, previous: CertificateContexts | null) {
    const unusable: string[] = [];
    for (const certificate of spec?.certificates ?? []) {
      const reused = previous ? previous.#byId.get(certificate.id) : undefined;
      try {
        this.#byId.set(certificate.id, reused ?? secureContextFor(certificate.material));
      } catch (error) {
        unusable.push(`${certificate.secret}: ${(error as Error).message}`);
      }
    }
    for (const { host, certificate } of spec?.hosts ?? []) {
      const context = this.#byId.get(certificate);
      if (!context) continue;
      if (host.startsWith('*.')) this.#wildcard.set(host.slice(2), context);
      else this.#exact.set(host, context);
    }
    const chosenDefault = spec?.defaultCertificate ? this.#byId.get(spec.defaultCertificate) : undefined;
    this.defaultContext = chosenDefault ?? fakeContext;
    this.defaultCertificateId = chosenDefault ? (spec?.defaultCertificate ?? null) : null;
    this.unusable = unusable;
  }

  /** The context for an SNI server name (any case, maybe with a trailing dot). */
  forServerName(serverName: string): SecureContext {
    const host = normalizeServerName(serverName);
    const exact = this.#exact.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    return (dot > 0 ? this.#wildcard.get(host.slice(dot + 1)) : undefined) ?? this.defaultContext;
  }
}

function normalizeServerName(serverName: string): string {
  const lower = serverName.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

// Test certificates, made at test time: `openssl req -x509` (an implementation independent of
// Pier's) for ordinary ones, and Pier's own DER writer only for an expired one, which openssl 3.0
// can't backdate. Plus the Secrets and TLS clients the TLS tests use.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { parseObject, type ObjectOf } from '../../operator/model.ts';
import { makeSelfSignedCertificate } from '../../proxy/tls-fake-certificate.ts';

export interface TestCertificate {
  readonly certificatePem: string;
  readonly keyPem: string;
  /** What a client sees as getPeerCertificate().fingerprint256. */
  readonly fingerprint: string;
}

function withFingerprint(certificatePem: string, keyPem: string): TestCertificate {
  return { certificatePem, keyPem, fingerprint: new X509Certificate(certificatePem).fingerprint256 };
}

/** A self-signed ECDSA certificate for these DNS names (the first is also the CN), valid for a day. */
export function makeCertificate(names: readonly string[]): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'pier-cert-'));
  try {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}`,
      '-keyout', key, '-out', cert,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return withFingerprint(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A certificate for `name` that expired yesterday. */
export function makeExpiredCertificate(name: string): TestCertificate {
  const day = 24 * 3600 * 1000;
  const pem = makeSelfSignedCertificate({ organization: 'Test', commonName: name, dnsNames: [name], notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) });
  return withFingerprint(pem.certificatePem, pem.keyPem);
}

/** A certificate for `name` valid from an hour ago until `notAfter` (X.509 keeps whole seconds). */
export function makeCertificateValidUntil(name: string, notAfter: Date): TestCertificate {
  const pem = makeSelfSignedCertificate({ organization: 'Test', commonName: name, dnsNames: [name], notBefore: new Date(Date.now() - 3600 * 1000), notAfter });
  return withFingerprint(pem.certificatePem, pem.keyPem);
}

/** The instant a certificate expires at: one millisecond after its notAfter. */
export function expiresAt(certificate: TestCertificate): number {
  return Date.parse(new X509Certificate(certificate.certificatePem).validTo) + 1;
}

export interface SecretOptions {
  readonly namespace?: string;
  readonly type?: string;
  /** Replace tls.crt / tls.key with these texts (bad PEM, another key). */
  readonly certificatePem?: string;
  readonly keyPem?: string;
}

export function tlsSecret(name: string, certificate: TestCertificate, options: SecretOptions = {}): ObjectOf<'Secret'> {
  const result = parseObject(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: options.namespace ?? 'default' },
      type: options.type ?? 'kubernetes.io/tls',
      data: {
        'tls.crt': Buffer.from(options.certificatePem ?? certificate.certificatePem).toString('base64'),
        'tls.key': Buffer.from(options.keyPem ?? certificate.keyPem).toString('base64'),
      },
    },
    'Secret',
  );
  if (!result.ok) throw new Error(result.error);
  return result.object as ObjectOf<'Secret'>;
}

/** The Secret as a manifest file's text (data base64, as kubectl writes it). */
export function tlsSecretYaml(name: string, certificate: TestCertificate, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'type: kubernetes.io/tls',
    'data:',
    `  tls.crt: ${Buffer.from(certificate.certificatePem).toString('base64')}`,
    `  tls.key: ${Buffer.from(certificate.keyPem).toString('base64')}`,
    '',
  ].join('\n');
}

export interface Handshake {
  readonly fingerprint: string;
  readonly subject: string;
  readonly alpn: string | false | null;
  readonly protocol: string | null;
  readonly resumed: boolean;
  readonly session: Buffer | undefined;
}

export interface HttpsExchange {
  readonly status: number;
  readonly resumed: boolean;
  /** The server certificate's; a resumed TLS 1.3 handshake sends none, and then this is undefined. */
  readonly fingerprint: string | undefined;
  /** The ticket the server sent on this connection (TLS 1.3 sends one after the handshake). */
  readonly session: Buffer | undefined;
}

/** One `GET /` on a TLS connection of its own to 127.0.0.1:port with SNI `host`, offering `session` for resumption when given. */
export function httpsGetOnNewConnection(port: number, host: string, session?: Buffer, timeoutMs = 5_000): Promise<HttpsExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) });
    let response = '';
    let ticket: Buffer | undefined;
    let handshake = { resumed: false, fingerprint: undefined as string | undefined };
    socket.on('session', (data: Buffer) => (ticket = data));
    socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('request timed out')));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      handshake = { resumed: socket.isSessionReused(), fingerprint: socket.getPeerCertificate().fingerprint256 };
      socket.write(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
    });
    socket.once('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1] ?? 0), ...handshake, session: ticket }));
  });
}

/** One TLS handshake to 127.0.0.1:port with this SNI (none when undefined); the certificate isn't verified. */
export function handshake(port: number, serverName: string | undefined, options: { alpn?: string[]; session?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ...(serverName === undefined ? {} : { servername: serverName }),
      rejectUnauthorized: false,
      ALPNProtocols: options.alpn ?? ['http/1.1'],
      ...(options.session ? { session: options.session } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    });
    let session: Buffer | undefined;
    socket.on('session', (data: Buffer) => (session = data));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const result = {
        fingerprint: peer.fingerprint256,
        subject: String(peer.subject?.CN ?? ''),
        alpn: socket.alpnProtocol,
        protocol: socket.getProtocol(),
        resumed: socket.isSessionReused(),
      };
      // TLS 1.3 sends its ticket after the handshake: wait a moment for it.
      setTimeout(() => {
        socket.destroy();
        resolve({ ...result, session: session ?? socket.getSession() });
      }, 20);
    });
  });
}

/** A one-rule Ingress (class pier, Service `web` port 80) per host, with this spec.tls. */
export function tlsIngress(name: string, hosts: readonly string[], tls: { hosts?: string[]; secretName?: string }[], options: { namespace?: string; annotations?: Record<string, string>; createdAt?: string; service?: string } = {}): ObjectOf<'Ingress'> {
  const result = parseObject(
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name,
        namespace: options.namespace ?? 'default',
        ...(options.annotations ? { annotations: options.annotations } : {}),
        ...(options.createdAt ? { creationTimestamp: options.createdAt } : {}),
      },
      spec: {
        ingressClassName: 'pier',
        tls,
        rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: options.service ?? 'web', port: { number: 80 } } } }] } })),
      },
    },
    'Ingress',
  );
  if (!result.ok) throw new Error(result.error);
  return result.object as ObjectOf<'Ingress'>;
}

export function configMap(name: string, data: Record<string, string>, namespace = 'ingress'): ObjectOf<'ConfigMap'> {
  const result = parseObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data }, 'ConfigMap');
  if (!result.ok) throw new Error(result.error);
  return result.object as ObjectOf<'ConfigMap'>;
}

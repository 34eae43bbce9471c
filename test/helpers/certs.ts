// Test certificates, made at test time: `openssl req -x509` (an implementation independent of
// Pier's) for ordinary ones, and Pier's own DER writer only for an expired one, which openssl 3.0
// can't backdate. Plus the Secrets and TLS clients the TLS tests use.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
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

/** The key shapes real clusters hold, each as `openssl` writes it. */
export type KeyShape = 'rsa2048-pkcs1' | 'rsa2048-pkcs8' | 'rsa4096-pkcs1' | 'rsa4096-pkcs8' | 'p256-sec1' | 'p256-pkcs8' | 'p384-sec1' | 'p384-pkcs8' | UnusableKeyShape;
/** Keys that parse and match their certificate, but that OpenSSL won't load (RSA 512) or no handshake can use (DSA). */
export type UnusableKeyShape = 'rsa512-pkcs8' | 'dsa1024-pkcs8';

/**
 * `openssl req -newkey` arguments per key (DSA's name a parameter file, made first with
 * `genpkey -genparam`), and the command that rewrites a PKCS#8 key into the traditional form.
 */
const DSA_PARAMETERS = 'dsa.params';
const KEY_SHAPES: Record<KeyShape, { newkey: string[]; traditional: string[] | null; parameters?: string[] }> = {
  'rsa2048-pkcs1': { newkey: ['rsa:2048'], traditional: ['rsa', '-traditional'] },
  'rsa2048-pkcs8': { newkey: ['rsa:2048'], traditional: null },
  'rsa4096-pkcs1': { newkey: ['rsa:4096'], traditional: ['rsa', '-traditional'] },
  'rsa4096-pkcs8': { newkey: ['rsa:4096'], traditional: null },
  'p256-sec1': { newkey: ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], traditional: ['ec'] },
  'p256-pkcs8': { newkey: ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], traditional: null },
  'p384-sec1': { newkey: ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], traditional: ['ec'] },
  'p384-pkcs8': { newkey: ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], traditional: null },
  'rsa512-pkcs8': { newkey: ['rsa:512'], traditional: null },
  'dsa1024-pkcs8': { newkey: [`dsa:${DSA_PARAMETERS}`], traditional: null, parameters: ['-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:1024'] },
};

function openssl(args: string[], cwd?: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

function inTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pier-cert-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const subjectAltName = (names: readonly string[]): string => `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}`;

/** A self-signed certificate for these DNS names (the first is also the CN), valid for a day, made by `openssl req -x509`. */
export function makeCertificate(names: readonly string[], shape: KeyShape = 'p256-pkcs8'): TestCertificate {
  return inTempDir((dir) => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const parameters = KEY_SHAPES[shape].parameters;
    if (parameters) openssl(['genpkey', '-genparam', ...parameters, '-out', DSA_PARAMETERS], dir);
    openssl(['req', '-x509', '-newkey', ...KEY_SHAPES[shape].newkey, '-nodes', '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', subjectAltName(names), '-keyout', key, '-out', cert], dir);
    const traditional = KEY_SHAPES[shape].traditional;
    const keyPem = traditional ? openssl([...traditional, '-in', key]) : readFileSync(key, 'utf8');
    return withFingerprint(readFileSync(cert, 'utf8'), keyPem);
  });
}

export interface TestChain extends TestCertificate {
  /** The self-signed root that signed the intermediate: what a client trusts. */
  readonly rootPem: string;
  /** The intermediate's own certificate, the second one in certificatePem. */
  readonly intermediatePem: string;
}

/** A leaf for `names` (RSA 2048) signed by an intermediate CA signed by a root CA; certificatePem is the leaf then the intermediate, as cert-manager writes tls.crt. */
export function makeCertificateChain(names: readonly string[]): TestChain {
  return inTempDir((dir) => {
    const path = (name: string): string => join(dir, name);
    const caExtensions = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Pier Test Root CA', ...caExtensions, '-keyout', path('root.key'), '-out', path('root.crt')]);
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Pier Test Intermediate CA', '-keyout', path('int.key'), '-out', path('int.csr')]);
    writeFileSync(path('int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    openssl(['x509', '-req', '-in', path('int.csr'), '-CA', path('root.crt'), '-CAkey', path('root.key'), '-CAcreateserial', '-days', '2', '-extfile', path('int.ext'), '-out', path('int.crt')]);
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', path('leaf.key'), '-out', path('leaf.csr')]);
    writeFileSync(path('leaf.ext'), `${subjectAltName(names)}\nextendedKeyUsage=serverAuth\n`);
    openssl(['x509', '-req', '-in', path('leaf.csr'), '-CA', path('int.crt'), '-CAkey', path('int.key'), '-CAcreateserial', '-days', '1', '-extfile', path('leaf.ext'), '-out', path('leaf.crt')]);
    const intermediatePem = readFileSync(path('int.crt'), 'utf8');
    const leaf = withFingerprint(readFileSync(path('leaf.crt'), 'utf8') + intermediatePem, readFileSync(path('leaf.key'), 'utf8'));
    return { ...leaf, rootPem: readFileSync(path('root.crt'), 'utf8'), intermediatePem };
  });
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
  /** More keys, as cert-manager adds `ca.crt`. */
  readonly extraData?: Readonly<Record<string, string>>;
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
        ...Object.fromEntries(Object.entries(options.extraData ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
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
  /** The client verified the chain against its `ca` (only meaningful when the test gave one). */
  readonly authorized: boolean;
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
export function handshake(port: number, serverName: string | undefined, options: { alpn?: string[]; session?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; client?: ConnectionOptions } = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ...(serverName === undefined ? {} : { servername: serverName }),
      rejectUnauthorized: false,
      ALPNProtocols: options.alpn ?? ['http/1.1'],
      ...(options.session ? { session: options.session } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...options.client,
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
        authorized: socket.authorized,
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

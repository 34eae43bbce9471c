// The certificate served when nothing else matches and no --default-ssl-certificate is set: a
// self-signed one made at start-up with ingress-nginx's subject, so clients and scripts that
// recognise ingress-nginx's fake certificate recognise Pier's. Node can sign but has no X.509
// builder, so the few DER structures a certificate needs are written here (about 60 lines, no
// dependency, no `openssl` binary in the image, nothing written to disk).
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export const FAKE_CERTIFICATE_COMMON_NAME = 'Kubernetes Ingress Controller Fake Certificate';
const FAKE_CERTIFICATE_ORGANIZATION = 'Acme Co';
const FAKE_CERTIFICATE_DNS_NAME = 'ingress.local';
const VALIDITY_MS = 365 * 24 * 3600 * 1000;
/** Starts an hour early so a client whose clock is a little behind still accepts it. */
const CLOCK_SKEW_MS = 3600 * 1000;
const SERIAL_BYTES = 16;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectAltName: '2.5.29.17',
  extendedKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const TAG = { integer: 0x02, bitString: 0x03, octetString: 0x04, oid: 0x06, utf8: 0x0c, sequence: 0x30, set: 0x31, utcTime: 0x17, generalizedTime: 0x18 } as const;

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), content]);
  const lengthBytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) lengthBytes.unshift(rest & 0xff);
  return Buffer.concat([Buffer.from([tag, 0x80 | lengthBytes.length, ...lengthBytes]), content]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(TAG.sequence, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) base128.unshift((value & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}

/** X.509 wants UTCTime until 2049 and GeneralizedTime after. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? tlv(TAG.utcTime, Buffer.from(iso.slice(2))) : tlv(TAG.generalizedTime, Buffer.from(iso));
}

function name(organization: string, commonName: string): Buffer {
  const attribute = (type: string, value: string) => tlv(TAG.set, sequence(oid(type), tlv(TAG.utf8, Buffer.from(value))));
  return sequence(attribute(OID.organization, organization), attribute(OID.commonName, commonName));
}

function extension(type: string, value: Buffer): Buffer {
  return sequence(oid(type), tlv(TAG.octetString, value));
}

export interface PemPair {
  readonly certificatePem: string;
  readonly keyPem: string;
}

export interface SelfSignedOptions {
  readonly organization: string;
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** ingress-nginx's fake certificate: its subject and name, valid for a year from `now`. */
export function makeFakeCertificate(now: Date): PemPair {
  return makeSelfSignedCertificate({
    organization: FAKE_CERTIFICATE_ORGANIZATION,
    commonName: FAKE_CERTIFICATE_COMMON_NAME,
    dnsNames: [FAKE_CERTIFICATE_DNS_NAME],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
  });
}

/** A fresh ECDSA P-256 key (quick to make, quick to handshake with) and a self-signed server certificate for it. */
export function makeSelfSignedCertificate(options: SelfSignedOptions): PemPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = randomBytes(SERIAL_BYTES);
  // DER wants a positive INTEGER in its shortest form: a clear top bit (positive) and a non-zero
  // first byte (a leading 0x00 is only allowed before a byte with the top bit set).
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  const subject = name(options.organization, options.commonName);
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  const dnsNames = options.dnsNames.map((dnsName) => tlv(0x82, Buffer.from(dnsName))); // [2] IMPLICIT dNSName
  const tbs = sequence(
    tlv(0xa0, tlv(TAG.integer, Buffer.from([2]))), // [0] EXPLICIT version: v3
    tlv(TAG.integer, serial),
    signatureAlgorithm,
    subject, // issuer: self-signed
    sequence(time(options.notBefore), time(options.notAfter)),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, sequence(extension(OID.subjectAltName, sequence(...dnsNames)), extension(OID.extendedKeyUsage, sequence(oid(OID.serverAuth))))),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, signatureAlgorithm, tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), signature])));
  const base64Lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return {
    certificatePem: `-----BEGIN CERTIFICATE-----\n${base64Lines.join('\n')}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

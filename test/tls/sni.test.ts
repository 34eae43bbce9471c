// Certificates chosen by SNI on real handshakes: exact host, wildcard (one label), the default
// certificate (the fake one, or --default-ssl-certificate) for everything else, invalid Secrets
// falling back for their host only, TLS versions and session resumption.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_CERTIFICATE_COMMON_NAME } from '../../proxy/tls-fake-certificate.ts';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { handshake, makeCertificate, makeExpiredCertificate, tlsIngress, tlsSecret, type TestCertificate } from '../helpers/certs.ts';
import { localService, startTlsProxy, type TlsProxy } from './harness.ts';
import type { KubeObject } from '../../operator/model.ts';

const foo = makeCertificate(['foo.com']);
const wildcard = makeCertificate(['*.foo.com']);
const fallback = makeCertificate(['default.example']);
const bar = makeCertificate(['bar.com']);

describe('TLS: the certificate a handshake gets', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let web: KubeObject[];
  let fakeFingerprint: string;

  before(async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('ok'));
    web = localService('web', upstream.port);
    proxy = await startTlsProxy(resources);
    fakeFingerprint = (await handshake(proxy.https, 'anything.example')).fingerprint;
  });
  after(() => resources.closeAll());

  const base = (): KubeObject[] => [
    ...web,
    tlsIngress('foo', ['foo.com'], [{ hosts: ['foo.com'], secretName: 'foo' }]),
    tlsSecret('foo', foo),
    tlsIngress('wild', ['a.foo.com'], [{ hosts: ['*.foo.com'], secretName: 'wild' }]),
    tlsSecret('wild', wildcard),
  ];

  it("answers with the fake certificate, ingress-nginx's subject, before any table is loaded", async () => {
    const seen = await handshake(proxy.https, 'foo.com');
    assert.equal(seen.subject, FAKE_CERTIFICATE_COMMON_NAME);
  });

  const sniCases: { name: string; serverName: string | undefined; expected: () => TestCertificate | 'fake' }[] = [
    { name: 'An exact host gets its own certificate', serverName: 'foo.com', expected: () => foo },
    { name: 'SNI is matched case-insensitively', serverName: 'FOO.com', expected: () => foo },
    { name: 'A host one label under a wildcard gets the wildcard certificate', serverName: 'b.foo.com', expected: () => wildcard },
    { name: 'A host two labels under a wildcard gets the default certificate', serverName: 'x.b.foo.com', expected: () => 'fake' },
    { name: 'A name no Ingress lists gets the fake certificate', serverName: 'unknown.example', expected: () => 'fake' },
    { name: 'A client that sends no SNI gets the fake certificate', serverName: undefined, expected: () => 'fake' },
  ];
  for (const testCase of sniCases) {
    it(testCase.name, async () => {
      proxy.apply(base());
      const seen = await handshake(proxy.https, testCase.serverName);
      const expected = testCase.expected();
      assert.equal(seen.fingerprint, expected === 'fake' ? fakeFingerprint : expected.fingerprint);
    });
  }

  it('An exact certificate beats a wildcard one for the same name', async () => {
    const exact = makeCertificate(['a.foo.com']);
    proxy.apply([...base(), tlsIngress('exact', ['a.foo.com'], [{ hosts: ['a.foo.com'], secretName: 'exact' }]), tlsSecret('exact', exact)]);
    assert.equal((await handshake(proxy.https, 'a.foo.com')).fingerprint, exact.fingerprint);
    assert.equal((await handshake(proxy.https, 'b.foo.com')).fingerprint, wildcard.fingerprint);
  });

  it('--default-ssl-certificate answers for unknown names and for clients without SNI', async () => {
    proxy.apply([...base(), tlsSecret('fallback', fallback, { namespace: 'ingress' })], { defaultSslCertificate: { namespace: 'ingress', name: 'fallback' } });
    assert.equal((await handshake(proxy.https, 'unknown.example')).fingerprint, fallback.fingerprint);
    assert.equal((await handshake(proxy.https, undefined)).fingerprint, fallback.fingerprint);
    assert.equal((await handshake(proxy.https, 'foo.com')).fingerprint, foo.fingerprint);
    // Unset again: the fake certificate is back, for SNI and non-SNI clients alike.
    proxy.apply(base());
    assert.equal((await handshake(proxy.https, undefined)).fingerprint, fakeFingerprint);
    assert.equal((await handshake(proxy.https, 'unknown.example')).fingerprint, fakeFingerprint);
  });

  const invalidCases: { name: string; secret: () => KubeObject; reason: string }[] = [
    { name: 'A Secret with bad PEM', secret: () => tlsSecret('bar', bar, { certificatePem: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' }), reason: 'TlsSecretInvalid' },
    { name: 'A Secret whose key does not match', secret: () => tlsSecret('bar', bar, { keyPem: foo.keyPem }), reason: 'TlsSecretInvalid' },
    { name: 'A Secret with an expired certificate', secret: () => tlsSecret('bar', makeExpiredCertificate('bar.com')), reason: 'TlsSecretInvalid' },
    { name: 'A Secret of the wrong type', secret: () => tlsSecret('bar', bar, { type: 'Opaque' }), reason: 'TlsSecretInvalid' },
  ];
  for (const testCase of invalidCases) {
    it(`${testCase.name} is a warning, and only its host falls back to the default certificate`, async () => {
      const result = proxy.apply([...base(), tlsIngress('bar', ['bar.com'], [{ hosts: ['bar.com'], secretName: 'bar' }]), testCase.secret()]);
      assert.deepEqual(result.warnings.map((warning) => `${warning.name} ${warning.reason}`), [`bar ${testCase.reason}`]);
      assert.equal((await handshake(proxy.https, 'bar.com')).fingerprint, fakeFingerprint);
      assert.equal((await handshake(proxy.https, 'foo.com')).fingerprint, foo.fingerprint);
      assert.equal((await handshake(proxy.https, 'b.foo.com')).fingerprint, wildcard.fingerprint);
    });
  }

  it('offers TLS 1.3 and 1.2 with ECDHE and AEAD ciphers, and refuses TLS 1.1', async () => {
    proxy.apply(base());
    assert.equal((await handshake(proxy.https, 'foo.com')).protocol, 'TLSv1.3');
    assert.equal((await handshake(proxy.https, 'foo.com', { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
    await assert.rejects(
      new Promise((resolve, reject) => {
        import('node:tls').then(({ connect }) => {
          const socket = connect({ host: '127.0.0.1', port: proxy.https, servername: 'foo.com', rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
          socket.once('secureConnect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', reject);
        }, reject);
      }),
    );
    const { connect } = await import('node:tls');
    const cipher = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: proxy.https, servername: 'foo.com', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
      socket.once('secureConnect', () => {
        resolve(socket.getCipher().standardName);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    assert.match(cipher, /^TLS_ECDHE_ECDSA_WITH_(AES_\d+_GCM|CHACHA20_POLY1305)/);
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`resumes ${version} sessions with a ticket, on an SNI certificate, until the ticket keys rotate`, async () => {
      proxy.apply(base());
      const first = await handshake(proxy.https, 'foo.com', { maxVersion: version });
      assert.ok(first.session, 'the server issued a session ticket');
      const again = await handshake(proxy.https, 'foo.com', { maxVersion: version, session: first.session });
      // A resumed session sends no certificate: the resumption itself is the check.
      assert.equal(again.resumed, true);
      proxy.server.rotateTicketKeys();
      const afterRotation = await handshake(proxy.https, 'foo.com', { maxVersion: version, session: again.session ?? first.session });
      assert.equal(afterRotation.resumed, false);
    });
  }
});

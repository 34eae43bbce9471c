// `pier serve --manifests` with openssl-made Secrets, with one proxy process and with two: an RSA
// certificate is served by SNI, an RSA --default-ssl-certificate to clients without SNI, and a
// certificate OpenSSL refuses is reported everywhere a user looks (the log, `pier routes`, /metrics)
// while its host gets the default certificate.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { handshake, makeCertificate, tlsSecretYaml } from '../helpers/certs.ts';
import { INGRESS_CLASS_YAML, backendManifest } from '../helpers/manifests.ts';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { runPier, startPier, type PierProcess } from '../standalone/pier-process.ts';

const RSA_HOST = 'rsa.example';
const WEAK_HOST = 'weak.example';
/** Enough new connections that, with two workers, both are all but sure to take some. */
const HANDSHAKES = 8;
const rsa = makeCertificate([RSA_HOST], 'rsa2048-pkcs1');
const weak = makeCertificate([WEAK_HOST], 'rsa512-pkcs8');
const rsaDefault = makeCertificate(['default.example'], 'rsa4096-pkcs8');

function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

for (const workers of [1, 2]) {
  describe(`pier serve --workers=${workers} with openssl-made certificates`, { timeout: 60_000 }, () => {
    const resources = new Resources();
    let dir: string;
    let pier: PierProcess;

    before(async () => {
      const backend = await startUpstream(resources, (_req, res) => res.end('ok'));
      dir = await mkdtemp(join(tmpdir(), 'pier-tls-shapes-'));
      await writeFile(
        join(dir, 'app.yaml'),
        [INGRESS_CLASS_YAML, backendManifest('rsa', RSA_HOST, backend.port, 'rsa-tls'), backendManifest('weak', WEAK_HOST, backend.port, 'weak-tls')].join('---\n'),
      );
      await writeFile(join(dir, 'secrets.yaml'), [tlsSecretYaml('rsa-tls', rsa), tlsSecretYaml('weak-tls', weak), tlsSecretYaml('default-tls', rsaDefault)].join('---\n'));
      pier = await startPier(['serve', '--manifests', dir, `--workers=${workers}`, '--default-ssl-certificate=default/default-tls']);
      if (workers > 1) await pier.waitForLog(/proxy worker ready[\s\S]*proxy worker ready/);
    });
    after(async () => {
      await pier?.stop();
      await resources.closeAll();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('serves the RSA certificate on every new connection for its host', async () => {
      for (let i = 0; i < HANDSHAKES; i++) assert.equal((await handshake(pier.ports.https, RSA_HOST)).fingerprint, rsa.fingerprint);
    });

    it('serves the RSA default certificate to clients that send no SNI', async () => {
      for (let i = 0; i < HANDSHAKES; i++) assert.equal((await handshake(pier.ports.https, undefined)).fingerprint, rsaDefault.fingerprint);
    });

    it('gives the host of a certificate OpenSSL refuses the default certificate, and says so in the log and in /metrics', async () => {
      assert.equal((await handshake(pier.ports.https, WEAK_HOST)).fingerprint, rsaDefault.fingerprint);
      await pier.waitForLog(/Ingress default\/weak: spec\.tls\[0\]: Secret default\/weak-tls: OpenSSL refused the certificate and key \(.*ee key too small\); weak\.example gets the default certificate reason=TlsSecretInvalid/);
      const metrics = await metricsText(pier.ports.healthz);
      assert.match(metrics, /^pier_tls_fallback_hosts\{namespace="default",ingress="weak"\} 1$/m);
      assert.doesNotMatch(metrics, /pier_tls_fallback_hosts\{namespace="default",ingress="rsa"\}/);
      assert.match(metrics, /^pier_tls_certificates_refused_total 0$/m);
    });
  });
}

describe('pier routes with a certificate OpenSSL refuses', () => {
  it('lists the warning, naming the Secret and the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-tls-routes-'));
    try {
      await writeFile(join(dir, 'app.yaml'), [INGRESS_CLASS_YAML, backendManifest('weak', WEAK_HOST, 8080, 'weak-tls'), tlsSecretYaml('weak-tls', weak)].join('---\n'));
      const { code, stdout } = await runPier(['routes', '--manifests', dir]);
      assert.equal(code, 0);
      assert.match(stdout, /Warnings:\n {2}Ingress default\/weak: spec\.tls\[0\]: Secret default\/weak-tls: OpenSSL refused the certificate and key \(.*ee key too small\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// `pier serve --manifests DIR` with an Ingress and a kubernetes.io/tls Secret file: HTTPS on the
// `https=` port, and editing the Secret file rotates the certificate live, without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { expiresAt, handshake, makeCertificate, makeCertificateValidUntil, tlsSecretYaml } from '../helpers/certs.ts';
import { INGRESS_CLASS_YAML, backendManifest } from '../helpers/manifests.ts';
import { startPier, type PierProcess } from '../standalone/pier-process.ts';
import { httpGet } from './harness.ts';

const HOST = 'secure.example';
const CHANGE_TIMEOUT_MS = 10_000;

function httpsGetWithCertificate(port: number): Promise<{ status: number; body: string; fingerprint: string; hsts: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: HOST, headers: { host: HOST }, rejectUnauthorized: false, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint, hsts: res.headers['strict-transport-security'] as string | undefined }));
    });
    req.end();
  });
}

describe('pier serve --manifests with a TLS Secret', { timeout: 60_000 }, () => {
  const resources = new Resources();
  let dir: string;
  let pier: PierProcess;
  const first = makeCertificate([HOST]);
  const second = makeCertificate([HOST]);

  before(async () => {
    const backend = await startUpstream(resources, (req, res) => res.end(`backend ${req.headers['x-forwarded-proto']} ${req.url}`));
    dir = await mkdtemp(join(tmpdir(), 'pier-tls-serve-'));
    await writeFile(join(dir, 'app.yaml'), `${INGRESS_CLASS_YAML}---\n${backendManifest('secure', HOST, backend.port, 'secure-tls')}`);
    await writeFile(join(dir, 'secret.yaml'), tlsSecretYaml('secure-tls', first));
    pier = await startPier(['serve', '--manifests', dir]);
  });
  after(async () => {
    await pier?.stop();
    await resources.closeAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logs its HTTPS port and serves the Secret’s certificate there', async () => {
    assert.match(pier.log(), /listening http=\d+ https=\d+ defaultServer=\d+ healthz=\d+/);
    const response = await httpsGetWithCertificate(pier.ports.https);
    assert.equal(response.status, 200);
    assert.equal(response.body, 'backend https /');
    assert.equal(response.fingerprint, first.fingerprint);
    assert.equal(response.hsts, 'max-age=31536000; includeSubDomains');
  });

  it('redirects plain HTTP for the host to the HTTPS port', async () => {
    const response = await httpGet(pier.ports.http, HOST, '/x?y=1');
    assert.equal(response.status, 308);
    assert.equal(response.headers.location, `https://${HOST}:${pier.ports.https}/x?y=1`);
  });

  it('rotates the certificate live when the Secret file changes', async () => {
    await writeFile(join(dir, 'secret.yaml'), tlsSecretYaml('secure-tls', second));
    const deadline = Date.now() + CHANGE_TIMEOUT_MS;
    while ((await handshake(pier.ports.https, HOST)).fingerprint !== second.fingerprint) {
      if (Date.now() > deadline) throw new Error(`the new certificate was not served within ${CHANGE_TIMEOUT_MS} ms:\n${pier.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await httpsGetWithCertificate(pier.ports.https)).status, 200);
    assert.equal(pier.child.exitCode, null);
  });

  it('stops serving a certificate the moment it expires, with no file changing, and logs why', async () => {
    const shortLived = makeCertificateValidUntil(HOST, new Date(Date.now() + 3_000));
    await writeFile(join(dir, 'secret.yaml'), tlsSecretYaml('secure-tls', shortLived));
    const deadline = Date.now() + CHANGE_TIMEOUT_MS;
    while ((await handshake(pier.ports.https, HOST)).fingerprint !== shortLived.fingerprint) {
      if (Date.now() > deadline) throw new Error(`the short-lived certificate was not served within ${CHANGE_TIMEOUT_MS} ms:\n${pier.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const expiry = expiresAt(shortLived);
    // Nothing is written from here on: only the clock moves.
    let served = shortLived.fingerprint;
    while (served === shortLived.fingerprint) {
      if (Date.now() > expiry + CHANGE_TIMEOUT_MS) throw new Error(`the expired certificate was still served ${CHANGE_TIMEOUT_MS} ms after it expired:\n${pier.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      served = (await handshake(pier.ports.https, HOST)).fingerprint;
    }
    assert.ok(Date.now() >= expiry, 'the certificate was replaced before it expired');
    await pier.waitForLog(/the certificate expired on .*reason=TlsSecretInvalid/);
    assert.equal((await httpsGetWithCertificate(pier.ports.https)).status, 200, 'the host is still served, with the default certificate');
  });
});

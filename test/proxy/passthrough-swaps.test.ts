// ssl-passthrough across swaps: a swap that leaves the passthrough list (the same array) and its
// upstreams as they were keeps the passthrough routes it has, and one that changes the upstream
// under them (its endpoints, or the upstream itself leaving and coming back) is followed. Real
// TLS handshakes: the client sees the backend's own certificate when its connection is passed.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { PassthroughSpec, RouteTableSpec, UpstreamSpec, VirtualHostSpec } from '../../proxy/route-spec.ts';
import { handshake, makeCertificate, type TestCertificate } from '../helpers/certs.ts';
import { LOCALHOST, Resources } from '../helpers/upstreams.ts';
import { startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const PASSTHROUGH: readonly PassthroughSpec[] = [{ host: 'pass.example', upstream: 'default/tls-backend:443' }];
const otherHost = (path: string): VirtualHostSpec => ({ host: 'other.example', routes: [{ path, match: 'prefix', pathType: 'Prefix', upstream: 'default/web:80', ingress: { namespace: 'default', name: 'other' } }], fallback: null });
const web: UpstreamSpec = { id: 'default/web:80', namespace: 'default', service: 'web', servicePort: '80', endpoints: [{ address: LOCALHOST, port: 9 }] };
const tlsBackend = (port: number): UpstreamSpec => ({ id: 'default/tls-backend:443', namespace: 'default', service: 'tls-backend', servicePort: '443', endpoints: [{ address: LOCALHOST, port }] });

describe('ssl-passthrough across swaps', { timeout: 30_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  const backends: { certificate: TestCertificate; port: number }[] = [];

  before(async () => {
    for (let index = 0; index < 2; index++) {
      const certificate = makeCertificate(['pass.example']);
      const server = createHttpsServer({ cert: certificate.certificatePem, key: certificate.keyPem }, (_req, res) => res.end());
      const port = await new Promise<number>((resolve) => server.listen(0, LOCALHOST, () => resolve((server.address() as { port: number }).port)));
      resources.add(() => new Promise<void>((done) => (server as unknown as Server).close(() => done())));
      backends.push({ certificate, port });
    }
    proxy = await startTlsProxy(resources);
  });
  after(() => resources.closeAll());

  const table = (path: string, upstreams: readonly UpstreamSpec[]): RouteTableSpec => ({ virtualHosts: [otherHost(path)], defaultBackend: null, upstreams, passthrough: PASSTHROUGH });
  const seen = async (): Promise<string | undefined> => (await handshake(proxy.https, 'pass.example')).fingerprint;

  it('keeps passing a host through when another host changes, and follows its upstream when that changes', async () => {
    const [first, second] = backends as [{ certificate: TestCertificate; port: number }, { certificate: TestCertificate; port: number }];
    proxy.server.swap(table('/', [tlsBackend(first.port), web]));
    assert.equal(await seen(), first.certificate.fingerprint);

    proxy.server.swap(table('/v2', [tlsBackend(first.port), web]));
    assert.equal(await seen(), first.certificate.fingerprint, 'another host changed');

    proxy.server.swap(table('/v2', [tlsBackend(second.port), web]));
    assert.equal(await seen(), second.certificate.fingerprint, 'the upstream has new endpoints');

    proxy.server.swap(table('/v2', [web]));
    const terminated = await seen();
    assert.ok(terminated !== first.certificate.fingerprint && terminated !== second.certificate.fingerprint, 'with its upstream gone, Pier terminates the host');

    proxy.server.swap(table('/v2', [tlsBackend(first.port), web]));
    assert.equal(await seen(), first.certificate.fingerprint, 'the upstream is back, as a new one');
  });
});

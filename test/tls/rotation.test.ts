// A Secret rotated under load: the table (with its certificates) is swapped many times while
// clients run fresh TLS connections, HTTP/1.1 keep-alive connections and an HTTP/2 session.
// No request may fail, connections already open keep working, and new handshakes see the new
// certificate as soon as the swap is done.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Resources, startUpstream, LOCALHOST } from '../helpers/upstreams.ts';
import { handshake, makeCertificate, tlsIngress, tlsSecret, type TestCertificate } from '../helpers/certs.ts';
import { http2Request, http2Session, httpsGet, localService, startTlsProxy, type TlsProxy } from './harness.ts';
import type { KubeObject } from '../../operator/model.ts';

const HOST = 'rotate.example';
const SWAPS = 40;
const SWAP_INTERVAL_MS = 25;

/** One request on a fresh TLS connection; resolves with the certificate that connection got. */
function freshRequest(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: LOCALHOST, port, servername: HOST, headers: { host: HOST }, rejectUnauthorized: false, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(fingerprint) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.end();
  });
}

describe('TLS: rotating a Secret under load', { timeout: 60_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let web: KubeObject[];
  const first = makeCertificate([HOST]);
  const second = makeCertificate([HOST]);

  before(async () => {
    const upstream = await startUpstream(resources, (_req, res) => res.end('ok'));
    web = localService('web', upstream.port);
    proxy = await startTlsProxy(resources);
  });
  after(() => resources.closeAll());

  const withCertificate = (certificate: TestCertificate): KubeObject[] => [...web, tlsIngress('app', [HOST], [{ hosts: [HOST], secretName: 'app' }]), tlsSecret('app', certificate)];

  it(`loses no request while the certificate changes ${SWAPS} times, and new handshakes get the new one`, async () => {
    proxy.apply(withCertificate(first));
    const failures: string[] = [];
    const certificatesSeen = new Map<string, number>();
    let running = true;
    let keepAliveRequests = 0;
    let http2Requests = 0;

    const freshWorker = async (): Promise<void> => {
      for (let i = 0; running && i < 5000; i++) {
        try {
          const fingerprint = await freshRequest(proxy.https);
          certificatesSeen.set(fingerprint, (certificatesSeen.get(fingerprint) ?? 0) + 1);
        } catch (error) {
          failures.push(`fresh: ${String(error)}`);
        }
      }
    };
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 2 });
    resources.add(() => agent.destroy());
    let keepAliveSockets = 0;
    const createConnection = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof createConnection>) => {
      keepAliveSockets++;
      return createConnection(...args);
    }) as typeof agent.createConnection;
    const keepAliveWorker = async (): Promise<void> => {
      for (let i = 0; running && i < 5000; i++) {
        try {
          const response = await httpsGet(proxy.https, HOST, `/keep/${i}`, agent);
          if (response.status !== 200) failures.push(`keep-alive: ${response.status}`);
          keepAliveRequests++;
        } catch (error) {
          failures.push(`keep-alive: ${String(error)}`);
        }
      }
    };
    const session = http2Session(proxy.https, HOST);
    resources.add(() => session.close());
    const http2Worker = async (): Promise<void> => {
      for (let i = 0; running && i < 5000; i++) {
        try {
          const response = await http2Request(session, { ':path': `/h2/${i}`, ':authority': HOST });
          if (Number(response.headers[':status']) !== 200) failures.push(`h2: ${response.headers[':status']}`);
          http2Requests++;
        } catch (error) {
          failures.push(`h2: ${String(error)}`);
        }
      }
    };
    const workers = [freshWorker(), freshWorker(), freshWorker(), keepAliveWorker(), keepAliveWorker(), http2Worker()];

    for (let swap = 1; swap <= SWAPS; swap++) {
      await new Promise((resolve) => setTimeout(resolve, SWAP_INTERVAL_MS));
      proxy.apply(withCertificate(swap % 2 === 0 ? first : second));
    }
    running = false;
    await Promise.all(workers);

    assert.deepEqual(failures, []);
    assert.ok((certificatesSeen.get(first.fingerprint) ?? 0) > 0 && (certificatesSeen.get(second.fingerprint) ?? 0) > 0, `both certificates served: ${[...certificatesSeen.values()]}`);
    assert.ok(keepAliveRequests > keepAliveSockets * 5, `keep-alive connections stayed open across swaps (${keepAliveRequests} requests on ${keepAliveSockets} connections)`);
    assert.ok(http2Requests > 0);
    // SWAPS is even, so the last table has `first`; swap once more and look at the very next handshake.
    proxy.apply(withCertificate(second));
    assert.equal((await handshake(proxy.https, HOST)).fingerprint, second.fingerprint);
  });

  it('resumes, after swaps, a TLS session that was issued before them', async () => {
    proxy.apply(withCertificate(first));
    const before = await handshake(proxy.https, HOST);
    for (let i = 0; i < 5; i++) proxy.apply(withCertificate(first));
    const afterSwaps = await handshake(proxy.https, HOST, { session: before.session as Buffer });
    // Ticket keys belong to the server, not to a table: swapping doesn't cost clients a full handshake.
    assert.equal(afterSwaps.resumed, true);
  });
});

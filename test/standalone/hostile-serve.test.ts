// The hostile-HTTP fixes hold in `pier serve`, with two proxy workers, as a user runs it: a
// tenant's catastrophic regex path doesn't stall other hosts, an absolute-form target is routed by
// its authority, two Host headers get a 400, and header aliases and Proxy never reach a backend.
// test/proxy/hostile-http.test.ts covers each case in depth (HTTP/2 and upgrades included).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { INGRESS_CLASS_YAML, backendManifest } from '../helpers/manifests.ts';
import { Resources, startUpstream } from '../helpers/upstreams.ts';
import { startPier, type PierProcess } from './pier-process.ts';
import { bodyOf, rawRequest, statusOf } from '../helpers/raw-http.ts';

const REGEX_INGRESS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: evil, annotations: {nginx.ingress.kubernetes.io/use-regex: "true"}}
spec:
  ingressClassName: pier
  rules:
    - host: evil.test
      http:
        paths:
          - {path: "/(a+)+b", pathType: ImplementationSpecific, backend: {service: {name: pub, port: {number: 80}}}}
          - {path: "/(x|x)*y", pathType: ImplementationSpecific, backend: {service: {name: pub, port: {number: 80}}}}
`;


describe('pier serve --workers=2 against hostile HTTP', { timeout: 60_000 }, () => {
  const resources = new Resources();
  let dir: string;
  let pier: PierProcess;

  before(async () => {
    const backendFor = (name: string) =>
      startUpstream(resources, (req, res) => res.end(JSON.stringify({ backend: name, url: req.url, headers: req.rawHeaders })));
    const pub = await backendFor('pub');
    const priv = await backendFor('priv');
    dir = await mkdtemp(join(tmpdir(), 'pier-hostile-'));
    await writeFile(join(dir, 'app.yaml'), [INGRESS_CLASS_YAML, backendManifest('pub', 'pub.test', pub.port), backendManifest('priv', 'priv.test', priv.port), REGEX_INGRESS].join('---\n'));
    pier = await startPier(['serve', '--manifests', dir, '--workers=2']);
    await pier.waitForLog(/proxy worker ready[\s\S]*proxy worker ready/);
  });
  after(async () => {
    await pier?.stop();
    await resources.closeAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers hostile paths on a catastrophic regex at once, on every connection, and keeps serving the other hosts', async () => {
    const hostile = ['/' + 'a'.repeat(40), '/' + 'x'.repeat(40), '/' + 'a'.repeat(5_000) + '!'];
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all([
        ...hostile.map((path) => rawRequest(pier.ports.http, `GET ${path} HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n`)),
        rawRequest(pier.ports.http, 'GET / HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'),
      ]);
      assert.deepEqual(answers.map(statusOf), [404, 404, 404, 200]);
    }
    assert.equal(statusOf(await rawRequest(pier.ports.http, `GET /${'a'.repeat(40)}b HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n`)), 200);
  });

  it('routes an absolute-form target by its authority, sending origin form and that Host upstream', async () => {
    const answer = await rawRequest(pier.ports.http, 'GET http://priv.test/x?y=1 HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(answer), 200);
    const seen = JSON.parse(bodyOf(answer)) as { backend: string; url: string; headers: string[] };
    assert.equal(seen.backend, 'priv');
    assert.equal(seen.url, '/x?y=1');
    assert.equal(seen.headers[seen.headers.findIndex((name, index) => index % 2 === 0 && name.toLowerCase() === 'host') + 1], 'priv.test');
  });

  it('answers 400 to two Host headers', async () => {
    assert.equal(statusOf(await rawRequest(pier.ports.http, 'GET / HTTP/1.1\r\nHost: pub.test\r\nHost: priv.test\r\nConnection: close\r\n\r\n')), 400);
  });

  it('forwards no header alias with `_` or `.`, and no Proxy header', async () => {
    const answer = await rawRequest(
      pier.ports.http,
      'GET / HTTP/1.1\r\nHost: pub.test\r\nX_Real_IP: 6.6.6.6\r\nX.Forwarded.For: 6.6.6.6\r\nProxy: http://evil.test:3128\r\nConnection: close\r\n\r\n',
    );
    assert.equal(statusOf(answer), 200);
    const names = (JSON.parse(bodyOf(answer)) as { headers: string[] }).headers.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase());
    assert.deepEqual(names.filter((name) => /[_.]/.test(name) || name === 'proxy'), []);
    assert.ok(names.includes('x-real-ip'));
  });
});

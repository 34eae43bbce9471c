// The annotation families in `pier serve --workers=2`: Ingress files in, a real backend, and the
// route table crossing to the worker processes as plain data. One request per family is enough
// here; the rules are in test/routes/rewrites.test.ts and test/proxy/annotation-stages.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { startPier, type PierProcess } from './pier-process.ts';

const A = 'nginx.ingress.kubernetes.io';

function ingressYaml(name: string, host: string, path: string, pathType: string, annotations: Record<string, string>, service = 'web'): string {
  const lines = Object.entries(annotations).map(([key, value]) => `    ${A}/${key}: ${JSON.stringify(value)}`);
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
  annotations:
${lines.join('\n')}
spec:
  ingressClassName: pier
  rules:
    - host: ${host}
      http:
        paths:
          - path: ${JSON.stringify(path)}
            pathType: ${pathType}
            backend: {service: {name: ${service}, port: {number: 80}}}
`;
}

function serviceYaml(name: string, ports: readonly number[]): string[] {
  return [
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: default}\nspec: {ports: [{port: 80}]}\n`,
    ...ports.map((port, i) => `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ${name}-${i}, namespace: default, labels: {kubernetes.io/service-name: ${name}}}\naddressType: IPv4\nports: [{port: ${port}}]\nendpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]\n`),
  ];
}

describe('annotation families in pier serve --workers=2', () => {
  let dir: string;
  let backend: Server;
  let other: Server;
  let pier: PierProcess;

  const get = async (host: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; location: string | undefined; body: string; seenHost: string | undefined }> => {
    const response = await request(`http://127.0.0.1:${pier.ports.http}${path}`, { method, headers: { host, ...headers } });
    const location = response.headers.location;
    const seenHost = response.headers['x-seen-host'];
    return { status: response.statusCode, location: typeof location === 'string' ? location : undefined, body: await response.body.text(), seenHost: typeof seenHost === 'string' ? seenHost : undefined };
  };

  before(async () => {
    backend = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/slow') return void setTimeout(() => res.end('late'), 1500);
        res.writeHead(200, { 'x-seen-host': req.headers.host ?? '' });
        res.end(`web ${req.url} prefix=${req.headers['x-forwarded-prefix'] ?? '-'}`);
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const port = (backend.address() as { port: number }).port;
    other = createServer((_req, res) => res.end('other'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherPort = (other.address() as { port: number }).port;
    dir = await mkdtemp(join(tmpdir(), 'pier-annotations-'));
    const documents = [
      'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: pier}\nspec: {controller: pier.dev/ingress-controller}\n',
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {ports: [{port: 80}]}\n',
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nports: [{port: ${port}}]\nendpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]\n`,
      ingressYaml('rewrite', 'rewrite.example', '/api(/|$)(.*)', 'ImplementationSpecific', { 'rewrite-target': '/$2', 'x-forwarded-prefix': '/api' }),
      ingressYaml('approot', 'approot.example', '/', 'Prefix', { 'app-root': '/app1' }),
      ingressYaml('moved', 'moved.example', '/', 'Prefix', { 'temporal-redirect': 'https://elsewhere.example/x', 'temporal-redirect-code': '307' }),
      ingressYaml('site', 'site.example', '/', 'Prefix', { 'from-to-www-redirect': 'true' }),
      ingressYaml('vhost', 'vhost.example', '/', 'Prefix', { 'upstream-vhost': 'internal.example' }),
      ingressYaml('small', 'small.example', '/', 'Prefix', { 'proxy-body-size': '1k', 'proxy-read-timeout': '1', 'custom-http-errors': '504', 'default-backend': 'web' }),
      ...serviceYaml('other', [otherPort]),
      ...serviceYaml('pair', [port, otherPort]),
      ingressYaml('shop', 'shop.example', '/', 'Prefix', { affinity: 'cookie' }, 'pair'),
      ingressYaml('shop-canary', 'shop.example', '/', 'Prefix', { canary: 'true', 'canary-by-header': 'X-Canary' }, 'other'),
    ];
    await writeFile(join(dir, 'objects.yaml'), documents.join('---\n'));
    pier = await startPier(['serve', '--manifests', dir, '--workers=2']);
  });

  after(async () => {
    await pier?.stop();
    backend?.close();
    other?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends canary-by-header requests to the canary, and keeps a cookie session on its endpoint whichever worker takes the connection', async () => {
    const fresh = async (headers: Record<string, string>): Promise<{ body: string; cookie: string | undefined }> => {
      // A new connection per request, so the kernel may hand each one to either worker.
      const client = new Client(`http://127.0.0.1:${pier.ports.http}`);
      try {
        const response = await client.request({ path: '/', method: 'GET', headers: { host: 'shop.example', ...headers } });
        const setCookie = response.headers['set-cookie'];
        return { body: await response.body.text(), cookie: typeof setCookie === 'string' ? setCookie.split(';')[0] : undefined };
      } finally {
        await client.close();
      }
    };
    assert.equal((await fresh({ 'x-canary': 'always' })).body, 'other');
    const first = await fresh({});
    assert.ok(first.cookie?.startsWith('INGRESSCOOKIE='), 'the first answer pins the session');
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) bodies.add((await fresh({ cookie: first.cookie as string })).body.split(' ')[0] as string);
    assert.deepEqual([...bodies], [first.body.split(' ')[0]]);
  });

  it('rewrites with the path\'s groups and sends X-Forwarded-Prefix', async () => {
    assert.equal((await get('rewrite.example', '/api/users/7?x=1')).body, 'web /users/7?x=1 prefix=/api');
  });

  it('answers app-root, temporal-redirect and from-to-www-redirect with their codes and Locations', async () => {
    const answers = await Promise.all([get('approot.example', '/'), get('moved.example', '/a/b'), get('www.site.example', '/p/')]);
    assert.deepEqual(answers.map((answer) => `${answer.status} ${answer.location}`), [
      '302 http://approot.example/app1',
      '307 https://elsewhere.example/x',
      `308 http://site.example:${pier.ports.http}/p`,
    ]);
  });

  it('sends upstream-vhost as Host, and answers 413 above proxy-body-size', async () => {
    assert.equal((await get('vhost.example', '/')).seenHost, 'internal.example');
    assert.equal((await get('small.example', '/', {}, 'POST')).status, 200);
    const response = await request(`http://127.0.0.1:${pier.ports.http}/`, { method: 'POST', headers: { host: 'small.example' }, body: 'x'.repeat(2048) });
    await response.body.dump();
    assert.equal(response.statusCode, 413);
  });

  it('answers proxy-read-timeout\'s 504 with the custom-http-errors backend\'s page', async () => {
    const page = await get('small.example', '/slow');
    assert.deepEqual([page.status, page.body], [200, 'web / prefix=-'], 'the error backend (default-backend web) answered for /');
  });
});

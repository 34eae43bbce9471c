// The dashboard as an operator uses it: `pier serve --workers=2` on Ingress files, a real backend,
// and the page loaded in a real headless Chromium. It must show the hosts, backends, endpoints,
// certificate and warnings, draw live request rates, follow a manifest change without a reload,
// filter by the search box, answer "which route would this URL take?", and never show a key.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startPier, type PierProcess } from './pier-process.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeCertificate, tlsSecretYaml } from '../helpers/certs.ts';
import { send } from '../helpers/upstreams.ts';

const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));

function ingressYaml(name: string, host: string, paths: readonly string[], service: string, tls = false): string {
  // With TLS, plain HTTP would be redirected (308); the test's traffic is plain HTTP to the backend.
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}, namespace: default${tls ? ', annotations: {nginx.ingress.kubernetes.io/ssl-redirect: "false"}' : ''}}
spec:
  ingressClassName: pier
${tls ? `  tls: [{hosts: [${host}], secretName: shop-tls}]\n` : ''}  rules:
    - host: ${host}
      http:
        paths:
${paths.map((path) => `          - {path: ${path}, pathType: Prefix, backend: {service: {name: ${service}, port: {number: 80}}}}`).join('\n')}
`;
}

describe('the dashboard in a real browser', { timeout: 120_000 }, () => {
  let dir: string;
  let backend: Server;
  let pier: PierProcess;
  let browser: Browser;
  let page: Page;
  let documents: string[];
  const certificate = makeCertificate(['shop.example']);
  let traffic: NodeJS.Timeout | null = null;

  before(async () => {
    backend = createServer((_req, res) => res.end('shop'));
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const port = (backend.address() as { port: number }).port;
    dir = await mkdtemp(join(tmpdir(), 'pier-dashboard-'));
    documents = [
      'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: pier}\nspec: {controller: pier.dev/ingress-controller}\n',
      'apiVersion: v1\nkind: Service\nmetadata: {name: shop, namespace: default}\nspec: {ports: [{port: 80}]}\n',
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: shop-1, namespace: default, labels: {kubernetes.io/service-name: shop}}\naddressType: IPv4\nports: [{port: ${port}}]\nendpoints: [{addresses: [127.0.0.1]}]\n`,
      tlsSecretYaml('shop-tls', certificate),
      ingressYaml('shop', 'shop.example', ['/', '/api'], 'shop', true),
      ingressYaml('broken', 'broken.example', ['/'], 'no-such-service'),
    ];
    await writeFile(join(dir, 'objects.yaml'), documents.join('---\n'));
    pier = await startPier(['serve', '--manifests', dir, '--workers=2']);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`http://127.0.0.1:${pier.ports.healthz}/dashboard`);
  });

  after(async () => {
    if (traffic) clearInterval(traffic);
    await browser?.close();
    await pier?.stop();
    backend?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows each host with its routes, backends, endpoints and certificate', async () => {
    const shop = page.locator('[data-host="shop.example"]');
    await shop.waitFor();
    assert.deepEqual(await shop.locator('[data-route]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-route'))), ['/api', '/']);
    assert.match(await shop.locator('[data-endpoints]').first().innerText(), /^127\.0\.0\.1:\d+$/);
    const heading = await shop.locator('h3').innerText();
    assert.match(heading, /TLS: CN=shop\.example.* from Secret default\/shop-tls, expires \d{4}-\d\d-\d\d/);
    assert.match(await page.locator('[data-host="broken.example"] [data-endpoints]').innerText(), /none: 503/);
  });

  it('lists every warning, linked to its Ingress', async () => {
    const warning = page.locator('[data-warning="ServiceNotFound"]');
    await warning.waitFor();
    assert.match(await warning.innerText(), /Service default\/no-such-service not found/);
    assert.equal(await warning.locator('a').getAttribute('href'), '#ingress-default-broken');
  });

  it('draws the request rate of a route from /metrics, updating without a reload', async () => {
    traffic = setInterval(() => void send(pier.ports.http, { host: 'shop.example', path: '/api/items' }).catch(() => undefined), 20);
    const rate = page.locator('[data-host="shop.example"] [data-route="/api"] [data-rate]');
    await page.waitForFunction(() => {
      const cell = document.querySelector('[data-host="shop.example"] [data-route="/api"] [data-rate]');
      return cell !== null && Number.parseFloat(cell.textContent ?? '0') > 0;
    }, undefined, { timeout: 15_000 });
    assert.match(await rate.innerText(), /^\d+\.\d\/s$/);
    await page.waitForFunction(() => /ms$/.test(document.querySelector('[data-host="shop.example"] [data-route="/api"] [data-latency]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    assert.equal(await page.locator('[data-host="shop.example"] [data-route="/api"] svg polyline').count(), 1);
  });

  it('follows a manifest change: a new Ingress appears on the open page', async () => {
    await writeFile(join(dir, 'objects.yaml'), [...documents, ingressYaml('blog', 'blog.example', ['/posts'], 'shop')].join('---\n'));
    await page.locator('[data-host="blog.example"] [data-route="/posts"]').waitFor({ timeout: 15_000 });
  });

  it('filters hosts and paths with the search box', async () => {
    await page.fill('#search', 'blog');
    assert.deepEqual(await page.locator('[data-host]').evaluateAll((hosts) => hosts.map((host) => host.getAttribute('data-host'))), ['blog.example']);
    await page.fill('#search', '');
    assert.equal(await page.locator('[data-host]').count(), 3);
  });

  it('answers which route a URL would take, with the proxy\'s own matcher', async () => {
    await page.fill('#url', 'shop.example/api/orders?id=7');
    await page.click('#which button');
    await page.waitForFunction(() => (document.querySelector('#answer')?.textContent ?? '') !== '');
    assert.equal(await page.locator('#answer').innerText(), 'shop.example/api/orders: /api (Prefix) of Ingress default/shop, to default/shop:80');
    await page.fill('#url', 'nowhere.example/');
    await page.click('#which button');
    await page.waitForFunction(() => (document.querySelector('#answer')?.textContent ?? '').includes('nowhere'));
    assert.equal(await page.locator('#answer').innerText(), 'nowhere.example/: no route (404)');
  });

  it('never shows a Secret\'s contents, in the page or its JSON, and loads nothing from elsewhere', async () => {
    const key = certificate.keyPem.split('\n')[1] as string;
    assert.equal((await page.content()).includes(key), false);
    const state = await (await fetch(`http://127.0.0.1:${pier.ports.healthz}/dashboard/state.json`)).text();
    assert.equal(state.includes(key) || state.includes('PRIVATE KEY') || state.includes(certificate.certificatePem.split('\n')[1] as string), false);
    const html = await (await fetch(`http://127.0.0.1:${pier.ports.healthz}/dashboard`)).text();
    assert.equal(/(src|href)="https?:/.test(html), false, 'no external asset');
  });

  it('takes the screenshot the README shows (written to docs/ with PIER_UPDATE_SCREENSHOT=1)', async () => {
    const image = await page.screenshot({ fullPage: true });
    assert.ok(image.length > 10_000, 'a screenshot with something in it');
    if (process.env.PIER_UPDATE_SCREENSHOT === '1') await writeFile(SCREENSHOT, image);
    else assert.ok((await readFile(SCREENSHOT)).length > 10_000, 'docs/dashboard.png exists');
  });
});

describe('the dashboard flag', () => {
  it('leaves /dashboard out with --dashboard=false, while /healthz and /metrics stay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-no-dashboard-'));
    await writeFile(join(dir, 'objects.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: pier}\nspec: {controller: pier.dev/ingress-controller}\n');
    const pier = await startPier(['serve', '--manifests', dir, '--workers=1', '--dashboard=false']);
    try {
      const base = `http://127.0.0.1:${pier.ports.healthz}`;
      assert.deepEqual([(await fetch(`${base}/dashboard`)).status, (await fetch(`${base}/dashboard/state.json`)).status, (await fetch(`${base}/healthz`)).status], [404, 404, 200]);
    } finally {
      await pier.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// `pier serve --manifests DIR` end to end: the real command, real files, a real backend.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { runPier, startPier, type PierProcess } from './pier-process.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const CHANGE_TIMEOUT_MS = 10_000;

function startBackend(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name} ${req.url}`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

async function get(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  const response = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: response.statusCode, body: await response.body.text() };
}

/** Polls until the request gives the expected status and body prefix, as a live change propagates. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + CHANGE_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('pier serve --manifests', () => {
  let dir: string;
  let blue: { server: Server; port: number };
  let green: { server: Server; port: number };
  let pier: PierProcess;

  before(async () => {
    blue = await startBackend('blue');
    green = await startBackend('green');
    dir = await mkdtemp(join(tmpdir(), 'pier-serve-'));
    await cp(EXAMPLES, dir, { recursive: true });
    // Point the example's EndpointSlice at this test's backend.
    const service = await readFile(join(dir, 'service.yaml'), 'utf8');
    await writeFile(join(dir, 'service.yaml'), service.replace('port: 8080\n    protocol: TCP', `port: ${blue.port}\n    protocol: TCP`));
    pier = await startPier(['serve', '--manifests', dir]);
  });

  after(async () => {
    await pier?.stop();
    blue?.server.close();
    green?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the bundled example: ngx.myingress.com reaches the backend', async () => {
    const response = await get(pier.ports.http, 'ngx.myingress.com', '/hello?x=1');
    assert.deepEqual(response, { status: 200, body: 'blue /hello?x=1' });
  });

  it('answers 404 for a host no Ingress names, on the HTTP port and on the default-server port', async () => {
    assert.equal((await get(pier.ports.http, 'unknown.example')).status, 404);
    assert.equal((await get(pier.ports.defaultServer, 'ngx.myingress.com')).status, 404);
  });

  it('answers /healthz with 200 on the HTTP port and on the health port', async () => {
    assert.equal((await get(pier.ports.http, '10.0.0.1', '/healthz')).status, 200);
    assert.equal((await get(pier.ports.healthz, 'localhost', '/healthz')).status, 200);
  });

  it('serves Prometheus metrics with requests by ingress, service and status, and configuration changes', async () => {
    await get(pier.ports.http, 'ngx.myingress.com');
    const { status, body } = await get(pier.ports.healthz, 'localhost', '/metrics');
    assert.equal(status, 200);
    assert.match(body, /pier_requests_total\{namespace="default",ingress="nginx",service="nginx",status="200"\} \d+/);
    assert.match(body, /pier_upstream_latency_seconds_bucket\{le="0\.005",namespace="default",ingress="nginx",service="nginx"\}/);
    assert.match(body, /pier_config_changes_total\{result="applied"\} \d+/);
  });

  it('applies an edited file live: a new host and a new endpoint', async () => {
    await writeFile(
      join(dir, 'green.yaml'),
      `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: green}
spec:
  ingressClassName: pier
  rules:
    - host: green.example
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: green, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: green}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: green-1, labels: {kubernetes.io/service-name: green}}
addressType: IPv4
ports: [{name: http, port: ${green.port}}]
endpoints: [{addresses: [127.0.0.1]}]
`,
    );
    await eventually(async () => (await get(pier.ports.http, 'green.example')).body === 'green /', 'green.example reaches the green backend');
  });

  it('keeps the last good routes when a file breaks, and names the file and line', async () => {
    const ingressFile = join(dir, 'ingress.yaml');
    const good = await readFile(ingressFile, 'utf8');
    await writeFile(ingressFile, `${good}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n`);
    await pier.waitForLog(/ERROR ingress\.yaml:\d+: .*previous objects stay in force/);
    assert.deepEqual(await get(pier.ports.http, 'ngx.myingress.com'), { status: 200, body: 'blue /' });
    await writeFile(ingressFile, good.replace('host: ngx.myingress.com', 'host: renamed.example'));
    await eventually(async () => (await get(pier.ports.http, 'renamed.example')).status === 200, 'the repaired file is applied');
    assert.equal((await get(pier.ports.http, 'ngx.myingress.com')).status, 404);
  });

  it('keeps serving an Ingress whose edit made it invalid, and reports why', async () => {
    const greenFile = join(dir, 'green.yaml');
    const good = await readFile(greenFile, 'utf8');
    await writeFile(greenFile, good.replace('pathType: Prefix', 'pathType: Sometimes'));
    await pier.waitForLog(/ERROR green\.yaml:1: Ingress default\/green is invalid: .*pathType.*last good version stays in force/);
    assert.equal((await get(pier.ports.http, 'green.example')).body, 'green /');
  });

  it('stops routing a host whose file was deleted', async () => {
    await rm(join(dir, 'green.yaml'));
    await eventually(async () => (await get(pier.ports.http, 'green.example')).status === 404, 'green.example answers 404');
  });

  it('recomputes nothing for a file it doesn\'t read, such as a log written into the directory', async () => {
    const applied = (): number => pier.log().split('\n').filter((line) => line.includes('routes applied')).length;
    const before = applied();
    for (let i = 0; i < 5; i++) {
      await writeFile(join(dir, 'pier.log'), `line ${i}\n`, { flag: 'a' });
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    // A manifest written after them is applied: by then the log's events would have been too.
    await writeFile(join(dir, 'late.yaml'), '# nothing but a comment\n');
    await eventually(async () => applied() > before, 'the manifest written after the log to be applied');
    assert.equal(applied(), before + 1, 'one computation, for the manifest only');
  });

  it('exits 0 on SIGTERM after draining', async () => {
    const code = await pier.stop();
    assert.equal(code, 0);
    assert.match(pier.log(), /shutting down signal=SIGTERM/);
  });
});

describe('pier command line', () => {
  it('fails at start with exit code 2 and a message for an unknown flag', async () => {
    const result = await runPier(['serve', '--manifests', EXAMPLES, '--http-prot=80']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /pier: Unknown option '--http-prot'/);
  });

  it('fails at start with exit code 2 for a bad value', async () => {
    const result = await runPier(['serve', '--manifests', EXAMPLES, '--healthz-port=-1']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /invalid value "-1" for --healthz-port/);
  });

  it('prints the route table of the example with pier routes', async () => {
    const result = await runPier(['routes', '--manifests', EXAMPLES]);
    assert.equal(result.code, 0);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^HOST\s+PATH\s+TYPE\s+BACKEND\s+ENDPOINTS\s+INGRESS\s+POLICY$/);
    assert.match(lines[1] ?? '', /^ngx\.myingress\.com\s+\/\s+Prefix\s+default\/nginx:8080\s+127\.0\.0\.1:8080\s+default\/nginx\s+-$/);
  });

  it('prints routes and warnings as JSON with --output json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-routes-'));
    try {
      await cp(EXAMPLES, dir, { recursive: true });
      await writeFile(join(dir, 'extra.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: lost}\nspec:\n  ingressClassName: pier\n  rules: [{host: lost.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: nowhere, port: {number: 80}}}}]}}]\n');
      const result = await runPier(['routes', '--manifests', dir, '--output', 'json']);
      assert.equal(result.code, 0);
      const output = JSON.parse(result.stdout) as { routes: { host: string; endpoints: string }[]; warnings: { reason?: string; name: string }[] };
      assert.deepEqual(output.routes.map((route) => [route.host, route.endpoints]), [['lost.example', '(none: 503)'], ['ngx.myingress.com', '127.0.0.1:8080']]);
      assert.deepEqual(output.warnings.map((warning) => [warning.name, warning.reason]), [['lost', 'ServiceNotFound']]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 from pier routes when a manifest does not parse, naming the file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-routes-'));
    try {
      await writeFile(join(dir, 'bad.yaml'), 'kind: Ingress\nmetadata: {name: [x\n');
      const result = await runPier(['routes', '--manifests', dir]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /bad\.yaml:\d+: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

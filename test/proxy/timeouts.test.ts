// proxy-connect-timeout, proxy-read-timeout and proxy-next-upstream(-tries, -timeout) per
// location, on real sockets. A connect timeout is made for real: a Python listener with a
// backlog of 0 that never accepts, whose queue the test fills, so the kernel drops the proxy's SYNs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../operator/model.ts';
import { LOCALHOST, Resources, closedPort, send, startUpstream } from '../helpers/upstreams.ts';
import { endpointSlice, service, simpleIngress } from '../helpers/objects.ts';
import { startTlsProxy, type TlsProxy } from '../tls/harness.ts';

const A = 'nginx.ingress.kubernetes.io';

/** Service `name` whose endpoints are 127.0.0.1 on each of `ports` (one EndpointSlice per port). */
function serviceOn(name: string, ports: readonly number[]): KubeObject[] {
  return [service(name, [{ name: 'http', port: 80 }]), ...ports.map((port, i) => endpointSlice(`${name}-${i}`, name, [LOCALHOST], [{ name: 'http', port }]))];
}

/** A port whose listener never accepts, with its accept queue full: connecting to it times out. */
async function unresponsivePort(resources: Resources): Promise<number> {
  const child: ChildProcess = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  resources.add(() => void child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
  });
  // Fill the accept queue: a backlog of 0 holds one connection, and a second one waits in SYN-RECV.
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) fillers.push(connect(port, LOCALHOST).on('error', () => undefined));
  resources.add(() => fillers.forEach((socket) => socket.destroy()));
  await new Promise((resolve) => setTimeout(resolve, 200));
  return port;
}

describe('timeouts and next-upstream per location', { timeout: 60_000 }, () => {
  const resources = new Resources();
  let proxy: TlsProxy;
  let slow: number;
  let live: number;
  let failing: number;
  let dead: number;
  let hung: number;

  before(async () => {
    slow = (await startUpstream(resources, (_req, res) => setTimeout(() => res.end('slow'), 1500))).port;
    live = (await startUpstream(resources, (req, res) => {
      req.resume();
      req.on('end', () => res.end('live'));
    })).port;
    failing = (await startUpstream(resources, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 502;
        res.end('failing');
      });
    })).port;
    dead = await closedPort();
    hung = await unresponsivePort(resources);
    proxy = await startTlsProxy(resources);
  });
  after(() => resources.closeAll());

  it('answers 504 once proxy-read-timeout passes, while a route without it waits for the flag\'s timeout', async () => {
    proxy.apply([
      ...serviceOn('slow', [slow]),
      simpleIngress('short', 'short.example', '/', 'slow', { annotations: { [`${A}/proxy-read-timeout`]: '1' } }),
      simpleIngress('default', 'default.example', '/', 'slow'),
    ]);
    const [short, patient] = await Promise.all([send(proxy.http, { host: 'short.example' }), send(proxy.http, { host: 'default.example' })]);
    assert.equal(short.status, 504);
    assert.equal(patient.status, 200, 'the test proxy\'s own read timeout is 3 s');
  });

  it('takes the ConfigMap\'s proxy-read-timeout for every location, and an annotation over it', async () => {
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pier', namespace: 'ingress' }, data: { 'proxy-read-timeout': '1' } } as KubeObject;
    proxy.apply([
      ...serviceOn('slow', [slow]),
      simpleIngress('default', 'default.example', '/', 'slow'),
      simpleIngress('longer', 'longer.example', '/', 'slow', { annotations: { [`${A}/proxy-read-timeout`]: '5' } }),
      configMap,
    ], { configMap: { namespace: 'ingress', name: 'pier' } });
    const [byConfigMap, byAnnotation] = await Promise.all([send(proxy.http, { host: 'default.example' }), send(proxy.http, { host: 'longer.example' })]);
    assert.deepEqual([byConfigMap.status, byAnnotation.status], [504, 200]);
  });

  it('tries the next endpoint after proxy-connect-timeout (timeout is a default condition), and answers 504 when next-upstream is off', async () => {
    proxy.apply([
      ...serviceOn('mixed', [hung, live]),
      simpleIngress('retrying', 'retrying.example', '/', 'mixed', { annotations: { [`${A}/proxy-connect-timeout`]: '1' } }),
      simpleIngress('off', 'off.example', '/', 'mixed', { annotations: { [`${A}/proxy-connect-timeout`]: '1', [`${A}/proxy-next-upstream`]: 'off' } }),
    ]);
    const retried = await Promise.all([0, 1, 2, 3].map(() => send(proxy.http, { host: 'retrying.example' })));
    assert.deepEqual(retried.map((response) => response.status), [200, 200, 200, 200]);
    const once = await Promise.all([0, 1, 2, 3].map(() => send(proxy.http, { host: 'off.example' })));
    assert.deepEqual([...new Set(once.map((response) => response.status))].sort(), [200, 504], 'round-robin sends half of them to the endpoint that never accepts');
  });

  it('tries the next endpoint on a 502 only when proxy-next-upstream lists http_502, and never repeats a POST unless non_idempotent', async () => {
    proxy.apply([
      ...serviceOn('flaky', [failing, live]),
      simpleIngress('on-502', 'on502.example', '/', 'flaky', { annotations: { [`${A}/proxy-next-upstream`]: 'error timeout http_502' } }),
      simpleIngress('plain', 'plain.example', '/', 'flaky'),
      simpleIngress('posts', 'posts.example', '/', 'flaky', { annotations: { [`${A}/proxy-next-upstream`]: 'error timeout http_502 non_idempotent' } }),
    ]);
    const statuses = async (host: string, method = 'GET', body?: string): Promise<number[]> =>
      [...new Set((await Promise.all([0, 1, 2, 3].map(() => send(proxy.http, { host, method, ...(body === undefined ? { headers: ['Content-Length', '0'] } : { body }) })))).map((response) => response.status))].sort();
    assert.deepEqual(await statuses('on502.example'), [200]);
    assert.deepEqual(await statuses('plain.example'), [200, 502]);
    assert.deepEqual(await statuses('on502.example', 'POST'), [200, 502], 'a POST that reached the upstream is not sent again');
    assert.deepEqual(await statuses('posts.example', 'POST'), [200]);
    // Pier streams request bodies, so one the upstream has started to read can't be sent again (nginx buffers it and can).
    assert.deepEqual(await statuses('posts.example', 'POST', 'x'), [200, 502]);
  });

  it('makes proxy-next-upstream-tries "1" a single attempt: a dead endpoint\'s requests fail', async () => {
    proxy.apply([
      ...serviceOn('half', [dead, live]),
      simpleIngress('one-try', 'onetry.example', '/', 'half', { annotations: { [`${A}/proxy-next-upstream-tries`]: '1' } }),
      simpleIngress('default', 'three.example', '/', 'half'),
    ]);
    const statuses = async (host: string): Promise<number[]> => [...new Set((await Promise.all([0, 1, 2, 3].map(() => send(proxy.http, { host })))).map((response) => response.status))].sort();
    assert.deepEqual(await statuses('onetry.example'), [200, 502]);
    assert.deepEqual(await statuses('three.example'), [200]);
  });
});

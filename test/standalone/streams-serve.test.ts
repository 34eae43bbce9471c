// TCP and UDP services in `pier serve --workers=2`, as a user runs it: the services ConfigMaps in
// the manifest directory, named by the same flags as in a cluster; a TCP echo and a UDP echo
// backend; the ConfigMap edited on disk to drop a port while a connection on it stays open.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPier, type PierProcess } from './pier-process.ts';
import { closedPort } from '../helpers/upstreams.ts';
import { askUdp } from '../helpers/udp.ts';

function configMapYaml(name: string, data: Record<string, number | string>): string {
  const lines = Object.entries(data).map(([key, value]) => `  "${key}": "${value}"`);
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: ingress}\ndata:\n${lines.join('\n')}\n`;
}

function serviceYaml(name: string, port: number, protocol: 'TCP' | 'UDP', targetPort: number): string {
  return [
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: default}\nspec: {ports: [{name: p, port: ${port}, protocol: ${protocol}}]}\n`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ${name}-1, namespace: default, labels: {kubernetes.io/service-name: ${name}}}\naddressType: IPv4\nports: [{name: p, port: ${targetPort}, protocol: ${protocol}}]\nendpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]\n`,
  ].join('---\n');
}

/** One line written and its echo read back, on a fresh connection left open for the caller. */
async function echoOver(port: number, text: string): Promise<{ echoed: string; socket: Socket }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('error', reject);
        socket.once('data', (chunk: Buffer) => resolve({ echoed: chunk.toString(), socket }));
        socket.write(text);
      });
    } catch (error) {
      // The stream ports open just after the HTTP ports: give them a moment.
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('TCP and UDP services in pier serve --workers=2', () => {
  let dir: string;
  let pier: PierProcess;
  const tcpServer = createServer((socket) => socket.pipe(socket));
  const udpServer = createSocket('udp4');
  let tcpPort = 0;
  let keptPort = 0;
  let udpPort = 0;
  let objects: string[];

  before(async () => {
    await new Promise<void>((resolve) => tcpServer.listen(0, '127.0.0.1', resolve));
    udpServer.on('message', (message, from) => udpServer.send(`echo ${message.toString()}`, from.port, from.address));
    await new Promise<void>((resolve) => udpServer.bind(0, '127.0.0.1', resolve));
    [tcpPort, keptPort, udpPort] = [await closedPort(), await closedPort(), await closedPort()];
    dir = await mkdtemp(join(tmpdir(), 'pier-streams-'));
    objects = [
      serviceYaml('tcp-echo', 7000, 'TCP', (tcpServer.address() as { port: number }).port),
      serviceYaml('udp-echo', 53, 'UDP', udpServer.address().port),
      configMapYaml('udp-services', { [udpPort]: 'default/udp-echo:53' }),
    ];
    await writeFile(join(dir, 'objects.yaml'), [...objects, configMapYaml('tcp-services', { [tcpPort]: 'default/tcp-echo:7000', [keptPort]: 'default/tcp-echo:p' })].join('---\n'));
    pier = await startPier(['serve', '--manifests', dir, '--workers=2', '--tcp-services-configmap=ingress/tcp-services', '--udp-services-configmap=ingress/udp-services']);
  });

  after(async () => {
    await pier?.stop();
    tcpServer.close();
    udpServer.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('relays a TCP port and a UDP port to their Services', async () => {
    const { echoed, socket } = await echoOver(tcpPort, 'over tcp');
    socket.destroy();
    assert.equal(echoed, 'over tcp');
    assert.equal(await askUdp(udpPort, 'over udp'), 'echo over udp');
  });

  it('closes a port dropped from the ConfigMap file while a connection on it goes on, and keeps the other ports', async () => {
    const open = await echoOver(tcpPort, 'first');
    await writeFile(join(dir, 'objects.yaml'), [...objects, configMapYaml('tcp-services', { [keptPort]: 'default/tcp-echo:p' })].join('---\n'));
    const refused = await new Promise<boolean>((resolve) => {
      const probe = (attempt: number): void => {
        const socket = connect(tcpPort, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          if (attempt >= 100) return resolve(false);
          setTimeout(() => probe(attempt + 1), 50);
        });
        socket.once('error', () => resolve(true));
      };
      probe(0);
    });
    assert.equal(refused, true, 'new connections to the dropped port are refused');
    const echoed = new Promise<string>((resolve) => open.socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    open.socket.write('second');
    assert.equal(await echoed, 'second', 'the open connection still works');
    open.socket.destroy();
    const kept = await echoOver(keptPort, 'kept');
    kept.socket.destroy();
    assert.equal(kept.echoed, 'kept');
  });
});

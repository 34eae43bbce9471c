// Test hosts: real backends on their own addresses, in a network namespace this test run creates.
// Kubernetes refuses loopback addresses in EndpointSlices, so cluster tests can't point a Service
// at 127.0.0.1; a network namespace joined to this one by a veth pair gives backends addresses
// from 198.18.0.0/15 (the range RFC 2544 sets aside for network tests) that never leave the machine.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const ECHO_SERVER = fileURLToPath(new URL('./echo-server.mjs', import.meta.url));
const START_TIMEOUT_MS = 10_000;

function run(args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
}

/** Why test hosts can't be made here, or null when they can (root and iproute2 are needed). */
export function testHostsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'test hosts need root (ip netns)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'test hosts need iproute2 (apt-get install iproute2)';
  return null;
}

export interface TestBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** What the backend printed: `listening ...`, then `received <method> <url>` per slow request. */
  output(): string;
  stop(): Promise<void>;
}

export interface TestNetwork {
  /** The addresses backends can listen on, one per test host. */
  readonly hostAddresses: readonly string[];
  /** Starts the echo server on a test host: it answers `<name> <method> <url>`. */
  startBackend(name: string, address: string, port?: number): Promise<TestBackend>;
  destroy(): Promise<void>;
}

/**
 * A namespace with `hosts` addresses (198.18.<subnet>.2, .3, ...) reachable from here through a
 * veth pair whose near end is 198.18.<subnet>.1. `subnet` keeps concurrent test files apart.
 */
export function createTestNetwork(hosts: number, subnet = 1 + (randomBytes(1)[0] as number) % 250): TestNetwork {
  const id = randomBytes(3).toString('hex');
  const namespace = `pier-test-${id}`;
  const near = `pt${id}a`;
  const far = `pt${id}b`;
  const prefix = `198.18.${subnet}`;
  const hostAddresses = Array.from({ length: hosts }, (_, i) => `${prefix}.${i + 2}`);
  run(['netns', 'add', namespace]);
  try {
    run(['link', 'add', near, 'type', 'veth', 'peer', 'name', far]);
    run(['link', 'set', far, 'netns', namespace]);
    run(['addr', 'add', `${prefix}.1/24`, 'dev', near]);
    run(['link', 'set', near, 'up']);
    for (const address of hostAddresses) run(['netns', 'exec', namespace, 'ip', 'addr', 'add', `${address}/24`, 'dev', far]);
    run(['netns', 'exec', namespace, 'ip', 'link', 'set', far, 'up']);
    run(['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (error) {
    spawnSync('ip', ['netns', 'del', namespace]);
    spawnSync('ip', ['link', 'del', near]);
    throw error;
  }

  const children = new Set<ChildProcess>();
  return {
    hostAddresses,
    async startBackend(name, address, port = 8080) {
      const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, ECHO_SERVER, '--listen', `${address}:${port}`, '--name', name], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.add(child);
      let output = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!output.includes('listening')) {
        if (child.exitCode !== null) throw new Error(`backend ${name} exited with ${child.exitCode}`);
        if (Date.now() > deadline) throw new Error(`backend ${name} did not start on ${address}:${port}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const stop = async (): Promise<void> => {
        children.delete(child);
        if (child.exitCode !== null) return;
        child.kill('SIGKILL');
        await once(child, 'exit');
      };
      return { name, address, port, output: () => output, stop };
    },
    async destroy() {
      await Promise.all([...children].map(async (child) => {
        if (child.exitCode === null) {
          child.kill('SIGKILL');
          await once(child, 'exit');
        }
      }));
      spawnSync('ip', ['netns', 'del', namespace]);
      spawnSync('ip', ['link', 'del', near]);
    },
  };
}

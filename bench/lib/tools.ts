// What the benchmarks run besides Pier: Debian's nginx and wrk, installed on first use, and an
// nginx started from a config text in a temporary prefix that the caller stops.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NGINX_START_TIMEOUT_MS = 10_000;

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs Debian packages for the commands that are missing (needs root, as CI has). */
export function ensureCommands(commandToPackage: Record<string, string>): void {
  const missing = Object.entries(commandToPackage).filter(([command]) => !hasCommand(command) && !(command === 'nginx' && hasCommand('/usr/sbin/nginx')));
  if (missing.length === 0) return;
  const packages = missing.map(([, pkg]) => pkg);
  console.error(`installing ${packages.join(', ')} from Debian...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status}); run it as root`);
  }
}

export const NGINX_BINARY = hasCommand('nginx') ? 'nginx' : '/usr/sbin/nginx';

export interface RunningNginx {
  readonly process: ChildProcess;
  readonly prefix: string;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground with `http` as the body of its http {} block, in a fresh prefix
 * (logs, pid and temp files there). `workers` sets worker_processes.
 */
export async function startNginx(http: string, workers: number, waitForPort: number): Promise<RunningNginx> {
  const prefix = await mkdtemp(join(tmpdir(), 'pier-bench-nginx-'));
  await mkdir(join(prefix, 'logs'));
  const config = `worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
${http}
}
`;
  await writeFile(join(prefix, 'nginx.conf'), config);
  const child = spawn(NGINX_BINARY, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + NGINX_START_TIMEOUT_MS;
  while (spawnSync('sh', ['-c', `ss -Hltn 'sport = :${waitForPort}' | grep -q .`]).status !== 0) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}; config in ${prefix}/nginx.conf`);
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${waitForPort}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    process: child,
    prefix,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await once(child, 'exit');
      }
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on 127.0.0.1 (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

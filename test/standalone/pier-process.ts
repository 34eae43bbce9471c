// Runs the real `pier` command as a child process, the way a user does, and reads its ports
// from its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const PIER_BIN = fileURLToPath(new URL('../../bin/pier.mjs', import.meta.url));

export interface PierProcess {
  readonly child: ChildProcess;
  readonly ports: { http: number; https: number; defaultServer: number; healthz: number };
  /** Everything the process wrote to stderr so far. */
  log(): string;
  /** Resolves when the log has a line matching the pattern (bounded by timeoutMs). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<number | null>;
}

const START_TIMEOUT_MS = 20_000;

export interface StartPierOptions {
  /** Extra environment variables (POD_NAMESPACE, say), on top of this process's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run with Pier's own --workers default (the CPU count) instead of this helper's --workers=1. */
  readonly defaultWorkers?: boolean;
  /** A cgroup directory to start Pier in (its pid goes into cgroup.procs before Pier starts). */
  readonly cgroup?: string;
}

/**
 * Pier defaults to one proxy process per CPU; these tests run one (--workers=1) unless the caller
 * passes --workers or asks for the default, so the suites that aren't about workers stay fast and
 * their processes few. test/workers covers the multi-process data plane, with the default too.
 */
function workerArgs(args: readonly string[], options: StartPierOptions): string[] {
  if (options.defaultWorkers || args.some((arg) => arg === '--workers' || arg.startsWith('--workers='))) return [];
  return ['--workers=1'];
}

/** Starts `pier <args>` on free loopback ports (the port flags given here override any in `args`). */
export async function startPier(args: string[], options: StartPierOptions = {}): Promise<PierProcess> {
  const command = [process.execPath, PIER_BIN, ...args, ...workerArgs(args, options), '--bind-address=127.0.0.1', '--healthz-bind-address=127.0.0.1', '--http-port=0', '--https-port=0', '--default-server-port=0', '--healthz-port=0'];
  // A shell that moves itself into the cgroup, then becomes Pier: Pier starts inside it.
  const [file, ...argv] = options.cgroup ? ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', options.cgroup, ...command] : command;
  const child = spawn(file as string, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const waitForLog = async (pattern: RegExp, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(stderr)) {
      if (child.exitCode !== null) throw new Error(`pier exited (${child.exitCode}) before logging ${pattern}:\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`pier did not log ${pattern} within ${timeoutMs} ms:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  await waitForLog(/listening http=\d+/, START_TIMEOUT_MS);
  const match = /listening http=(\d+) https=(\d+) defaultServer=(\d+) healthz=(\d+)/.exec(stderr);
  if (!match) throw new Error(`no ports in pier's log:\n${stderr}`);
  return {
    child,
    ports: { http: Number(match[1]), https: Number(match[2]), defaultServer: Number(match[3]), healthz: Number(match[4]) },
    log: () => stderr,
    waitForLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

/** Runs `pier` to completion and returns its exit code and output. */
export async function runPier(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [PIER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

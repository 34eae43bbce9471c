// A proxy worker loads the data plane only: what a worker process imports, read by a module hook
// in a real child process, and what proxy/ imports, read from the sources.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WORKER_ENTRY = join(root, 'proxy', 'worker-main.ts');
/** Packages only the primary (controller, manifests, metrics endpoint) needs. */
const PRIMARY_ONLY_PACKAGES = ['zod', '@kubernetes/client-node', 'yaml', 'cdk8s', 'cdk8s-plus-27', 'chokidar', 'prom-client', '@opentelemetry/api'];

/** Every module URL a fresh Node process loads while importing `entry` (which must not start anything by itself). */
function modulesLoadedBy(entry: string): string[] {
  const hook = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
    process.on('exit', () => process.stdout.write(JSON.stringify(seen)));`;
  // worker-main.ts would wait for its primary; without an IPC channel it has nothing to wait for.
  const result = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, '--input-type=module', '-e', `await import(${JSON.stringify(entry)}); process.exit(0);`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as string[];
}

function packageOf(url: string): string | null {
  return /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? null;
}

describe('a proxy worker', () => {
  it('loads the data plane only: nothing from operator/, and none of zod, the API client, YAML, cdk8s, chokidar or prom-client', () => {
    const loaded = modulesLoadedBy(WORKER_ENTRY);
    assert.ok(loaded.some((url) => url.endsWith('/proxy/server.ts')), 'the hook saw the worker load its server');
    assert.deepEqual(loaded.filter((url) => url.includes('/operator/')), []);
    const packages = new Set(loaded.map(packageOf).filter((name) => name !== null));
    assert.deepEqual(PRIMARY_ONLY_PACKAGES.filter((name) => packages.has(name)), []);
  });

  it('comes from a proxy/ folder that imports nothing from operator/', () => {
    const offenders = readdirSync(join(root, 'proxy'))
      .filter((name) => name.endsWith('.ts'))
      .filter((name) => /from '\.\.\/operator\//.test(readFileSync(join(root, 'proxy', name), 'utf8')));
    assert.deepEqual(offenders, []);
  });
});

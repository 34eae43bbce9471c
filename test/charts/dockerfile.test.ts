// What can be checked about the image without a Docker engine: the Dockerfile's stages, the
// runtime user, the entrypoint, the build context, and that the entrypoint command runs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RUN_AS_ID } from '../../charts-ts/names.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const HELP_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 120_000;

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Splits a Dockerfile into stages; joins `\` continuations, drops comments, substitutes global ARGs in FROM. */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') {
      const [image = '', , name] = args.replace(/\$\{(\w+)\}/g, (_, arg: string) => globalArgs.get(arg) ?? '').split(/\s+/);
      stages.push({ base: image, name, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [arg = '', value = ''] = args.split('=');
      globalArgs.set(arg, value);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;

function last(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.args;
}

function runs(stage: Stage): string[] {
  return stage.instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args);
}

describe('the Dockerfile', () => {
  it('installs every dependency in a build stage and only production ones in the runtime stage', () => {
    assert.ok(stages.length >= 2, 'expected a build stage and a runtime stage');
    assert.ok(stages.slice(0, -1).some((stage) => runs(stage).some((run) => /\bnpm ci\b(?!.*--omit=dev)/.test(run))));
    assert.ok(runs(runtime).some((run) => /\bnpm ci --omit=dev\b/.test(run)), runs(runtime).join('\n'));
    assert.ok(!runs(runtime).some((run) => /\bnpm ci\b(?!.*--omit=dev)/.test(run)), 'runtime installs dev dependencies');
  });

  it('builds and runs on the Node line that package.json pins for development and CI', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    const pinned = String(manifest.devDependencies?.node ?? '');
    assert.match(pinned, /^\d+\.\d+\.\d+$/, 'package.json pins the `node` package to an exact version');
    const major = pinned.split('.')[0];
    for (const stage of stages) assert.equal(stage.base, `node:${major}-slim`);
    assert.equal(manifest.engines?.node, `>=${pinned.split('.').slice(0, 2).join('.')} <${Number(major) + 1}`);
  });

  it('is tested on that same pinned Node: npm puts the `node` package first on the PATH of npm test', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(process.version, `v${manifest.devDependencies?.node}`);
    assert.equal(manifest.allowScripts?.node, true, 'npm 11 runs the node package\'s install script (which fetches the binary) only when allowScripts approves it');
  });

  it('runs as 101:101, the user the chart\'s securityContext names', () => {
    assert.equal(last(runtime, 'USER'), `${RUN_AS_ID}:${RUN_AS_ID}`);
    assert.equal(RUN_AS_ID, 101);
  });

  it('starts the compiled operator/pier.js with node, in controller mode unless told otherwise', () => {
    assert.deepEqual(JSON.parse(last(runtime, 'ENTRYPOINT') ?? 'null'), ['node', '--max-semi-space-size=4', 'operator/pier.js']);
    assert.deepEqual(JSON.parse(last(runtime, 'CMD') ?? 'null'), ['controller']);
    assert.ok(existsSync(join(repoRoot, 'operator', 'pier.ts')));
  });

  it('ships package.json and the JavaScript that tsconfig.build.json emits, not the TypeScript sources', () => {
    const copied = runtime.instructions
      .filter((instruction) => instruction.keyword === 'COPY')
      .flatMap((instruction) => instruction.args.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1));
    for (const needed of ['package.json', 'package-lock.json', '/app/build/operator', '/app/build/proxy']) {
      assert.ok(copied.includes(needed), `runtime stage doesn't copy ${needed}`);
    }
    assert.ok(runs(stages[0]!).some((run) => run.includes('tsc -p tsconfig.build.json')), 'the build stage emits with tsconfig.build.json');
  });

  it('has no transpiler among the production dependencies: the image runs the JavaScript tsc emits', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    for (const transpiler of ['tsx', 'ts-node', 'esbuild', 'typescript', '@swc/core']) {
      assert.equal(manifest.dependencies?.[transpiler], undefined, `${transpiler} is a production dependency`);
    }
  });
});

describe('the .dockerignore', () => {
  const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));

  it('keeps local installs, outputs and the test trees out of the build context', () => {
    for (const path of ['node_modules', 'dist', '.cluster', '.git', 'test', 'bench']) assert.ok(ignored.includes(path), path);
  });

  it('keeps in everything the Dockerfile copies from the context', () => {
    const fromContext = stages
      .flatMap((stage) => stage.instructions)
      .filter((instruction) => instruction.keyword === 'COPY' && !instruction.args.includes('--from='))
      .flatMap((instruction) => instruction.args.split(/\s+/).slice(0, -1));
    assert.ok(fromContext.length > 0);
    for (const source of fromContext) {
      assert.ok(!ignored.includes(source), `${source} is copied but ignored`);
      assert.ok(existsSync(join(repoRoot, source)), `${source} is copied but missing`);
    }
  });
});

describe('the image\'s entrypoint command', () => {
  // The runtime stage without a Docker engine: tsc's output for the folders it copies, package.json,
  // then `npm ci --omit=dev` from npm's cache. What a dev dependency would hide fails here.
  const app = mkdtempSync(join(tmpdir(), 'pier-image-'));
  after(() => rmSync(app, { recursive: true, force: true }));
  const entrypoint: string[] = JSON.parse(last(runtime, 'ENTRYPOINT') ?? '[]');
  const [command = 'node', ...args] = entrypoint;
  const pier = (extra: string[]) => spawn(command === 'node' ? process.execPath : command, [...args, ...extra], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  const pierSync = (extra: string[]) => spawnSync(command === 'node' ? process.execPath : command, [...args, ...extra], { cwd: app, encoding: 'utf8', timeout: HELP_TIMEOUT_MS });

  before(() => {
    const build = join(app, 'build');
    const emitted = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', build], { cwd: repoRoot, encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
    assert.equal(emitted.status, 0, emitted.stdout + emitted.stderr);
    for (const folder of ['operator', 'proxy']) renameSync(join(build, folder), join(app, folder));
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(repoRoot, file), join(app, file));
    const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
    assert.equal(install.status, 0, install.stderr);
  });

  it('holds JavaScript only, and no transpiler', () => {
    assert.ok(existsSync(join(app, 'operator', 'pier.js')));
    assert.ok(!existsSync(join(app, 'operator', 'pier.ts')));
    for (const transpiler of ['tsx', 'typescript', 'esbuild']) assert.ok(!existsSync(join(app, 'node_modules', transpiler)), transpiler);
  });

  it('answers --help and prints the example\'s routes', () => {
    const help = pierSync(['--help']);
    assert.equal(help.status, 0, `${help.stdout}\n${help.stderr}`);
    assert.match(help.stdout + help.stderr, /controller/);
    const routes = pierSync(['routes', '--manifests', join(repoRoot, 'examples'), '--output', 'json']);
    assert.equal(routes.status, 0, routes.stderr);
    assert.match(routes.stdout, /ngx\.myingress\.com/);
    assert.doesNotMatch(routes.stderr, /Warning/);
  });

  it('serves with two proxy workers, which start from the compiled worker entry point', async () => {
    const serve = pier(['serve', '--manifests', join(repoRoot, 'examples'), '--bind-address=127.0.0.1', '--healthz-bind-address=127.0.0.1', '--http-port=0', '--https-port=0', '--healthz-port=0', '--default-server-port=0', '--workers=2']);
    let output = '';
    serve.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    serve.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      const deadline = Date.now() + HELP_TIMEOUT_MS;
      while (!/listening .*healthz=\d+/.test(output) && serve.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((output.match(/proxy worker ready/g) ?? []).length, 2, output);
      const healthz = Number(/listening .*healthz=(\d+)/.exec(output)?.[1]);
      const response = await fetch(`http://127.0.0.1:${healthz}/healthz`);
      assert.equal(response.status, 200, output);
    } finally {
      serve.kill('SIGTERM');
      await once(serve, 'exit');
    }
  });
});

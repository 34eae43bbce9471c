// Runs the real `npx cdk8s synth` (what a user runs before `kubectl apply -f dist/`) into a temp dir.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { synthesizePier, type Manifest } from './synthesize.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SYNTH_TIMEOUT_MS = 120_000;

describe('npx cdk8s synth', () => {
  let outputDir = '';
  let synth: ReturnType<typeof spawnSync>;

  before(() => {
    outputDir = join(mkdtempSync(join(tmpdir(), 'pier-synth-')), 'dist');
    // --no-check-upgrade: the CLI otherwise asks registry.npmjs.org for its latest version.
    synth = spawnSync('npx', ['cdk8s', 'synth', '--no-check-upgrade', '--output', outputDir], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: SYNTH_TIMEOUT_MS,
    });
  });

  after(() => rmSync(join(outputDir, '..'), { recursive: true, force: true }));

  function synthesizedObjects(): Manifest[] {
    return parseAllDocuments(readFileSync(join(outputDir, 'pier.k8s.yaml'), 'utf8')).map((document) => {
      assert.deepEqual(document.errors, []);
      return document.toJS() as Manifest;
    });
  }

  it('succeeds from the repository root with cdk8s.yaml alone', () => {
    assert.equal(synth.status, 0, `${synth.stdout}\n${synth.stderr}`);
  });

  it('writes one file, pier.k8s.yaml, that kubectl apply -f can take as it is', () => {
    assert.deepEqual(readdirSync(outputDir), ['pier.k8s.yaml']);
    for (const object of synthesizedObjects()) {
      assert.ok(object.apiVersion && object.kind && object.metadata?.name, JSON.stringify(object));
    }
  });

  it('writes the chart with its defaults, Namespace first', () => {
    const objects = synthesizedObjects();
    assert.equal(objects[0]?.kind, 'Namespace');
    assert.deepEqual(objects, synthesizePier());
  });
});

describe('cdk8s.yaml', () => {
  const config = parse(readFileSync(join(repoRoot, 'cdk8s.yaml'), 'utf8'));

  it('runs charts-ts/main.ts with Node itself and writes to dist, with nothing to import', () => {
    assert.deepEqual(config, { language: 'typescript', app: 'node charts-ts/main.ts', output: 'dist' });
  });
});

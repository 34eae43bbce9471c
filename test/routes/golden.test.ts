// Golden files for the route engine: each test/routes/golden/<case>.in.yaml is served to
// `pier routes --output json` (in process, through the same printRoutes), and its output must equal
// <case>.out.json exactly. PIER_UPDATE_GOLDEN=1 rewrites the .out.json files instead; review the diff.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../operator/config.ts';
import { printRoutes } from '../../operator/routes-command.ts';

const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const UPDATE = process.env.PIER_UPDATE_GOLDEN === '1';

async function routesJson(inputFile: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-golden-'));
  try {
    copyFileSync(inputFile, join(dir, 'objects.yaml'));
    let printed = '';
    await printRoutes(parseConfig(['routes', '--manifests', dir, '--output', 'json']), (text) => (printed += text));
    return printed;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('golden files: objects in, `pier routes --output json` out', () => {
  const cases = readdirSync(GOLDEN_DIR).filter((name) => name.endsWith('.in.yaml')).sort();
  it('has cases to compare', () => assert.ok(cases.length > 0));
  for (const input of cases) {
    const name = input.slice(0, -'.in.yaml'.length);
    it(`${name}: ${readFileSync(join(GOLDEN_DIR, input), 'utf8').split('\n')[0]?.replace(/^#\s*/, '')}`, async () => {
      const actual = await routesJson(join(GOLDEN_DIR, input));
      const expectedFile = join(GOLDEN_DIR, `${name}.out.json`);
      if (UPDATE) writeFileSync(expectedFile, actual);
      assert.equal(actual, readFileSync(expectedFile, 'utf8'));
    });
  }
});

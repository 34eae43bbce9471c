// deploy/pier.yaml, the one-file install, is the chart's output with its defaults: it fails here
// when the chart changed and the file wasn't regenerated (`npm run deploy-manifest`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { deployManifest } from '../../charts-ts/deploy-manifest.ts';
import { synthesizePier } from './synthesize.ts';

const committed = readFileSync(new URL('../../deploy/pier.yaml', import.meta.url), 'utf8');

describe('deploy/pier.yaml', () => {
  it('is what the chart synthesizes now (else run `npm run deploy-manifest` and commit the result)', () => {
    assert.equal(committed, deployManifest(), 'deploy/pier.yaml is stale: run `npm run deploy-manifest`');
  });

  it('holds every object of the default chart, in the order kubectl applies them', () => {
    const objects = parseAllDocuments(committed).map((document) => document.toJSON());
    assert.deepEqual(objects, synthesizePier());
    assert.equal(objects[0]?.kind, 'Namespace');
  });
});

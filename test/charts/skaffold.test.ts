// No skaffold binary can be installed here, so skaffold.yaml is checked against skaffold's own
// JSON Schema, and the steps it would run (cdk8s synth) are tested in synth.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { IMAGE_REPOSITORY } from '../../charts-ts/names.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// The shared folder sits next to the repository, locally and in CI.
const schemaPath = join(repoRoot, '..', 'shared', 'schemas', 'skaffold-v4beta14.json');
const skaffold = parse(readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8'));
const cdk8sConfig = parse(readFileSync(join(repoRoot, 'cdk8s.yaml'), 'utf8'));

function skaffoldValidator() {
  assert.ok(existsSync(schemaPath), `skaffold's schema is missing at ${schemaPath}`);
  // strict: false because the schema carries skaffold's own keywords (preferredOrder, x-intellij-…).
  const ajv = new Ajv({ strict: false, allErrors: true });
  return ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
}

describe('skaffold.yaml', () => {
  it('is valid against the skaffold/v4beta14 schema', () => {
    const validate = skaffoldValidator();
    assert.equal(skaffold.apiVersion, 'skaffold/v4beta14');
    assert.ok(validate(skaffold), JSON.stringify(validate.errors, null, 2));
  });

  it('would be rejected by the schema if a section were misspelled, so the check above means something', () => {
    const validate = skaffoldValidator();
    const { manifests, ...rest } = skaffold;
    assert.equal(validate({ ...rest, manifest: manifests }), false);
  });

  it('builds the image the chart runs by default, from the Dockerfile', () => {
    assert.deepEqual(
      skaffold.build.artifacts.map((artifact: { image: string; docker?: { dockerfile?: string } }) => [artifact.image, artifact.docker?.dockerfile]),
      [[IMAGE_REPOSITORY, 'Dockerfile']],
    );
  });

  it('runs cdk8s synth before every render', () => {
    const commands = skaffold.manifests.hooks.before.map((hook: { host: { command: string[] } }) => hook.host.command);
    assert.deepEqual(commands, [['npx', 'cdk8s', 'synth', '--no-check-upgrade']]);
  });

  it('renders the files cdk8s synth writes', () => {
    assert.deepEqual(skaffold.manifests.rawYaml, [`${cdk8sConfig.output}/*.k8s.yaml`]);
  });

  it('deploys with kubectl', () => {
    assert.deepEqual(Object.keys(skaffold.deploy), ['kubectl']);
  });

  it('has a dev profile that skaffold dev activates', () => {
    const dev = skaffold.profiles.find((profile: { name: string }) => profile.name === 'dev');
    assert.ok(dev, 'no dev profile');
    assert.deepEqual(dev.activation, [{ command: 'dev' }]);
  });
});

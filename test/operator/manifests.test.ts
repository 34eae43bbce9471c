// The manifest-file source: what it reads, and what it keeps when a file or an object is broken.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestSource, parseManifestFile } from '../../operator/sources/manifests.ts';

const INGRESS = (name: string, host: string, extra = '') => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
${extra}spec:
  rules:
    - host: ${host}
`;

function names(objects: readonly { kind: string; metadata: { namespace?: string; name: string } }[]): string[] {
  return objects.map((object) => `${object.kind} ${object.metadata.namespace ?? '-'}/${object.metadata.name}`);
}

describe('parseManifestFile', () => {
  it('reads every document of a multi-document YAML file', () => {
    const state = parseManifestFile(`${INGRESS('a', 'a.com')}---\n${INGRESS('b', 'b.com')}`, 'f.yaml', undefined);
    assert.deepEqual(names([...state.objects.values()]), ['Ingress default/a', 'Ingress default/b']);
    assert.deepEqual(state.problems, []);
  });

  it('reads the items of a kind: List', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'x' }, spec: { ports: [{ port: 80 }] } },
        { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'pier' }, spec: { controller: 'c' } },
      ],
    });
    const state = parseManifestFile(text, 'list.json', undefined);
    assert.deepEqual(names([...state.objects.values()]), ['Service x/s', 'IngressClass -/pier']);
  });

  it('puts namespaced objects without a namespace into default, and leaves IngressClass cluster-scoped', () => {
    const state = parseManifestFile(`${INGRESS('a', 'a.com')}---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: c\n`, 'f.yaml', undefined);
    assert.deepEqual(names([...state.objects.values()]), ['Ingress default/a', 'IngressClass -/c']);
  });

  it('ignores kinds Pier does not read, and empty documents', () => {
    const state = parseManifestFile('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\n---\n# only a comment\n', 'f.yaml', undefined);
    assert.equal(state.objects.size, 0);
    assert.deepEqual(state.problems, []);
  });

  it('names the file and line of a YAML syntax error and keeps the previous objects of that file', () => {
    const good = parseManifestFile(INGRESS('a', 'a.com'), 'routes.yaml', undefined);
    const broken = parseManifestFile('apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n', 'routes.yaml', good);
    assert.equal(broken.failed, true);
    assert.deepEqual(names([...broken.objects.values()]), ['Ingress default/a']);
    assert.equal(broken.problems.length, 1);
    assert.match(broken.problems[0]?.message ?? '', /^routes\.yaml:\d+: .*previous objects stay in force/);
    assert.ok((broken.problems[0]?.line ?? 0) >= 4, `line ${broken.problems[0]?.line} should point at the error`);
  });

  it('reports an invalid object with its line and field, and keeps its last good version', () => {
    const good = parseManifestFile(`${INGRESS('other', 'o.com')}---\n${INGRESS('a', 'a.com')}`, 'f.yaml', undefined);
    const badText = `${INGRESS('other', 'o.com')}---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: a\nspec:\n  rules:\n    - http:\n        paths:\n          - path: /\n            pathType: Sometimes\n            backend: {service: {name: s, port: {number: 80}}}\n`;
    const bad = parseManifestFile(badText, 'f.yaml', good);
    assert.equal(bad.failed, false);
    assert.deepEqual(names([...bad.objects.values()]), ['Ingress default/other', 'Ingress default/a']);
    const kept = bad.objects.get('Ingress/default/a');
    assert.equal(kept?.kind === 'Ingress' ? kept.spec.rules?.[0]?.host : undefined, 'a.com');
    assert.equal(bad.problems.length, 1);
    assert.match(bad.problems[0]?.message ?? '', /^f\.yaml:8: Ingress default\/a is invalid: spec\.rules\.0\.http\.paths\.0\.pathType: .*last good version stays in force/);
  });

  it('drops an invalid object that never had a good version, and still reads the rest of the file', () => {
    const state = parseManifestFile(`apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: [{port: 99999}]\n---\n${INGRESS('a', 'a.com')}`, 'f.yaml', undefined);
    assert.deepEqual(names([...state.objects.values()]), ['Ingress default/a']);
    assert.match(state.problems[0]?.message ?? '', /f\.yaml:1: Service default\/s is invalid: spec\.ports\.0\.port/);
  });
});

describe('ManifestSource', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-manifests-'));
    await mkdir(join(dir, 'nested'));
    await writeFile(join(dir, 'one.yaml'), INGRESS('one', 'one.com'));
    await writeFile(join(dir, 'nested', 'two.yml'), INGRESS('two', 'two.com', '  namespace: team\n'));
    await writeFile(join(dir, 'three.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} }));
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads *.yaml, *.yml and *.json files in every subdirectory and nothing else', async () => {
    const snapshot = await new ManifestSource(dir).loadAll();
    assert.deepEqual(names(snapshot.objects).sort(), ['Ingress default/one', 'Ingress team/two', 'Service default/s']);
  });

  it('reports an object defined in two files and uses the first file', async () => {
    await writeFile(join(dir, 'zz-copy.yaml'), INGRESS('one', 'copy.com'));
    try {
      const snapshot = await new ManifestSource(dir).loadAll();
      const ones = snapshot.objects.filter((object) => object.metadata.name === 'one');
      assert.equal(ones.length, 1);
      assert.ok(snapshot.problems.some((problem) => /also defined in one\.yaml/.test(problem.message)));
    } finally {
      await rm(join(dir, 'zz-copy.yaml'));
    }
  });

  it('forgets the objects of a file that was deleted', async () => {
    const source = new ManifestSource(dir);
    await source.loadAll();
    await writeFile(join(dir, 'temp.yaml'), INGRESS('temp', 'temp.com'));
    assert.ok(names((await source.reload([join(dir, 'temp.yaml')])).objects).includes('Ingress default/temp'));
    await rm(join(dir, 'temp.yaml'));
    assert.ok(!names((await source.reload([join(dir, 'temp.yaml')])).objects).includes('Ingress default/temp'));
  });
});

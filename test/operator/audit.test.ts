// `pier audit` over Ingresses as ingress-nginx users run them (test/fixtures/ingress-nginx, written
// from ingress-nginx's docs): each annotation's status from the registry the route engine uses,
// the findings the route engine reports, and the command's JSON and --strict exit code.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ManifestSource } from '../../operator/sources/manifests.ts';
import { Store } from '../../operator/store.ts';
import { auditIngresses, type AuditReport } from '../../operator/audit.ts';
import { FAMILIES } from '../../operator/annotations/registry.ts';
import { KEY_FACTS } from '../../operator/annotations/key-facts.ts';
import { BASE_OPTIONS } from '../routes/route-helpers.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/ingress-nginx/', import.meta.url));
const PIER = fileURLToPath(new URL('../../operator/pier.ts', import.meta.url));
const A = 'nginx.ingress.kubernetes.io';

/** Ingress → `status key` lines, and findings by their start. */
const EXPECTED: Record<string, { class: string | null; annotations: string[]; findings: string[] }> = {
  'ops/dashboard': {
    class: 'nginx',
    annotations: [`supported ${A}/auth-signin`, `invalid ${A}/auth-url`],
    findings: ['Service ops/kubernetes-dashboard not found'],
  },
  'ops/grafana': {
    class: 'nginx',
    annotations: [`supported ${A}/auth-response-headers`, `supported ${A}/auth-signin`, `supported ${A}/auth-url`],
    findings: [],
  },
  'shop/api': {
    class: 'nginx',
    annotations: [
      `supported ${A}/cors-allow-credentials`, `partial ${A}/cors-allow-origin`, `supported ${A}/enable-cors`, `supported ${A}/limit-rps`,
      `partial ${A}/proxy-body-size`, `unsupported ${A}/proxy-buffering`, `supported ${A}/proxy-read-timeout`, `unknown ${A}/ssl-redirects`,
    ],
    findings: ['spec.tls[0]: Secret shop/api-tls not found', 'host api.example.com path /v1/(users|orders) looks like a regular expression, but use-regex isn\'t set'],
  },
  'shop/legacy': {
    class: 'nginx',
    annotations: [`partial ${A}/affinity`, `refused ${A}/configuration-snippet`, `refused ${A}/server-snippet`, `supported ${A}/session-cookie-name`],
    findings: ['Service shop/legacy not found'],
  },
  'shop/rewrite': { class: 'nginx', annotations: [`partial ${A}/rewrite-target`, `supported ${A}/use-regex`], findings: [] },
  'shop/rewrite-neighbour': {
    class: 'nginx',
    annotations: [],
    findings: ['host rewrite.bar.com path /static (Prefix) is matched as a case-insensitive regular expression'],
  },
  'shop/web': { class: 'nginx', annotations: [], findings: [] },
  'shop/web-canary': { class: 'nginx', annotations: [`partial ${A}/canary`, `supported ${A}/canary-by-header`, `supported ${A}/canary-weight`], findings: [] },
};

describe('pier audit', () => {
  let report: AuditReport;

  before(async () => {
    const manifests = await new ManifestSource(FIXTURES).loadAll();
    assert.deepEqual(manifests.problems, []);
    report = auditIngresses(Store.fromObjects(manifests.objects).snapshot(), { ...BASE_OPTIONS, endpointsKnown: false });
  });

  it('audits every Ingress, whatever class it names', () => {
    assert.deepEqual(report.ingresses.map((ingress) => `${ingress.namespace}/${ingress.name}`), Object.keys(EXPECTED));
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`gives ${name} each annotation's status and the route engine's findings`, () => {
      const audited = report.ingresses.find((ingress) => `${ingress.namespace}/${ingress.name}` === name);
      assert.ok(audited);
      assert.equal(audited.class, expected.class);
      assert.deepEqual(audited.annotations.map((annotation) => `${annotation.status} ${annotation.key}`), expected.annotations);
      assert.equal(audited.findings.length, expected.findings.length, `findings: ${audited.findings.join(' | ')}`);
      expected.findings.forEach((start, i) => assert.ok(audited.findings.some((finding) => finding.startsWith(start) || finding.includes(start)), `no finding like "${start}" in: ${audited.findings.join(' | ')} (${i})`));
    });
  }

  it('says what differs for a partial key, and why a key is refused, in the message', () => {
    const api = report.ingresses.find((ingress) => ingress.name === 'api');
    assert.match(api?.annotations.find((annotation) => annotation.key.endsWith('/proxy-body-size'))?.message ?? '', /chunked body/);
    const legacy = report.ingresses.find((ingress) => ingress.name === 'legacy');
    assert.match(legacy?.annotations.find((annotation) => annotation.key.endsWith('/server-snippet'))?.message ?? '', /never runs configuration text/);
  });

  it('knows a value shape and, where there is one, a difference for exactly the keys the families read', () => {
    const familyKeys = FAMILIES.flatMap((family) => family.keys).sort();
    assert.deepEqual(Object.keys(KEY_FACTS).sort(), [...new Set(familyKeys)]);
  });

  it('prints the documented JSON, exits 0, and exits 1 with --strict when something is refused, unsupported, invalid or unknown', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [PIER, 'audit', '--manifests', FIXTURES, '--output', 'json']);
    const parsed = JSON.parse(stdout) as AuditReport;
    assert.deepEqual(Object.keys(parsed), ['ingresses']);
    assert.deepEqual(Object.keys(parsed.ingresses[0] ?? {}), ['namespace', 'name', 'class', 'annotations', 'findings']);
    assert.deepEqual(Object.keys(parsed.ingresses[0]?.annotations[0] ?? {}), ['key', 'status', 'message']);
    await assert.rejects(run(process.execPath, [PIER, 'audit', '--manifests', FIXTURES, '--strict']), (error: { code?: number; stdout?: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stdout ?? '', /REFUSED\s+nginx\.ingress\.kubernetes\.io\/configuration-snippet/);
      return true;
    });
  });
});

// The chart's ValidatingAdmissionPolicies on the real API server: `kubectl apply` of Ingresses of
// Pier's class as users write them, and the messages kubectl prints. The API server runs the CEL
// itself; no webhook, no pod. Values come from ingress-nginx's docs and from the mistakes its
// validators catch (annotations.md; internal/ingress/annotations/parser/validators.go).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ensureControlPlane, freshNamespace, type ControlPlane } from '../helpers/cluster.ts';
import { Cleanup, eventually } from '../helpers/controller.ts';
import { synthesizePier } from '../charts/synthesize.ts';
import { DENY_POLICY_NAME, WARN_POLICY_NAME } from '../../charts-ts/admission-policy.ts';
import type { AuditReport } from '../../operator/audit.ts';

const PIER = fileURLToPath(new URL('../../operator/pier.ts', import.meta.url));

const KUBECTL = '/usr/bin/kubectl';
const A = 'nginx.ingress.kubernetes.io';

interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('the chart\'s admission policies on a real API server', () => {
  let cluster: ControlPlane;
  let namespace: string;
  const cleanup = new Cleanup();

  const kubectl = (args: string[], input?: string): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(KUBECTL, ['--kubeconfig', cluster.kubeconfigPath, ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input ?? '');
    });

  const ingress = (name: string, annotations: Record<string, string>, className = 'pier'): string =>
    JSON.stringify({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, namespace, annotations },
      spec: { ingressClassName: className, rules: [{ host: `${name}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    });
  const apply = (name: string, annotations: Record<string, string>, className?: string): Promise<KubectlResult> => kubectl(['apply', '-f', '-'], ingress(name, annotations, className));

  before(async () => {
    cluster = await ensureControlPlane();
    namespace = await freshNamespace(cluster.admin, 'admission');
    cleanup.add(`delete namespace ${namespace}`, () => kubectl(['delete', 'namespace', namespace, '--wait=false']));
    const policies = synthesizePier().filter((object) => object.apiVersion === 'admissionregistration.k8s.io/v1');
    assert.deepEqual(policies.map((object) => `${object.kind} ${object.metadata.name}`).sort(), [
      `ValidatingAdmissionPolicy ${DENY_POLICY_NAME}`, `ValidatingAdmissionPolicy ${WARN_POLICY_NAME}`,
      `ValidatingAdmissionPolicyBinding ${DENY_POLICY_NAME}`, `ValidatingAdmissionPolicyBinding ${WARN_POLICY_NAME}`,
    ]);
    const applied = await kubectl(['apply', '-f', '-'], policies.map((object) => JSON.stringify(object)).join('\n'));
    assert.equal(applied.code, 0, applied.stderr);
    cleanup.add('delete the admission policies', () => kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', DENY_POLICY_NAME, WARN_POLICY_NAME, '--ignore-not-found']));
    // (The policies' type-checking status is written by kube-controller-manager, which this control
    // plane doesn't run; an expression that failed to compile would deny every Ingress below instead.)
    // A policy is enforced once the API server has loaded it: wait until a snippet is refused.
    await eventually('the policies to be enforced', async () => {
      const probe = await apply('probe', { [`${A}/server-snippet`]: 'return 200;' });
      if (probe.code === 0) await kubectl(['delete', 'ingress', '-n', namespace, 'probe']);
      return probe.code !== 0;
    }, 30_000);
  });

  after(() => cleanup.run());

  const denials: [string, Record<string, string>, string][] = [
    ['a configuration snippet', { [`${A}/configuration-snippet`]: 'more_set_headers "X-Frame-Options: DENY";' }, `annotation ${A}/configuration-snippet is refused: Pier never runs configuration text from an Ingress`],
    ['a line break smuggled into a value', { [`${A}/auth-realm`]: 'Staff\nX-Injected: 1' }, `annotation ${A}/auth-realm holds a control character or line break`],
    ['a boolean written "yes"', { [`${A}/ssl-redirect`]: 'yes' }, `annotation ${A}/ssl-redirect: "yes" must be "true" or "false"`],
    ['a timeout with a unit (ingress-nginx takes whole seconds)', { [`${A}/proxy-read-timeout`]: '60s' }, `annotation ${A}/proxy-read-timeout: "60s" must be a whole number`],
    ['a body size nginx can\'t read', { [`${A}/proxy-body-size`]: '1 GB' }, `annotation ${A}/proxy-body-size: "1 GB" must be a size such as 1m, 512k or 0`],
    ['a CIDR with a /33 mask', { [`${A}/whitelist-source-range`]: '10.0.0.0/8, 192.168.0.0/33' }, `annotation ${A}/whitelist-source-range: "10.0.0.0/8, 192.168.0.0/33" must be IP addresses or CIDRs separated by commas`],
    ['an auth-url that isn\'t a URL', { [`${A}/auth-url`]: 'oauth2-proxy/oauth2/auth' }, `annotation ${A}/auth-url: "oauth2-proxy/oauth2/auth" must be an http:// or https:// URL`],
    ['a cache duration with the time first', { [`${A}/auth-cache-duration`]: '5m 200' }, `annotation ${A}/auth-cache-duration: "5m 200" must be status codes then a time, such as "200 202 401 5m"`],
    ['an affinity mode ingress-nginx doesn\'t have', { [`${A}/affinity-mode`]: 'sticky' }, `annotation ${A}/affinity-mode: "sticky" must be one of balanced, persistent`],
  ];
  for (const [what, annotations, message] of denials) {
    it(`denies ${what}, naming the key`, async () => {
      const result = await apply(`denied-${Object.keys(annotations)[0]?.split('/')[1]}`, annotations);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /ValidatingAdmissionPolicy 'pier-ingress-annotations' with binding 'pier-ingress-annotations' denied request: /);
      assert.ok(result.stderr.includes(message), `kubectl said: ${result.stderr}`);
    });
  }

  it('accepts the annotations users have, as ingress-nginx\'s docs write them', async () => {
    const result = await apply('accepted', {
      [`${A}/rewrite-target`]: '/$2',
      [`${A}/use-regex`]: 'true',
      [`${A}/enable-cors`]: 'true',
      [`${A}/cors-allow-origin`]: 'https://app.example.com, https://*.example.org',
      [`${A}/proxy-body-size`]: '50m',
      [`${A}/proxy-read-timeout`]: '3600',
      [`${A}/whitelist-source-range`]: '10.0.0.0/8, 2001:db8::/32, 192.168.1.7',
      [`${A}/auth-url`]: 'https://oauth2.example.com/oauth2/auth',
      [`${A}/auth-cache-duration`]: '200 202 10m, 401 5m',
      [`${A}/custom-http-errors`]: '404,503',
      [`${A}/backend-protocol`]: 'grpcs',
      [`${A}/session-cookie-samesite`]: 'none',
      [`${A}/canary-weight`]: '20',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '', 'no warnings either');
  });

  it('accepts but warns about a key Pier doesn\'t know, and one it doesn\'t support yet', async () => {
    const result = await apply('warned', { [`${A}/ssl-redirects`]: 'false', [`${A}/proxy-buffering`]: 'off' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`Warning: Validation failed for ValidatingAdmissionPolicy 'pier-ingress-annotations-advice' with binding 'pier-ingress-annotations-advice': annotation ${A}/ssl-redirects is not one ingress-nginx documents or Pier knows`));
    assert.match(result.stderr, new RegExp(`annotation ${A}/proxy-buffering is not supported by Pier yet`));
  });

  it('leaves Ingresses of other classes alone', async () => {
    const result = await apply('nginx-owned', { [`${A}/configuration-snippet`]: 'return 200;' }, 'nginx');
    assert.equal(result.code, 0, result.stderr);
  });

  it('lets pier audit --kubeconfig read the same Ingresses from the cluster, every class included', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [PIER, 'audit', '--kubeconfig', cluster.kubeconfigPath, '--watch-namespace', namespace, '--output', 'json']);
    const report = JSON.parse(stdout) as AuditReport;
    const statusOf = (name: string, key: string): string | undefined => report.ingresses.find((ingress) => ingress.name === name)?.annotations.find((annotation) => annotation.key === `${A}/${key}`)?.status;
    assert.deepEqual(report.ingresses.map((ingress) => `${ingress.name} ${ingress.class}`), ['accepted pier', 'nginx-owned nginx', 'warned pier']);
    assert.deepEqual([statusOf('nginx-owned', 'configuration-snippet'), statusOf('warned', 'ssl-redirects'), statusOf('warned', 'proxy-buffering'), statusOf('accepted', 'canary-weight')], ['refused', 'unknown', 'unsupported', 'invalid']);
  });
});

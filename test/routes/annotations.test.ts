// The annotation registry: one Ingress's annotations in, each family's configuration and every
// problem out. Values as ingress-nginx parses them (booleans through Go's strconv.ParseBool;
// docs/user-guide/nginx-configuration/annotations.md for the keys it documents).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Ingress } from '../../operator/model.ts';
import { AnnotationCache, readAnnotations, type IngressAnnotations } from '../../operator/annotations/registry.ts';

const PREFIX = 'nginx.ingress.kubernetes.io';

function ingressWith(annotations: Record<string, string>): Ingress {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', namespace: 'default', annotations }, spec: {} } as Ingress;
}

const DEFAULTS: IngressAnnotations = {
  useRegex: { useRegex: false },
  backendProtocol: { protocol: 'HTTP' },
  tlsRedirect: { sslRedirect: undefined, forceSslRedirect: undefined },
};

describe('reading an Ingress\'s annotations', () => {
  const cases: { name: string; annotations: Record<string, string>; prefix?: string; config?: Partial<IngressAnnotations>; problems?: string[] }[] = [
    { name: 'Without annotations every family has ingress-nginx\'s defaults, and nothing is reported', annotations: {} },
    { name: 'use-regex "true" turns regex paths on', annotations: { [`${PREFIX}/use-regex`]: 'true' }, config: { useRegex: { useRegex: true } } },
    { name: 'Booleans take what Go\'s ParseBool takes, as ingress-nginx: "True" and "1" are true', annotations: { [`${PREFIX}/use-regex`]: 'True', [`${PREFIX}/ssl-redirect`]: '0' }, config: { useRegex: { useRegex: true }, tlsRedirect: { sslRedirect: false, forceSslRedirect: undefined } } },
    {
      name: 'A boolean that ParseBool rejects is a warning naming the key, and the default applies',
      annotations: { [`${PREFIX}/ssl-redirect`]: 'no' },
      problems: ['InvalidAnnotation nginx.ingress.kubernetes.io/ssl-redirect: annotation nginx.ingress.kubernetes.io/ssl-redirect: "no" is invalid (must be "true" or "false"); ignored, the default applies'],
    },
    { name: 'backend-protocol is read case-insensitively', annotations: { [`${PREFIX}/backend-protocol`]: ' grpcs ' }, config: { backendProtocol: { protocol: 'GRPCS' } } },
    {
      name: 'An unsupported backend-protocol is a warning and HTTP is used',
      annotations: { [`${PREFIX}/backend-protocol`]: 'FCGI' },
      problems: ['InvalidAnnotation nginx.ingress.kubernetes.io/backend-protocol: annotation nginx.ingress.kubernetes.io/backend-protocol: "FCGI" is invalid (not supported (use HTTP, HTTPS, GRPC, GRPCS); HTTP is used); ignored, the default applies'],
    },
    {
      name: 'A snippet is refused, never run',
      annotations: { [`${PREFIX}/configuration-snippet`]: 'more_set_headers "X: y";' },
      problems: [`RefusedAnnotation nginx.ingress.kubernetes.io/configuration-snippet: annotation nginx.ingress.kubernetes.io/configuration-snippet is refused: Pier never runs configuration text from an Ingress (snippets are how ingress-nginx's worst CVEs happened); ignored`],
    },
    {
      name: 'An ingress-nginx key Pier doesn\'t implement yet is reported with its family',
      annotations: { [`${PREFIX}/rewrite-target`]: '/$1' },
      problems: ['UnsupportedAnnotation nginx.ingress.kubernetes.io/rewrite-target: annotation nginx.ingress.kubernetes.io/rewrite-target (ingress-nginx rewrite) is not supported by Pier yet; ignored'],
    },
    {
      name: 'A key no one documents is reported as a likely typo',
      annotations: { [`${PREFIX}/ssl-redirects`]: 'false' },
      problems: ['UnsupportedAnnotation nginx.ingress.kubernetes.io/ssl-redirects: annotation nginx.ingress.kubernetes.io/ssl-redirects is not one ingress-nginx documents or Pier knows (a typo?); ignored'],
    },
    { name: 'Keys under other prefixes are not Pier\'s business', annotations: { 'kubernetes.io/ingress.class': 'pier', 'cert-manager.io/cluster-issuer': 'letsencrypt', 'nginx.ingress.kubernetes.io.example/x': 'y' } },
    {
      name: 'The prefix is --annotations-prefix: the default prefix is then someone else\'s',
      prefix: 'pier.dev',
      annotations: { 'pier.dev/use-regex': 'true', [`${PREFIX}/use-regex`]: 'false', 'pier.dev/server-snippet': 'x' },
      config: { useRegex: { useRegex: true } },
      problems: [`RefusedAnnotation pier.dev/server-snippet: annotation pier.dev/server-snippet is refused: Pier never runs configuration text from an Ingress (snippets are how ingress-nginx's worst CVEs happened); ignored`],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const { config, problems } = readAnnotations(ingressWith(testCase.annotations), testCase.prefix ?? PREFIX);
      assert.deepEqual(config, { ...DEFAULTS, ...testCase.config });
      assert.deepEqual(problems.map((problem) => `${problem.reason} ${problem.key}: ${problem.message}`), testCase.problems ?? []);
    });
  }

  it('reads each Ingress object once: the same object gives the same reading, a changed copy a new one', () => {
    const cache = new AnnotationCache();
    const ingress = ingressWith({ [`${PREFIX}/use-regex`]: 'true' });
    const first = cache.read(ingress, PREFIX);
    assert.equal(cache.read(ingress, PREFIX), first);
    const changed = ingressWith({ [`${PREFIX}/use-regex`]: 'false' });
    assert.notEqual(cache.read(changed, PREFIX), first);
    assert.equal(cache.read(changed, PREFIX).config.useRegex.useRegex, false);
    assert.notEqual(cache.read(ingress, 'pier.dev'), first, 'another prefix is another reading');
  });
});

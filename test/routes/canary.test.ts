// Canary Ingresses attach to main routes (ingress-nginx's mergeAlternativeBackends, and its e2e
// test/e2e/annotations/canary.go): same host, path and pathType; a canary serves nothing without a
// main Ingress; one canary per route. Objects in, each route's upstream and canary out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import { backend, ingress, simpleIngress } from '../helpers/objects.ts';
import { compute, routeRequest } from './route-helpers.ts';

const A = 'nginx.ingress.kubernetes.io';
const services = [...backend('main', '10.0.0.1'), ...backend('canary', '10.0.0.2'), ...backend('canary2', '10.0.0.3')];
const canary = (name: string, service: string, extra: Record<string, string> = {}, createdAt = '2026-01-02T00:00:00Z', path = '/', pathType: 'Prefix' | 'Exact' = 'Prefix') =>
  simpleIngress(name, 'app.example', path, service, { createdAt, pathType, annotations: { [`${A}/canary`]: 'true', ...extra } });
const main = (annotations: Record<string, string> = {}) => simpleIngress('main', 'app.example', '/', 'main', { createdAt: '2026-01-01T00:00:00Z', annotations });

interface Case {
  readonly rule: string;
  readonly objects: KubeObject[];
  /** Each route as `<path> -> <upstream>[ canary <upstream> <rules>]`. */
  readonly routes: readonly string[];
  readonly warnings?: readonly string[];
}

const CASES: Case[] = [
  {
    rule: 'A canary of the same host, path and pathType attaches to the main route instead of conflicting with it',
    objects: [main(), canary('canary', 'canary', { [`${A}/canary-weight`]: '20' })],
    routes: ['/ -> default/main:80 canary default/canary:80 weight 20/100'],
  },
  {
    rule: 'Header, header value and cookie rules travel with the canary',
    objects: [main(), canary('canary', 'canary', { [`${A}/canary-by-header`]: 'X-Canary', [`${A}/canary-by-header-value`]: 'yes', [`${A}/canary-by-cookie`]: 'beta' })],
    routes: ['/ -> default/main:80 canary default/canary:80 header X-Canary=yes cookie beta weight 0/100'],
  },
  {
    rule: 'A canary without a main Ingress serves nothing: its host answers 404',
    objects: [canary('canary', 'canary', { [`${A}/canary-weight`]: '100' })],
    routes: [],
    warnings: ['canary CanaryUnattached spec.rules[0].http.paths[0]: no main Ingress serves host app.example path / (Prefix), so this canary path serves nothing'],
  },
  {
    rule: 'A canary whose pathType differs from the main\'s doesn\'t attach',
    objects: [main(), canary('canary', 'canary', {}, undefined, '/', 'Exact')],
    routes: ['/ -> default/main:80'],
    warnings: ['canary CanaryUnattached spec.rules[0].http.paths[0]: no main Ingress serves host app.example path / (Exact), so this canary path serves nothing'],
  },
  {
    rule: 'Of two canaries for one route the older one attaches; the other is reported',
    objects: [main(), canary('second', 'canary2', {}, '2026-01-03T00:00:00Z'), canary('first', 'canary', {}, '2026-01-02T00:00:00Z')],
    routes: ['/ -> default/main:80 canary default/canary:80 weight 0/100'],
    warnings: ['second CanaryUnattached spec.rules[0].http.paths[0]: host app.example path / (Prefix) already has canary Ingress default/first, which is older; ignored (one canary per path, as ingress-nginx)'],
  },
  {
    rule: 'A canary pointing at the main route\'s own Service is reported and ignored',
    objects: [main(), canary('canary', 'main')],
    routes: ['/ -> default/main:80'],
    warnings: ['canary CanaryUnattached spec.rules[0].http.paths[0]: the canary\'s Service is the one host app.example path / (Prefix) already uses; ignored'],
  },
  {
    rule: 'The main Ingress\'s policy stays in force for canary traffic; the canary\'s own annotations don\'t apply',
    objects: [main({ [`${A}/limit-rps`]: '5' }), canary('canary', 'canary', { [`${A}/rewrite-target`]: '/v2', [`${A}/canary-weight`]: '50' })],
    routes: ['/ -> default/main:80 canary default/canary:80 weight 50/100 (limit 5r/s)'],
  },
  {
    rule: 'With affinity-canary-behavior sticky (the default) the canary shares the main route\'s session cookie; legacy gives it its own',
    objects: [
      main({ [`${A}/affinity`]: 'cookie', [`${A}/session-cookie-name`]: 'SESSION' }),
      canary('canary', 'canary', { [`${A}/canary-weight`]: '10' }),
      simpleIngress('legacy-main', 'legacy.example', '/', 'main', { annotations: { [`${A}/affinity`]: 'cookie', [`${A}/session-cookie-name`]: 'SESSION' } }),
      simpleIngress('legacy-canary', 'legacy.example', '/', 'canary', { annotations: { [`${A}/canary`]: 'true', [`${A}/affinity-canary-behavior`]: 'legacy', [`${A}/affinity`]: 'cookie', [`${A}/session-cookie-name`]: 'CANARY' } }),
    ],
    routes: ['/ -> default/main:80 canary default/canary:80 weight 10/100 (affinity SESSION, canary affinity SESSION)', '/ -> default/main:80 canary default/canary:80 weight 0/100 (affinity SESSION, canary affinity CANARY)'],
  },
  {
    rule: 'canary-weight on an Ingress that isn\'t a canary is reported, and the Ingress is served as a main one',
    objects: [main({ [`${A}/canary-weight`]: '50' })],
    routes: ['/ -> default/main:80'],
    warnings: ['main InvalidAnnotation annotation nginx.ingress.kubernetes.io/canary-weight is ignored: canary isn\'t "true" on this Ingress (ingress-nginx refuses it too: "configured but not enabled")'],
  },
  {
    rule: 'A canary for one of the main Ingress\'s paths changes that path only',
    objects: [
      ingress('main', { className: 'pier', createdAt: '2026-01-01T00:00:00Z', rules: [{ host: 'app.example', paths: [{ path: '/api', service: 'main' }, { path: '/web', service: 'main' }] }] }),
      canary('canary', 'canary', { [`${A}/canary-weight`]: '30' }, undefined, '/api'),
    ],
    routes: ['/api -> default/main:80 canary default/canary:80 weight 30/100', '/web -> default/main:80'],
  },
];

describe('canary Ingresses', () => {
  for (const testCase of CASES) {
    it(testCase.rule, () => {
      const result = compute([...services, ...testCase.objects]);
      const routes = result.table.virtualHosts.flatMap((virtualHost) =>
        virtualHost.routes.map((route) => {
          const c = route.canary;
          const rules = c === undefined ? '' : ` canary ${c.upstream}${c.header ? ` header ${c.header}${c.headerValue ? `=${c.headerValue}` : ''}` : ''}${c.cookie ? ` cookie ${c.cookie}` : ''} weight ${c.weight}/${c.weightTotal}`;
          const extra = [...(route.rateLimit ? [`limit ${route.rateLimit.rps}r/s`] : []), ...(route.affinity ? [`affinity ${route.affinity.cookieName}`] : []), ...(c?.affinity ? [`canary affinity ${c.affinity.cookieName}`] : [])];
          return `${route.path} -> ${route.upstream}${rules}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
        }),
      );
      assert.deepEqual(routes, testCase.routes);
      assert.deepEqual(result.warnings.filter((warning) => warning.reason !== 'UnsupportedAnnotation').map((warning) => `${warning.name} ${warning.reason} ${warning.message}`), testCase.warnings ?? []);
      if (testCase.routes.length === 0) assert.equal(routeRequest(result, 'app.example', '/'), '404');
    });
  }
});

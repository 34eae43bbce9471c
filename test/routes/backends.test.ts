// Tables for the Backends rules (ingress-semantics.md, "Backends"): Service, port, EndpointSlices,
// ready endpoints, default backends, ExternalName, and the warnings for what can't be used.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backend, endpointSlice, externalNameService, ingress, service, simpleIngress } from '../helpers/objects.ts';
import { compute, routeRequest, warningsOf } from './route-helpers.ts';
import type { RouteComputation } from '../../operator/routes/types.ts';

/** The endpoints of the upstream a request for foo.com/ reaches, as `ip:port` strings. */
function endpointsFor(result: RouteComputation, host = 'foo.com', path = '/'): string[] {
  const hostSpec = result.table.virtualHosts.find((virtualHost) => virtualHost.host === host);
  const route = hostSpec?.routes.find((candidate) => candidate.path === path);
  const upstream = result.table.upstreams.find((candidate) => candidate.id === route?.upstream);
  return (upstream?.endpoints ?? []).map((endpoint) => `${endpoint.address}:${endpoint.port}`);
}

describe('Backends: Service ports and EndpointSlices', () => {
  const cases = [
    {
      name: 'A port number refers to the Service port with that number',
      objects: [simpleIngress('i', 'foo.com', '/', 'web', { port: 80 }), service('web', [{ name: 'http', port: 80, targetPort: 9999 }]), endpointSlice('web-1', 'web', ['10.0.0.1'], [{ name: 'http', port: 8080 }])],
      endpoints: ['10.0.0.1:8080'],
    },
    {
      name: 'A port name refers to the Service port with that name',
      objects: [
        simpleIngress('i', 'foo.com', '/', 'web', { port: 'admin' }),
        service('web', [{ name: 'http', port: 80 }, { name: 'admin', port: 9000 }]),
        endpointSlice('web-1', 'web', ['10.0.0.1'], [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090 }]),
      ],
      endpoints: ['10.0.0.1:9090'],
    },
    {
      name: "The EndpointSlice port, not the Service's targetPort, is the port used",
      objects: [simpleIngress('i', 'foo.com', '/', 'web'), service('web', [{ name: 'http', port: 80, targetPort: 'named-target' }]), endpointSlice('web-1', 'web', ['10.0.0.1'], [{ name: 'http', port: 3000 }])],
      endpoints: ['10.0.0.1:3000'],
    },
    {
      name: 'An unnamed Service port matches the unnamed EndpointSlice port',
      objects: [simpleIngress('i', 'foo.com', '/', 'web'), service('web', [{ port: 80 }]), endpointSlice('web-1', 'web', ['10.0.0.1'], [{ port: 8081 }])],
      endpoints: ['10.0.0.1:8081'],
    },
    {
      name: 'Endpoints from every slice of the Service are used, once each',
      objects: [
        simpleIngress('i', 'foo.com', '/', 'web'),
        service('web'),
        endpointSlice('web-1', 'web', ['10.0.0.1', '10.0.0.2']),
        endpointSlice('web-2', 'web', ['10.0.0.2', '10.0.0.3']),
        endpointSlice('other', 'not-web', ['10.9.9.9']),
      ],
      endpoints: ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'],
    },
    {
      name: 'Only ready endpoints are used, and an unset ready condition counts as ready',
      objects: [
        simpleIngress('i', 'foo.com', '/', 'web'),
        service('web'),
        endpointSlice('web-1', 'web', [{ ip: '10.0.0.1', ready: true }, { ip: '10.0.0.2', ready: false }, { ip: '10.0.0.3' }, { ip: '10.0.0.4', ready: null }]),
      ],
      endpoints: ['10.0.0.1:8080', '10.0.0.3:8080', '10.0.0.4:8080'],
    },
    {
      name: 'A Service in another namespace with the same name is not used',
      objects: [simpleIngress('i', 'foo.com', '/', 'web'), ...backend('web', '10.0.0.9', 'elsewhere')],
      endpoints: [],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      assert.deepEqual(endpointsFor(compute(testCase.objects)), testCase.endpoints);
    });
  }
});

describe('Backends: what answers 503 and what warns', () => {
  const cases = [
    { name: 'A Service that does not exist gives a route with no endpoints (503) and a ServiceNotFound warning', objects: [simpleIngress('i', 'foo.com', '/', 'missing')], warning: 'Ingress default/i ServiceNotFound' },
    { name: 'A Service port that does not exist gives a route with no endpoints and a ServicePortNotFound warning', objects: [simpleIngress('i', 'foo.com', '/', 'web', { port: 81 }), ...backend('web')], warning: 'Ingress default/i ServicePortNotFound' },
    { name: 'A Service with no ready endpoints gives a route with no endpoints and a NoReadyEndpoints warning', objects: [simpleIngress('i', 'foo.com', '/', 'web'), service('web'), endpointSlice('web-1', 'web', [{ ip: '10.0.0.1', ready: false }])], warning: 'Ingress default/i NoReadyEndpoints' },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = compute(testCase.objects);
      assert.equal(routeRequest(result, 'foo.com', '/'), testCase.objects[0]?.kind === 'Ingress' ? (testCase.objects[0].spec.rules?.[0]?.http?.paths[0]?.backend.service?.name ?? '') : '');
      assert.deepEqual(endpointsFor(result), []);
      assert.deepEqual(warningsOf(result), [testCase.warning]);
    });
  }

  it('A resource backend is not supported: the path is ignored with an UnsupportedBackend warning', () => {
    const result = compute([
      ...backend('web'),
      ingress('i', { className: 'pier', rules: [{ host: 'foo.com', paths: [{ path: '/bucket', resource: { kind: 'StorageBucket', name: 'b' } }, { path: '/', service: 'web' }] }] }),
    ]);
    assert.equal(routeRequest(result, 'foo.com', '/bucket/x'), 'web');
    assert.deepEqual(warningsOf(result), ['Ingress default/i UnsupportedBackend']);
  });

  it('An invalid host or path affects only its own rule and is named in the warning', () => {
    const result = compute([
      ...backend('web'),
      ingress('i', {
        className: 'pier',
        rules: [
          { host: '*', paths: [{ path: '/', service: 'web' }] },
          { host: 'ok.com', paths: [{ path: 'relative', pathType: 'Prefix', service: 'web' }, { path: '/fine', service: 'web' }] },
        ],
      }),
    ]);
    assert.deepEqual(result.table.virtualHosts.map((virtualHost) => [virtualHost.host, virtualHost.routes.map((route) => route.path)]), [['ok.com', ['/fine']]]);
    assert.deepEqual(warningsOf(result), ['Ingress default/i InvalidHost', 'Ingress default/i InvalidPath']);
    assert.match(result.warnings[0]?.message ?? '', /spec\.rules\[0\]: host "\*" is invalid/);
    assert.match(result.warnings[1]?.message ?? '', /spec\.rules\[1\]\.http\.paths\[0\]/);
  });

  it('An invalid regular expression under use-regex is an InvalidPath warning, not a crash', () => {
    const result = compute([
      ...backend('web'),
      simpleIngress('i', 'foo.com', '/(unclosed', 'web', { pathType: 'ImplementationSpecific', annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' } }),
    ]);
    assert.deepEqual(warningsOf(result), ['Ingress default/i InvalidPath']);
  });

  // What RE2 can't match in linear time. The paths are the shapes found in ingress-nginx users'
  // Ingresses (lookahead to exclude a prefix, a backreference to repeat a segment).
  for (const [pattern, feature] of [
    ['/(?!admin)(.*)', 'a negative lookahead'],
    ['/api(?=/v2)(.*)', 'a lookahead'],
    ['/(?<!x)y', 'a lookbehind'],
    ['/(\\w+)/\\1', 'a backreference'],
  ] as const) {
    it(`A use-regex path with ${feature} (${pattern}) is refused with an InvalidPath warning naming the Ingress and path, and the other paths still route`, () => {
      const result = compute([
        ...backend('web'),
        ingress('i', {
          className: 'pier',
          annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
          rules: [{ host: 'foo.com', paths: [{ path: pattern, pathType: 'ImplementationSpecific', service: 'web' }, { path: '/ok/[0-9]+', pathType: 'ImplementationSpecific', service: 'web' }] }],
        }),
      ]);
      assert.deepEqual(warningsOf(result), ['Ingress default/i InvalidPath']);
      assert.ok(result.warnings[0]?.message.includes(`path "${pattern}"`), result.warnings[0]?.message);
      assert.match(result.warnings[0]?.message ?? '', /no backreferences or lookaround/);
      assert.deepEqual(result.table.virtualHosts.map((virtualHost) => virtualHost.routes.map((route) => route.path)), [['/ok/[0-9]+']]);
      assert.equal(routeRequest(result, 'foo.com', '/ok/42'), 'web');
    });
  }

  it('An ExternalName Service is proxied to its DNS name on the Service port', () => {
    const result = compute([simpleIngress('i', 'foo.com', '/', 'ext', { port: 443 }), externalNameService('ext', 'api.example.net', [{ name: 'https', port: 443 }])]);
    assert.deepEqual(endpointsFor(result), ['api.example.net:443']);
    assert.deepEqual(result.warnings, []);
  });

  it('An ExternalName Service without ports uses the port number from the Ingress', () => {
    const result = compute([simpleIngress('i', 'foo.com', '/', 'ext', { port: 8443 }), externalNameService('ext', 'api.example.net')]);
    assert.deepEqual(endpointsFor(result), ['api.example.net:8443']);
  });
});

describe('Default backends', () => {
  it("An Ingress's spec.defaultBackend takes requests for its hosts that match no rule", () => {
    const result = compute([
      ...backend('web'),
      ...backend('fallback', '10.0.0.5'),
      ingress('i', { className: 'pier', defaultBackend: { service: 'fallback', port: 80 }, rules: [{ host: 'foo.com', paths: [{ path: '/app', service: 'web' }] }] }),
    ]);
    assert.equal(routeRequest(result, 'foo.com', '/app'), 'web');
    assert.equal(routeRequest(result, 'foo.com', '/other'), 'fallback');
  });

  it('An Ingress with a defaultBackend and no rules takes every request', () => {
    const result = compute([...backend('fallback'), ingress('i', { className: 'pier', defaultBackend: { service: 'fallback', port: 'http' } })]);
    assert.equal(routeRequest(result, 'anything.example', '/x'), 'fallback');
    assert.equal(routeRequest(result, '', '/'), 'fallback');
  });

  it('The oldest Ingress defaultBackend takes unmatched hosts, and a younger one is warned', () => {
    const result = compute([
      ...backend('one'),
      ...backend('two', '10.0.0.2'),
      ingress('young', { className: 'pier', createdAt: '2026-02-01T00:00:00Z', defaultBackend: { service: 'two', port: 80 } }),
      ingress('old', { className: 'pier', createdAt: '2026-01-01T00:00:00Z', defaultBackend: { service: 'one', port: 80 } }),
    ]);
    assert.equal(routeRequest(result, 'x.example', '/'), 'one');
    assert.deepEqual(warningsOf(result), ['Ingress default/young DefaultBackendConflict']);
  });

  it('--default-backend-service takes unmatched requests when no Ingress has a defaultBackend', () => {
    const result = compute([...backend('web'), ...backend('catch', '10.0.0.7', 'pier'), simpleIngress('i', 'foo.com', '/', 'web')], {
      defaultBackendService: { namespace: 'pier', name: 'catch' },
    });
    assert.equal(routeRequest(result, 'foo.com', '/'), 'web');
    assert.equal(routeRequest(result, 'bar.com', '/'), 'catch');
    assert.deepEqual(result.table.defaultBackend, { upstream: 'pier/catch:http', ingress: null });
  });

  it('An Ingress defaultBackend beats --default-backend-service', () => {
    const result = compute([...backend('mine'), ...backend('catch', '10.0.0.7', 'pier'), ingress('i', { className: 'pier', defaultBackend: { service: 'mine', port: 80 } })], {
      defaultBackendService: { namespace: 'pier', name: 'catch' },
    });
    assert.equal(routeRequest(result, 'bar.com', '/'), 'mine');
  });

  it('Without any default backend an unmatched request gets the built-in 404', () => {
    const result = compute([...backend('web'), simpleIngress('i', 'foo.com', '/', 'web')]);
    assert.equal(result.table.defaultBackend, null);
    assert.equal(routeRequest(result, 'bar.com', '/'), '404');
  });

  it('A --default-backend-service that does not exist answers 503 and is warned about', () => {
    const result = compute([], { defaultBackendService: { namespace: 'pier', name: 'gone' } });
    assert.equal(routeRequest(result, 'bar.com', '/'), 'gone');
    assert.deepEqual(warningsOf(result), ['Service pier/gone ServiceNotFound']);
  });
});

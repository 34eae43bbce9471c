// Which Ingress updates cost a recomputation: the leader's own status writes come back as watch
// updates and must not, while every change that can move a route must.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { onlyStatusChanged } from '../../operator/sources/cluster.ts';
import { ingress, service, simpleIngress } from '../helpers/objects.ts';

const before = simpleIngress('web', 'foo.com', '/', 'web');

describe('onlyStatusChanged', () => {
  it('is true when only status.loadBalancer changed', () => {
    const after = { ...before, status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } };
    assert.equal(onlyStatusChanged(before, after), true);
  });

  const routeChanges: [string, ReturnType<typeof ingress>][] = [
    ['a path', simpleIngress('web', 'foo.com', '/other', 'web')],
    ['a host', simpleIngress('web', 'bar.com', '/', 'web')],
    ['an annotation (use-regex, backend-protocol, the class annotation)', simpleIngress('web', 'foo.com', '/', 'web', { annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' } })],
    ['the class', simpleIngress('web', 'foo.com', '/', 'web', { className: 'other' })],
  ];
  for (const [what, after] of routeChanges) {
    it(`is false when ${what} changed`, () => {
      assert.equal(onlyStatusChanged(before, after), false);
    });
  }

  it('is false for kinds other than Ingress', () => {
    assert.equal(onlyStatusChanged(service('web'), service('web')), false);
  });
});

// Endpoint churn: when only EndpointSlices change, the computed table differs in upstream endpoints
// and nothing else, and endpointChanges names exactly the upstreams whose endpoints moved. The
// Runtime relies on both to update the proxy's endpoints in place instead of swapping a new table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import { endpointChanges } from '../../operator/routes/endpoint-changes.ts';
import type { RouteTableSpec } from '../../operator/routes/types.ts';
import { endpointSlice, service, simpleIngress } from '../helpers/objects.ts';
import { compute } from './route-helpers.ts';

/** Two Services behind two Ingresses, each with the endpoints given. */
function cluster(web: (string | { ip: string; ready: boolean })[], api: string[]): KubeObject[] {
  return [
    simpleIngress('web', 'web.example', '/', 'web'),
    simpleIngress('api', 'api.example', '/', 'api'),
    service('web'),
    service('api'),
    endpointSlice('web-1', 'web', web),
    endpointSlice('api-1', 'api', api),
  ];
}

/** The table without endpoints: what must not change when only EndpointSlices do. */
function withoutEndpoints(table: RouteTableSpec): unknown {
  return { ...table, upstreams: table.upstreams.map(({ endpoints: _endpoints, ...rest }) => rest) };
}

describe('endpoint changes', () => {
  const cases: { name: string; before: KubeObject[]; after: KubeObject[]; changed: string[] | null }[] = [
    { name: 'The same endpoints change nothing', before: cluster(['10.0.0.1'], ['10.0.1.1']), after: cluster(['10.0.0.1'], ['10.0.1.1']), changed: [] },
    { name: 'An endpoint added to one Service changes that upstream only', before: cluster(['10.0.0.1'], ['10.0.1.1']), after: cluster(['10.0.0.1', '10.0.0.2'], ['10.0.1.1']), changed: ['default/web:80'] },
    { name: 'An endpoint that stops being ready changes its upstream', before: cluster(['10.0.0.1', '10.0.0.2'], ['10.0.1.1']), after: cluster(['10.0.0.1', { ip: '10.0.0.2', ready: false }], ['10.0.1.1']), changed: ['default/web:80'] },
    { name: 'A Service left with no endpoints changes its upstream', before: cluster(['10.0.0.1'], ['10.0.1.1']), after: cluster(['10.0.0.1'], []), changed: ['default/api:80'] },
    { name: 'Endpoints of both Services moving change both upstreams', before: cluster(['10.0.0.1'], ['10.0.1.1']), after: cluster(['10.0.0.9'], ['10.0.1.9']), changed: ['default/api:80', 'default/web:80'] },
    {
      name: 'A new upstream is not an endpoint change: the table must be swapped whole',
      before: cluster(['10.0.0.1'], ['10.0.1.1']),
      after: [...cluster(['10.0.0.1'], ['10.0.1.1']), simpleIngress('extra', 'extra.example', '/', 'extra'), service('extra')],
      changed: null,
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const before = compute(testCase.before).table;
      const after = compute(testCase.after).table;
      assert.deepEqual(endpointChanges(before, after)?.map((upstream) => upstream.id) ?? null, testCase.changed);
    });
  }

  it('leaves everything in the table but upstream endpoints alone when only EndpointSlices change', () => {
    const before = compute(cluster(['10.0.0.1'], ['10.0.1.1'])).table;
    const after = compute(cluster(['10.0.0.1', { ip: '10.0.0.3', ready: false }, '10.0.0.2'], [])).table;
    assert.deepEqual(withoutEndpoints(after), withoutEndpoints(before));
    const changes = endpointChanges(before, after) ?? [];
    const patched = { ...before, upstreams: before.upstreams.map((upstream) => changes.find((change) => change.id === upstream.id) ?? upstream) };
    assert.deepEqual(patched, after, 'the old table with the changed upstreams put in is the new table');
  });
});

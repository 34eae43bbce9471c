// The status writer's plan: the published addresses joined with the computation's served Ingresses
// (addresses are not routes: changing them needs no new computation), writing only what differs.
// plan() reads no API: the client it is given is never called here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkingV1Api } from '@kubernetes/client-node';
import { StatusWriter } from '../../operator/status.ts';
import { createLogger } from '../../proxy/log.ts';
import { Store } from '../../operator/store.ts';
import type { RouteComputation } from '../../operator/routes/types.ts';
import { simpleIngress } from '../helpers/objects.ts';

const PUBLISHED = [{ ip: '192.0.2.10' }];

function computationServing(...names: string[]): RouteComputation {
  return { statuses: names.map((name) => ({ ingress: { namespace: 'default', name } })), ignored: [], warnings: [], table: { virtualHosts: [], defaultBackend: null, upstreams: [] }, certificatesChangeAt: null, tlsFallbacks: [] };
}

describe('the status writer\'s plan', () => {
  const writer = new StatusWriter({} as NetworkingV1Api, createLogger('error'));
  const fresh = simpleIngress('fresh', 'a.test', '/', 'web');
  const current = { ...simpleIngress('current', 'b.test', '/', 'web'), status: { loadBalancer: { ingress: PUBLISHED } } };
  const snapshot = Store.fromObjects([fresh, current]).snapshot();

  it('gives the published addresses to every served Ingress that doesn\'t have them yet, and leaves the others alone', () => {
    const writes = writer.plan(computationServing('fresh', 'current'), snapshot, PUBLISHED);
    assert.deepEqual(writes, [{ ingress: { namespace: 'default', name: 'fresh' }, addresses: PUBLISHED }]);
  });

  it('rewrites them all when the addresses change, from the same computation', () => {
    const moved = [{ hostname: 'lb.example.test' }];
    const writes = writer.plan(computationServing('fresh', 'current'), snapshot, moved);
    assert.deepEqual(writes.map((write) => [write.ingress.name, write.addresses]), [['fresh', moved], ['current', moved]]);
  });

  it('looks only at the Ingresses that changed when the addresses did not: an unchanged Ingress without status is left for the sync that saw it', () => {
    const served = computationServing('current', 'fresh');
    assert.deepEqual(writer.plan(served, snapshot, PUBLISHED, new Set(['default/current'])), []);
    assert.deepEqual(writer.plan(served, snapshot, PUBLISHED, new Set(['default/fresh', 'default/deleted-meanwhile'])), [{ ingress: { namespace: 'default', name: 'fresh' }, addresses: PUBLISHED }]);
  });
});

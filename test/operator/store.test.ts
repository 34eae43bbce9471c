// The store hands out snapshots that never change afterwards, and tells what changed between two
// of them: the incremental route computation relies on both.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../operator/store.ts';
import { endpointSlice, ingress, service } from '../helpers/objects.ts';

const changedKeys = (store: Store) => {
  const snapshot = store.snapshot();
  return Object.fromEntries(Object.entries(snapshot.changes?.keys ?? {}).filter(([, keys]) => keys.size > 0).map(([kind, keys]) => [kind, [...keys].sort()]));
};

describe('store', () => {
  it('keeps a snapshot as it was when the store is written to afterwards', () => {
    const store = Store.fromObjects([ingress('a'), service('web')]);
    const before = store.snapshot();
    store.set(ingress('b'));
    store.delete('Service', 'default/web');
    const after = store.snapshot();
    assert.deepEqual([...before.ingressesByKey.keys()], ['default/a']);
    assert.deepEqual(before.ingresses.map((object) => object.metadata.name), ['a']);
    assert.ok(before.services.has('default/web'));
    assert.deepEqual([...after.ingressesByKey.keys()].sort(), ['default/a', 'default/b']);
    assert.equal(after.services.has('default/web'), false);
  });

  it('names the keys that changed since the previous snapshot, and EndpointSlices by their Service', () => {
    const store = Store.fromObjects([ingress('a'), service('web'), endpointSlice('web-1', 'web', ['10.0.0.1'])]);
    const first = store.snapshot();
    assert.equal(first.changes, undefined);
    store.set(ingress('a', { rules: [{ host: 'a.example' }] }));
    store.set(endpointSlice('web-1', 'web', ['10.0.0.2']));
    const second = store.snapshot();
    assert.equal(second.changes?.since, first.revision);
    assert.deepEqual(Object.fromEntries(Object.entries(second.changes?.keys ?? {}).filter(([, keys]) => keys.size > 0).map(([kind, keys]) => [kind, [...keys]])), { Ingress: ['default/a'], EndpointSlice: ['default/web'] });
    assert.deepEqual(changedKeys(store), {});
  });

  it('moves a relabelled EndpointSlice from one Service to the other, and says both changed', () => {
    const store = Store.fromObjects([endpointSlice('shared-1', 'blue', ['10.0.0.1'])]);
    store.snapshot();
    store.set(endpointSlice('shared-1', 'green', ['10.0.0.1']));
    const snapshot = store.snapshot();
    assert.equal(snapshot.endpointSlicesByService.get('default/blue'), undefined);
    assert.equal(snapshot.endpointSlicesByService.get('default/green')?.length, 1);
    assert.deepEqual([...(snapshot.changes?.keys.EndpointSlice ?? [])].sort(), ['default/blue', 'default/green']);
  });

  it('writes nothing for objects a relist brings again at the same resourceVersion', () => {
    const versioned = (name: string, resourceVersion: string) => ({ ...ingress(name), metadata: { ...ingress(name).metadata, resourceVersion } });
    const store = Store.fromObjects([versioned('a', '1'), versioned('b', '1')]);
    store.snapshot();
    store.replaceKind('Ingress', [versioned('a', '1'), versioned('c', '1')]);
    assert.deepEqual(changedKeys(store), { Ingress: ['default/b', 'default/c'] });
  });
});

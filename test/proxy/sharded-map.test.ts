// ShardedMap: each version is a plain read-only map, and making the next one never changes the last.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ShardedMap } from '../../proxy/sharded-map.ts';

describe('sharded map', () => {
  it('holds what a Map would after the same sets and deletes, and leaves every earlier version as it was', () => {
    const reference = new Map<string, number>();
    const versions: { map: ShardedMap<number>; expected: Map<string, number> }[] = [];
    let map = ShardedMap.empty<number>();
    for (let step = 0; step < 2000; step++) {
      const key = `host-${(step * 7919) % 600}.example.com`;
      const builder = map.builder();
      if (step % 5 === 4) {
        builder.delete(key);
        reference.delete(key);
      } else {
        builder.set(key, step);
        reference.set(key, step);
      }
      map = builder.build();
      if (step % 100 === 0) versions.push({ map, expected: new Map(reference) });
    }
    assert.equal(map.size, reference.size);
    assert.deepEqual(new Map(map), reference);
    for (const { map: version, expected } of versions) {
      assert.equal(version.size, expected.size);
      for (const [key, value] of expected) assert.equal(version.get(key), value);
      assert.deepEqual([...version.keys()].sort(), [...expected.keys()].sort());
    }
  });

  it('applies a batch of changes with undefined meaning delete, and counts each key once', () => {
    const map = ShardedMap.from([['a', 1], ['b', 2]]);
    const next = map.with([['a', undefined], ['c', 3], ['c', 4], ['missing', undefined]]);
    assert.deepEqual(Object.fromEntries(next), { b: 2, c: 4 });
    assert.equal(next.size, 2);
    assert.deepEqual(Object.fromEntries(map), { a: 1, b: 2 });
  });

  it('keeps building after build(): the version built is not changed by later writes', () => {
    const builder = ShardedMap.empty<string>().builder();
    builder.set('x', 'one');
    const first = builder.build();
    builder.set('x', 'two');
    builder.set('y', 'three');
    const second = builder.build();
    assert.equal(first.get('x'), 'one');
    assert.equal(first.has('y'), false);
    assert.equal(second.get('x'), 'two');
    assert.equal(second.size, 2);
  });
});

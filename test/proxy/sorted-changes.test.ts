// The walk that finds what changed between two versions of a sorted list (sorted-changes.ts), the
// list deltas built on it (table-delta.ts), and the index of upstream users (sharded-index.ts):
// table-driven cases, then random lists (fast-check, seeded) against plain reference answers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ShardedIndex } from '../../proxy/sharded-index.ts';
import { indexOfKey, isStrictlySorted, sortedChanges, type Change } from '../../proxy/sorted-changes.ts';
import { applyListDelta, listDelta } from '../../proxy/table-delta.ts';

interface Entry {
  readonly key: string;
  readonly value: number;
}
const keyOf = (entry: Entry): string => entry.key;
const entry = (key: string, value = 0): Entry => ({ key, value });
const describeChanges = (changes: readonly Change<Entry>[] | null): string[] | null =>
  changes === null ? null : changes.map(({ key, before, after }) => (before === undefined ? `+${key}` : after === undefined ? `-${key}` : `~${key}`));

const runs = Number(process.env.PIER_PROPERTY_RUNS ?? 300);
const seed = process.env.PIER_PROPERTY_SEED === undefined ? 20261202 : Number(process.env.PIER_PROPERTY_SEED);

describe('changes between two sorted lists', () => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((key) => entry(key)) as [Entry, Entry, Entry, Entry];
  const CASES: readonly (readonly [string, readonly Entry[], readonly Entry[], readonly string[] | null])[] = [
    ['nothing changed (a new array of the same objects)', [a, b, c], [a, b, c], []],
    ['an entry is added first, between two others and last', [b, c], [a, b, entry('bb'), c, d], ['+a', '+bb', '+d']],
    ['entries are removed first and last', [a, b, c, d], [b, c], ['-a', '-d']],
    ['an entry is replaced by another object of its key', [a, b, c], [a, entry('b', 1), c], ['~b']],
    ['every entry is new', [a, b], [entry('a', 1), entry('c', 1)], ['~a', '-b', '+c']],
    ['the previous list is empty', [], [a, b], ['+a', '+b']],
    ['the new list is empty', [a, b], [], ['-a', '-b']],
    ['two shared entries are swapped', [a, b, c], [a, c, b], null],
    ['a new entry is out of place', [a, c], [a, c, entry('b')], null],
    ['a key appears twice', [a, b], [a, b, entry('b', 1)], null],
    ['an entry is listed twice', [a, b], [a, a, b], null],
    ['a new entry comes before a shared one of a lower key', [b, c], [entry('bb'), c, b], null],
  ];
  for (const [name, previous, next, expected] of CASES) {
    it(`are found when ${name}`, () => {
      assert.deepEqual(describeChanges(sortedChanges(previous, next, keyOf)), expected);
    });
  }

  /** A sorted list of distinct keys from a small universe, and an edit of it: entries kept, replaced, added, dropped, maybe shuffled. */
  const listAndEdit = fc
    .tuple(
      fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 40, size: 'max' }),
      // Up to 60 edits: more than a receiver splices in one by one.
      fc.array(fc.record({ index: fc.nat(60), action: fc.constantFrom('keep', 'keep', 'keep', 'replace', 'drop', 'add') }), { maxLength: 60, size: 'max' }),
      fc.boolean(),
    )
    .map(([keys, actions, shuffle]) => {
      const previous = [...new Set(keys)].sort((x, y) => x - y).map((key) => entry(`k${String(key).padStart(2, '0')}`));
      const byKey = new Map(previous.map((each) => [each.key, each]));
      for (const { index, action } of actions) {
        const key = `k${String(index).padStart(2, '0')}`;
        if (action === 'drop') byKey.delete(key);
        else if (action === 'replace' && byKey.has(key)) byKey.set(key, entry(key, index + 1));
        else if (action === 'add' && !byKey.has(key)) byKey.set(key, entry(key, 100 + index));
      }
      const next = [...byKey.keys()].sort().map((key) => byKey.get(key) as Entry);
      // Out of order now and then: two neighbours swapped.
      if (shuffle && next.length > 1) {
        const at = actions.length % (next.length - 1);
        [next[at], next[at + 1]] = [next[at + 1] as Entry, next[at] as Entry];
      }
      return { previous, next };
    });

  it('are what comparing the lists key by key finds, for random edits, or null when the new list is out of order', () => {
    fc.assert(
      fc.property(listAndEdit, ({ previous, next }) => {
        const found = sortedChanges(previous, next, keyOf);
        if (!isStrictlySorted(next, keyOf)) return assert.equal(found, null);
        const before = new Map(previous.map((each) => [each.key, each]));
        const after = new Map(next.map((each) => [each.key, each]));
        const expected = [...new Set([...before.keys(), ...after.keys()])]
          .sort()
          .filter((key) => before.get(key) !== after.get(key))
          .map((key) => ({ key, before: before.get(key), after: after.get(key) }));
        assert.deepStrictEqual(found, expected);
      }),
      { numRuns: runs, seed },
    );
  });

  it('turn into list deltas that give the new list back, keeping the receiver its own objects, for edits large and small', () => {
    fc.assert(
      fc.property(listAndEdit, fc.boolean(), ({ previous, next }, previousKnownSorted) => {
        const delta = previousKnownSorted ? listDelta(previous, next, keyOf, true) : listDelta(previous, next, keyOf);
        assert.equal('whole' in delta, !isStrictlySorted(next, keyOf), 'sent whole only when not sorted');
        // The receiver's copy is a structured clone: its entries are its own objects.
        const received = structuredClone(previous);
        const applied = applyListDelta(received, structuredClone(delta), keyOf);
        assert.deepStrictEqual(applied, next);
        if ('whole' in delta) return;
        const carried = new Set(delta.upserted.map(keyOf));
        const receivedByKey = new Map(received.map((each) => [each.key, each]));
        for (const each of applied) {
          if (!carried.has(each.key)) assert.equal(each, receivedByKey.get(each.key), `${each.key} is still the receiver's object`);
        }
      }),
      { numRuns: runs, seed },
    );
  });

  it('give entries by key through binary search', () => {
    const list = ['a', 'c', 'e'].map((key) => entry(key));
    assert.deepEqual(['a', 'b', 'c', 'e', 'f', ''].map((key) => indexOfKey(list, key, keyOf)), [0, -1, 1, 2, -1, -1]);
  });
});

describe('an index of members by key', () => {
  it('holds what a map of sets would after the same adds and deletes, small sets and large, and leaves every earlier version as it was', () => {
    const reference = new Map<string, Set<string>>();
    const versions: { index: ShardedIndex; expected: Map<string, Set<string>> }[] = [];
    let index = ShardedIndex.empty();
    for (let step = 0; step < 400; step++) {
      const builder = index.builder();
      // Key 0 grows past the array limit and shrinks back; the others stay small.
      for (let change = 0; change < 1 + (step % 4); change++) {
        const key = `upstream-${(step * 7 + change) % 5 === 0 ? 0 : (step + change) % 5}`;
        const member = `host-${(step * 13 + change * 31) % (key === 'upstream-0' ? 90 : 6)}`;
        const members = reference.get(key) ?? new Set<string>();
        // Mostly adds for 300 steps (a third are deletes), then only deletes.
        if (step >= 300 || (step + change) % 3 === 2) {
          builder.delete(key, member);
          members.delete(member);
        } else {
          builder.add(key, member);
          members.add(member);
        }
        if (members.size === 0) reference.delete(key);
        else reference.set(key, members);
      }
      index = builder.build();
      versions.push({ index, expected: new Map([...reference].map(([key, members]) => [key, new Set(members)])) });
    }
    const largest = Math.max(...versions.map(({ expected }) => expected.get('upstream-0')?.size ?? 0));
    assert.ok(largest > 32, `upstream-0 had ${largest} members at most`);
    for (const [step, { index: version, expected }] of versions.entries()) {
      for (let key = 0; key < 5; key++) {
        const members = [...version.membersOf(`upstream-${key}`)].sort();
        assert.deepEqual(members, [...(expected.get(`upstream-${key}`) ?? [])].sort(), `upstream-${key} at step ${step}`);
      }
    }
  });
});

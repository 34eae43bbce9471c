// Which members each key has (the hosts that use an upstream, say), versioned as ShardedMap is: a
// next version made from this one copies only what its changes touch. A key's members are a small
// array while they are few, and a ShardedMap of their own once they are many, so adding one host
// to an upstream that 50,000 hosts share copies a shard of them, not all of them.
import { ShardedMap, type ShardedMapBuilder } from './sharded-map.ts';

/** Above this many members a key's members move from an array to a ShardedMap. */
const ARRAY_LIMIT = 32;

type Members = readonly string[] | ShardedMap<true>;
/** Members being changed by a builder, which owns them until build(). */
type OpenMembers = string[] | ShardedMapBuilder<true>;

export class ShardedIndex {
  readonly #members: ShardedMap<Members>;

  private constructor(members: ShardedMap<Members>) {
    this.#members = members;
  }

  static empty(): ShardedIndex {
    return new ShardedIndex(ShardedMap.empty());
  }

  /** The members of `key`, in no particular order. */
  membersOf(key: string): Iterable<string> {
    const members = this.#members.get(key);
    if (members === undefined) return [];
    return members instanceof ShardedMap ? members.keys() : members;
  }

  builder(): ShardedIndexBuilder {
    return new ShardedIndexBuilder(this.#members);
  }

  /** @internal the builder hands its result over. */
  static fromMembers(members: ShardedMap<Members>): ShardedIndex {
    return new ShardedIndex(members);
  }
}

export class ShardedIndexBuilder {
  readonly #members: ShardedMapBuilder<Members>;
  readonly #open = new Map<string, OpenMembers>();

  constructor(members: ShardedMap<Members>) {
    this.#members = members.builder();
  }

  add(key: string, member: string): void {
    const open = this.#opened(key);
    if (Array.isArray(open)) {
      if (open.includes(member)) return;
      if (open.length < ARRAY_LIMIT) {
        open.push(member);
        return;
      }
      const grown = ShardedMap.empty<true>().builder();
      for (const each of open) grown.set(each, true);
      grown.set(member, true);
      this.#open.set(key, grown);
      return;
    }
    (open as ShardedMapBuilder<true>).set(member, true);
  }

  delete(key: string, member: string): void {
    if (!this.#open.has(key) && !this.#members.has(key)) return;
    const open = this.#opened(key);
    if (Array.isArray(open)) {
      const index = open.indexOf(member);
      if (index !== -1) open.splice(index, 1);
    } else {
      (open as ShardedMapBuilder<true>).delete(member);
    }
  }

  build(): ShardedIndex {
    for (const [key, open] of this.#open) {
      const members: Members = Array.isArray(open) ? open : (open as ShardedMapBuilder<true>).build();
      if ((members instanceof ShardedMap ? members.size : members.length) === 0) this.#members.delete(key);
      else this.#members.set(key, members);
    }
    // Built members are read-only from now on: the next change opens them again.
    this.#open.clear();
    return ShardedIndex.fromMembers(this.#members.build());
  }

  #opened(key: string): OpenMembers {
    let open = this.#open.get(key);
    if (open === undefined) {
      const members = this.#members.get(key);
      open = members === undefined ? [] : members instanceof ShardedMap ? members.builder() : members.slice();
      this.#open.set(key, open);
    }
    return open;
  }
}

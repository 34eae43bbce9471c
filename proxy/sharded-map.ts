// A string-keyed map that is never changed once made, whose next version shares all it can with
// this one: the keys are spread over SHARDS small maps by a hash of the key, and a change copies
// only the shards it touches. Making the next version after k changes costs about k × size/SHARDS,
// where a copy of a whole Map of 50,000 entries costs milliseconds; a lookup costs one hash of the
// key and one Map lookup. The store's snapshots and the proxy's tables are versions of these, so a
// change to one object among 50,000 costs what it touches. (Immutable.js's persistent Map does the
// same job with a trie; its lookups measured here about 7 times slower than a Map's, too slow for
// the request path.)

/** A power of two, so a shard is the hash's low bits. */
const SHARDS = 256;

function shardOf(key: string): number {
  // FNV-1a over UTF-16 code units: cheap, and spreads keys that differ in one character.
  let hash = 0x811c9dc5 | 0;
  const length = key.length;
  for (let index = 0; index < length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return hash & (SHARDS - 1);
}

const EMPTY_SHARD: ReadonlyMap<string, never> = new Map<string, never>();

export class ShardedMap<V> implements ReadonlyMap<string, V> {
  readonly #shards: readonly ReadonlyMap<string, V>[];
  readonly size: number;

  private constructor(shards: readonly ReadonlyMap<string, V>[], size: number) {
    this.#shards = shards;
    this.size = size;
  }

  static empty<V>(): ShardedMap<V> {
    return new ShardedMap<V>(Array.from({ length: SHARDS }, () => EMPTY_SHARD), 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): ShardedMap<V> {
    const builder = ShardedMap.empty<V>().builder();
    for (const [key, value] of entries) builder.set(key, value);
    return builder.build();
  }

  get(key: string): V | undefined {
    return (this.#shards[shardOf(key)] as ReadonlyMap<string, V>).get(key);
  }

  has(key: string): boolean {
    return (this.#shards[shardOf(key)] as ReadonlyMap<string, V>).has(key);
  }

  /** A builder of the next version, starting from this one (which it never changes). */
  builder(): ShardedMapBuilder<V> {
    return new ShardedMapBuilder(this.#shards, this.size);
  }

  /** This map with these entries set (undefined: deleted). */
  with(changes: Iterable<readonly [string, V | undefined]>): ShardedMap<V> {
    const builder = this.builder();
    for (const [key, value] of changes) {
      if (value === undefined) builder.delete(key);
      else builder.set(key, value);
    }
    return builder.build();
  }

  *entries(): MapIterator<[string, V]> {
    for (const shard of this.#shards) yield* shard.entries();
  }

  *keys(): MapIterator<string> {
    for (const shard of this.#shards) yield* shard.keys();
  }

  *values(): MapIterator<V> {
    for (const shard of this.#shards) yield* shard.values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }

  /** @internal the builder reads and hands over shards. */
  static fromShards<V>(shards: readonly ReadonlyMap<string, V>[], size: number): ShardedMap<V> {
    return new ShardedMap(shards, size);
  }
}

/** Collects changes on top of a version, copying each shard the first time it is written. */
export class ShardedMapBuilder<V> {
  #shards: ReadonlyMap<string, V>[];
  /** Shards this builder copied, which it may write in place until build(). */
  #owned = new Set<number>();
  #size: number;

  constructor(shards: readonly ReadonlyMap<string, V>[], size: number) {
    this.#shards = shards.slice();
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    return (this.#shards[shardOf(key)] as ReadonlyMap<string, V>).get(key);
  }

  has(key: string): boolean {
    return (this.#shards[shardOf(key)] as ReadonlyMap<string, V>).has(key);
  }

  set(key: string, value: V): void {
    const shard = this.#writable(shardOf(key));
    if (!shard.has(key)) this.#size++;
    shard.set(key, value);
  }

  delete(key: string): void {
    const index = shardOf(key);
    if (!(this.#shards[index] as ReadonlyMap<string, V>).has(key)) return;
    this.#writable(index).delete(key);
    this.#size--;
  }

  /** The version with every change so far. The builder can go on: its next write copies again. */
  build(): ShardedMap<V> {
    this.#owned = new Set();
    return ShardedMap.fromShards(this.#shards.slice(), this.#size);
  }

  #writable(index: number): Map<string, V> {
    if (!this.#owned.has(index)) {
      this.#shards[index] = new Map(this.#shards[index]);
      this.#owned.add(index);
    }
    return this.#shards[index] as Map<string, V>;
  }
}

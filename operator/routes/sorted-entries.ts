// A list kept sorted by key, for the incremental computation: a change touches a few entries, so
// they are spliced into place; when many changed (a first computation), the list is sorted anew.
// Each call to list() after a change returns a new array, so a list handed out never changes.
import { compareText } from './compare.ts';
import { lowerBound } from '../../proxy/sorted-changes.ts';

/** Below this many changed entries (and an eighth of the list), entries are spliced in rather than the whole list sorted. */
const SPLICE_LIMIT = 32;

export class SortedEntries<T> {
  readonly #byKey = new Map<string, T>();
  #keys: string[] = [];
  #items: T[] = [];
  readonly #touched = new Set<string>();
  #list: readonly T[] = [];

  get(key: string): T | undefined {
    return this.#byKey.get(key);
  }

  set(key: string, item: T): void {
    this.#byKey.set(key, item);
    this.#touched.add(key);
  }

  delete(key: string): void {
    if (this.#byKey.delete(key)) this.#touched.add(key);
  }

  /** The items in key order (code units, as compareText). */
  list(): readonly T[] {
    if (this.#touched.size === 0) return this.#list;
    if (this.#touched.size > SPLICE_LIMIT && this.#touched.size * 8 > this.#keys.length) {
      this.#keys = [...this.#byKey.keys()].sort(compareText);
      this.#items = this.#keys.map((key) => this.#byKey.get(key) as T);
    } else {
      for (const key of this.#touched) this.#place(key);
    }
    this.#touched.clear();
    this.#list = this.#items.slice();
    return this.#list;
  }

  #place(key: string): void {
    const index = lowerBound(this.#keys, key, (text) => text);
    const present = this.#keys[index] === key;
    if (!this.#byKey.has(key)) {
      if (present) {
        this.#keys.splice(index, 1);
        this.#items.splice(index, 1);
      }
    } else if (present) {
      this.#items[index] = this.#byKey.get(key) as T;
    } else {
      this.#keys.splice(index, 0, key);
      this.#items.splice(index, 0, this.#byKey.get(key) as T);
    }
  }
}

/** The item of the sorted `list` with this key, if any. */
export function findSorted<T>(list: readonly T[], key: string, keyOf: (item: T) => string): T | undefined {
  const item = list[lowerBound(list, key, keyOf)];
  return item !== undefined && keyOf(item) === key ? item : undefined;
}

/** `extra` placed into the sorted `list` by key, each replacing an entry of its key; `list` itself is unchanged. */
export function withSorted<T>(list: readonly T[], extra: readonly T[], keyOf: (item: T) => string): readonly T[] {
  if (extra.length === 0) return list;
  const result = list.slice();
  for (const item of extra) {
    const key = keyOf(item);
    const index = lowerBound(result, key, keyOf);
    const present = result[index];
    if (present !== undefined && keyOf(present) === key) result[index] = item;
    else result.splice(index, 0, item);
  }
  return result;
}

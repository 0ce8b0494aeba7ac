/** Options for {@link LruCache}. */
export interface LruCacheOptions<K> {
  /**
   * Upper bound on the summed weight of all entries; the least recently used are evicted past it.
   * @defaultValue Infinity
   */
  maxWeight?: number;
  /** Weight of one entry. @defaultValue every entry weighs 0 */
  weigh?: (key: K) => number;
}

interface Entry<K, V> {
  key: K;
  value: V;
  weight: number;
  /** Towards the most recently used end. */
  newer: Entry<K, V> | undefined;
  /** Towards the least recently used end. */
  older: Entry<K, V> | undefined;
}

/**
 * A least-recently-used map bounded by entry count (and optionally by total weight): a `Map` for lookup
 * plus a doubly linked recency list, so hits, inserts and evictions are O(1). (Re-inserting into the `Map`
 * and evicting via `map.keys().next()` is much slower: deleted slots pile up at the front of V8's ordered
 * hash table and the iterator has to skip them.) A capacity of 0 disables caching.
 */
export class LruCache<K, V> {
  readonly capacity: number;
  private readonly map = new Map<K, Entry<K, V>>();
  private readonly maxWeight: number;
  private readonly weigh: ((key: K) => number) | undefined;
  private weight = 0;
  private newest: Entry<K, V> | undefined;
  private oldest: Entry<K, V> | undefined;

  constructor(capacity: number, options: LruCacheOptions<K> = {}) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`LruCache capacity must be a non-negative integer, got ${String(capacity)}`);
    }
    this.capacity = capacity;
    this.maxWeight = options.maxWeight ?? Infinity;
    this.weigh = options.weigh;
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** Summed weight of all entries. */
  get totalWeight(): number {
    return this.weight;
  }

  /** The value for `key`, marking it most recently used; `undefined` when absent. */
  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.touch(entry);
    return entry.value;
  }

  /** True when `key` is cached; does not touch recency. */
  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores `value` as the most recently used entry, evicting old entries past the bounds. */
  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    const existing = this.map.get(key);
    if (existing !== undefined) {
      existing.value = value;
      this.touch(existing);
      return;
    }
    const weight = this.weigh === undefined ? 0 : this.weigh(key);
    if (weight > this.maxWeight) return; // would evict everything and still not fit
    const entry: Entry<K, V> = { key, value, weight, newer: undefined, older: this.newest };
    if (this.newest !== undefined) this.newest.newer = entry;
    this.newest = entry;
    this.oldest ??= entry;
    this.map.set(key, entry);
    this.weight += weight;
    while (this.map.size > this.capacity || this.weight > this.maxWeight) this.evictOldest();
  }

  /** Removes every entry. */
  clear(): void {
    this.map.clear();
    this.weight = 0;
    this.newest = undefined;
    this.oldest = undefined;
  }

  private touch(entry: Entry<K, V>): void {
    if (entry === this.newest) return;
    // unlink (entry has a newer neighbour because it is not the newest)
    entry.newer!.older = entry.older;
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    // relink at the newest end
    entry.older = this.newest;
    entry.newer = undefined;
    this.newest!.newer = entry;
    this.newest = entry;
  }

  private evictOldest(): void {
    const entry = this.oldest;
    if (entry === undefined) return;
    this.oldest = entry.newer;
    if (this.oldest !== undefined) this.oldest.older = undefined;
    else this.newest = undefined;
    this.map.delete(entry.key);
    this.weight -= entry.weight;
  }
}

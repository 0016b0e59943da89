// A cache of at most `capacity` entries that forgets the least recently used first, in constant time per
// call at any size: two generations of up to half the capacity each. Entries are added to the young one;
// a hit in the old one is copied to the young one; when the young one is full it becomes the old one and
// the old one is dropped whole.
//
// (Deleting a Map's oldest entry one at a time, as `map.delete(map.keys().next().value)`, makes every
// later `keys().next()` step over the entries deleted before it until the table is rebuilt: 30 µs an
// eviction at 200,000 entries, which a line longer than the cache paid on nearly every poll.)

export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const older = this.old.get(key);
    if (older !== undefined) this.set(key, older);
    return older;
  }

  set(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }
}

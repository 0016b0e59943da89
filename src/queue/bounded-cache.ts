// A cache of at most `capacity` entries, in constant time per call at any size. It forgets by "second
// chance", an approximation of least recently used: a hit only marks its entry used; when a new entry
// needs room, the oldest entries are looked at in turn, and a marked one is moved to the back with its
// mark cleared while the first unmarked one is forgotten.
//
// A hit is one lookup and nothing else. (Two generations, copying every hit in the old one into the
// young one, made a hit three Map operations; a line of a million polled in turn, half the capacity,
// kept copying every token, with the Map growing and rehashing behind it.)

/**
 * A Map's entries oldest first, one at a time, for forgetting them: one walk, carried on between calls.
 * A new `keys()` walk from the start steps over every entry deleted before it until the table is rebuilt
 * (30 µs an eviction at 200,000 entries). The caller deletes each entry it is given; one it sets again
 * goes to the back, where the walk meets it later.
 */
export class OldestFirst<K, V> {
  private walk: Iterator<[K, V]> | undefined;

  constructor(private readonly map: Map<K, V>) {}

  /** The oldest entry not given yet; undefined when the Map is empty. */
  next(): [K, V] | undefined {
    let next = this.walk?.next();
    // A walk that ran out (the Map was emptied) sees nothing added after it: a new one starts.
    if (!next || next.done) {
      this.walk = this.map.entries();
      next = this.walk.next();
    }
    return next.done ? undefined : next.value;
  }
}

interface Slot<V> {
  value: V;
  used: boolean;
}

/** Marked entries moved back for one new entry at most: past it the oldest goes anyway, so no call walks far. */
const MAX_SECOND_CHANCES = 16;

export class BoundedCache<K, V> {
  private readonly slots = new Map<K, Slot<V>>();
  private readonly oldestFirst = new OldestFirst(this.slots);
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    const slot = this.slots.get(key);
    if (slot !== undefined) {
      slot.value = value;
      slot.used = true;
      return;
    }
    if (this.slots.size >= this.capacity) this.forgetOne();
    this.slots.set(key, { value, used: false });
  }

  /** How many entries it holds. */
  get size(): number {
    return this.slots.size;
  }

  clear(): void {
    this.slots.clear();
  }

  private forgetOne(): void {
    for (let chances = 0; ; chances++) {
      const oldest = this.oldestFirst.next();
      if (!oldest) return;
      const [key, slot] = oldest;
      this.slots.delete(key);
      if (!slot.used || chances >= MAX_SECOND_CHANCES) return;
      slot.used = false;
      this.slots.set(key, slot);
    }
  }
}

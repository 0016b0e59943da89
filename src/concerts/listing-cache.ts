// Cached concert listings. An entry is used only while the concert's change counter still has the
// value read before it was loaded, and not past the moment its earliest hold lapses (a lapse changes
// the listing without any write), nor past MAX_AGE_MS as a backstop. Concurrent misses share one load.
// It holds at most MAX_ENTRIES entries weighing MAX_WEIGHT in all (a seat listing weighs its seats, up
// to a layout's 2,000), and forgets everything when one more would go over either.

export interface Loaded<T> {
  value: T;
  /** Epoch ms after which the value may be wrong even without a change (the next hold lapse). */
  validUntil: number;
  /** How much the value holds (the rows of a listing); 1 when not given. */
  weight?: number;
}

interface Entry {
  version: number;
  validUntil: number;
  value: unknown;
  weight: number;
}

const MAX_AGE_MS = 5_000;
export const MAX_ENTRIES = 10_000;
/** As many rows as 10,000 listings of 200 seats, the most the cache held before layouts. */
export const MAX_WEIGHT = 2_000_000;

export class ListingCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<unknown>>();
  private weight = 0;

  constructor(private readonly now: () => number) {}

  /** Forgets every entry (the change counters they were checked against were lost). */
  clear(): void {
    this.entries.clear();
    this.weight = 0;
  }

  /** What the entries held now weigh in all. */
  get totalWeight(): number {
    return this.weight;
  }

  async get<T>(key: string, version: number, load: () => Promise<Loaded<T>>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.version === version && this.now() < hit.validUntil) return hit.value as T;
    const loadKey = `${key}@${version}`;
    const pending = this.loading.get(loadKey);
    if (pending) return pending as Promise<T>;
    const run = load().then(({ value, validUntil, weight = 1 }) => {
      const replaced = this.entries.get(key);
      if (replaced) {
        this.entries.delete(key);
        this.weight -= replaced.weight;
      }
      if (this.entries.size >= MAX_ENTRIES || this.weight + weight > MAX_WEIGHT) this.clear();
      this.entries.set(key, { version, value, validUntil: Math.min(validUntil, this.now() + MAX_AGE_MS), weight });
      this.weight += weight;
      return value;
    });
    this.loading.set(loadKey, run);
    try {
      return await run;
    } finally {
      this.loading.delete(loadKey);
    }
  }
}

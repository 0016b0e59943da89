// Cached concert listings. An entry is used only while the concert's change counter still has the
// value read before it was loaded, and not past the moment its earliest hold lapses (a lapse changes
// the listing without any write), nor past MAX_AGE_MS as a backstop. Concurrent misses share one load.

export interface Loaded<T> {
  value: T;
  /** Epoch ms after which the value may be wrong even without a change (the next hold lapse). */
  validUntil: number;
}

interface Entry {
  version: number;
  validUntil: number;
  value: unknown;
}

const MAX_AGE_MS = 5_000;
const MAX_ENTRIES = 10_000;

export class ListingCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<unknown>>();

  constructor(private readonly now: () => number) {}

  /** Forgets every entry (the change counters they were checked against were lost). */
  clear(): void {
    this.entries.clear();
  }

  async get<T>(key: string, version: number, load: () => Promise<Loaded<T>>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.version === version && this.now() < hit.validUntil) return hit.value as T;
    const loadKey = `${key}@${version}`;
    const pending = this.loading.get(loadKey);
    if (pending) return pending as Promise<T>;
    const run = load().then(({ value, validUntil }) => {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { version, value, validUntil: Math.min(validUntil, this.now() + MAX_AGE_MS) });
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

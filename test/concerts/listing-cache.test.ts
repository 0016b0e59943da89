// The listing cache's promises (listing-cache.ts): an entry is used only under the version it was loaded
// with and before it may be wrong, concurrent misses share one load, and what it holds stays within
// MAX_WEIGHT rows however large each listing (a layout's date lists up to 2,000 seats).
import { describe, expect, it } from 'vitest';
import { ListingCache, MAX_WEIGHT } from '../../src/concerts/listing-cache.js';

function counter() {
  let loads = 0;
  return {
    load:
      (value: string, weight = 1, validUntil = Infinity) =>
      async () => {
        loads++;
        return { value, weight, validUntil };
      },
    get loads() {
      return loads;
    },
  };
}

describe('listing cache', () => {
  it('answers from an entry only while its version is current and it is still valid', async () => {
    let now = 1_000;
    const cache = new ListingCache(() => now);
    const c = counter();
    expect(await cache.get('k', 1, c.load('a', 1, 2_000))).toBe('a');
    expect(await cache.get('k', 1, c.load('b'))).toBe('a');
    expect(c.loads).toBe(1);
    expect(await cache.get('k', 2, c.load('c'))).toBe('c');
    now = 10_000; // past MAX_AGE_MS
    expect(await cache.get('k', 2, c.load('d'))).toBe('d');
    expect(c.loads).toBe(3);
  });

  it('shares one load among concurrent misses', async () => {
    const cache = new ListingCache(() => 0);
    const c = counter();
    const answers = await Promise.all(Array.from({ length: 5 }, () => cache.get('k', 1, c.load('x'))));
    expect(answers).toEqual(['x', 'x', 'x', 'x', 'x']);
    expect(c.loads).toBe(1);
  });

  it('never holds more than MAX_WEIGHT rows: one listing more forgets the others', async () => {
    const cache = new ListingCache(() => 0);
    const c = counter();
    const big = MAX_WEIGHT / 2;
    await cache.get('a', 1, c.load('a', big));
    await cache.get('b', 1, c.load('b', big));
    expect(cache.totalWeight).toBe(MAX_WEIGHT);
    await cache.get('c', 1, c.load('c', 1));
    expect(cache.totalWeight).toBe(1);
    // 'a' was forgotten: it loads again.
    await cache.get('a', 1, c.load('a', big));
    expect(c.loads).toBe(4);
    expect(cache.totalWeight).toBe(big + 1);
  });

  it('counts a reloaded listing once, not once per load', async () => {
    const cache = new ListingCache(() => 0);
    const c = counter();
    for (let version = 1; version <= 10; version++) await cache.get('seats', version, c.load('s', 2_000));
    expect(c.loads).toBe(10);
    expect(cache.totalWeight).toBe(2_000);
    cache.clear();
    expect(cache.totalWeight).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/queue/bounded-cache.js';

describe('bounded cache', () => {
  it('keeps an entry for at least half its capacity of new, unused entries after its last use', () => {
    const capacity = 10;
    for (let usedAfter = 0; usedAfter < 3 * capacity; usedAfter++) {
      const cache = new BoundedCache<string, number>(capacity);
      cache.set('kept', 0);
      // Other entries come and go; then `kept` is used as the service uses it (looked up, put back on a
      // miss), wherever the generations stand.
      for (let n = 0; n < usedAfter; n++) cache.set(`before ${n}`, n);
      if (cache.get('kept') === undefined) cache.set('kept', 0);
      for (let n = 0; n < capacity / 2 - 1; n++) cache.set(`after ${n}`, n);
      expect(cache.get('kept'), `used after ${usedAfter} others`).toBe(0);
    }
  });

  it('forgets an entry unused for its capacity of new entries', () => {
    const cache = new BoundedCache<string, number>(10);
    cache.set('forgotten', 0);
    for (let n = 0; n < 10; n++) cache.set(`other ${n}`, n);
    expect(cache.get('forgotten')).toBeUndefined();
  });

  it('gives a used entry a second chance: the oldest unused one goes first, and a used one only once unused since', () => {
    const cache = new BoundedCache<string, number>(4);
    for (const [n, key] of ['a', 'b', 'c', 'd'].entries()) cache.set(key, n);
    expect(cache.get('a')).toBe(0);
    cache.set('e', 4);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(0);
    // Oldest first now: c, d, a, e. With c used, the next new entry moves it back and forgets d.
    expect(cache.get('c')).toBe(2);
    cache.set('f', 5);
    expect(cache.get('d')).toBeUndefined();
    expect(cache.get('c')).toBe(2);
    expect(cache.size).toBe(4);
  });

  it('holds at most its capacity, and forgets one entry per new one even when every entry was used', () => {
    const cache = new BoundedCache<number, number>(100);
    for (let n = 0; n < 100; n++) cache.set(n, n);
    for (let n = 0; n < 100; n++) cache.get(n);
    cache.set(1_000, 1_000);
    expect(cache.size).toBe(100);
    expect(cache.get(1_000)).toBe(1_000);
    for (let n = 0; n < 10_000; n++) {
      cache.set(2_000 + n, n);
      if (n % 3 === 0) cache.get(2_000 + n - 50);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
  });

  it('forgets everything when cleared', () => {
    const cache = new BoundedCache<string, number>(10);
    cache.set('a', 1);
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
  });
});

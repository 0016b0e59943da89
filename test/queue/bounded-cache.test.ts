import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/queue/bounded-cache.js';

describe('bounded cache', () => {
  it('keeps an entry for at least half its capacity of new entries after its last use', () => {
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

  it('forgets everything when cleared', () => {
    const cache = new BoundedCache<string, number>(10);
    cache.set('a', 1);
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
  });
});

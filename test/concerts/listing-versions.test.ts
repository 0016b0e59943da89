// The listing change counters' promise: a cached listing is used only while its concert's counter has
// the value read before it was loaded, so no value may ever come round again, not even after Redis
// lost the counters (came back empty).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryListingVersions, RedisListingVersions } from '../../src/concerts/listing-versions.js';
import { connectTestRedis } from '../helpers/redis-keys.js';

const redisUrl = process.env.REDIS_URL;

describe('listing change counters', () => {
  it('in process: every bump gives a new value', async () => {
    const versions = new MemoryListingVersions();
    const seen = new Set([await versions.current('c')]);
    for (let i = 0; i < 5; i++) {
      await versions.bump(['c']);
      const v = await versions.current('c');
      expect(seen.has(v)).toBe(false);
      seen.add(v);
    }
  });

  describe.skipIf(!redisUrl)('in Redis', () => {
    const prefix = `test:${randomUUID()}:`;
    let versions: RedisListingVersions | undefined;
    beforeAll(async () => {
      versions = await RedisListingVersions.connect({ url: redisUrl!, cluster: process.env.REDIS_CLUSTER === 'true' }, prefix, () => undefined);
    });
    afterAll(async () => {
      await versions?.close();
    });

    it('never returns a value it returned before, even after the counters were lost', async () => {
      const concertId = randomUUID();
      const seen = new Set<number>();
      const redis = await connectTestRedis(redisUrl!);
      try {
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 3; i++) {
            const v = await versions!.current(concertId);
            expect(seen.has(v), `value ${v} came round again`).toBe(false);
            seen.add(v);
            await versions!.bump([concertId]);
          }
          await redis.del(`${prefix}listing:${concertId}`);
        }
      } finally {
        await redis.quit();
      }
    });
  });
});

// Deletes every Redis key under a prefix: what a test does to clean up, or to make Redis look as if it
// came back empty for one deployment. One script, so the deletion is atomic, as a restart is: an
// instance re-seeding its lines meanwhile cannot have some of its new keys deleted and others kept (a
// SCAN loop would take many round trips on a shared Redis, and leave such a half-lost line).
import { Redis } from 'ioredis';

const DELETE_UNDER_PREFIX = `
local keys = redis.call('KEYS', ARGV[1] .. '*')
for i = 1, #keys, 1000 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))
end
return #keys
`;

export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    // The prefix is matched as a glob: escape its special characters.
    await redis.eval(DELETE_UNDER_PREFIX, 0, prefix.replace(/[*?[\]\\]/g, '\\$&'));
  } finally {
    redis.disconnect();
  }
}

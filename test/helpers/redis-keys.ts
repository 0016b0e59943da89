// Deletes every Redis key under a prefix: what a test does to clean up, or to make Redis look as if it
// came back empty for one deployment. On one server it is one script, so the deletion is atomic, as a
// restart is: an instance re-seeding its lines meanwhile cannot have some of its new keys deleted and
// others kept (a SCAN loop would take many round trips on a shared Redis, and leave such a half-lost
// line). On a Redis Cluster no script may touch several slots, so every master is scanned instead.
import { Cluster, Redis } from 'ioredis';
import { masterNodes, redisSeeds, type RedisClient } from '../../src/redis/redis-client.js';

const DELETE_UNDER_PREFIX = `
local keys = redis.call('KEYS', ARGV[1] .. '*')
for i = 1, #keys, 1000 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))
end
return #keys
`;

/** The first seed that answers (a test may have killed the others), with its INFO cluster. */
async function firstAnswering(seeds: string[]): Promise<{ seed: string; info: string }> {
  let last: unknown = new Error('no Redis seed given');
  for (const seed of seeds) {
    const probe = new Redis(seed, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return { seed, info: await probe.info('cluster') };
    } catch (error) {
      last = error;
    } finally {
      probe.disconnect();
    }
  }
  throw last;
}

/**
 * A connected client for a test's REDIS_URL: a cluster client when the (first) node says it is part of
 * a cluster, so the same test runs against one server and against a cluster.
 */
export async function connectTestRedis(url: string): Promise<RedisClient> {
  const seeds = redisSeeds(url);
  const { seed, info } = await firstAnswering(seeds);
  if (!/cluster_enabled:1/.test(info)) {
    const redis = new Redis(seed, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    return redis;
  }
  const cluster = new Cluster(seeds, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 2 } });
  await cluster.connect();
  return cluster;
}

export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = await connectTestRedis(url);
  // The prefix is matched as a glob: escape its special characters.
  const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&');
  try {
    if (!(redis instanceof Cluster)) {
      await redis.eval(DELETE_UNDER_PREFIX, 0, pattern);
      return;
    }
    for (const node of masterNodes(redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${pattern}*`, 'COUNT', 1000);
        cursor = next;
        // One key per UNLINK: keys of different slots may not share a command, even on one node.
        await Promise.all(keys.map((key) => node.unlink(key)));
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

// Picks the queue store: Redis when REDIS_URL is set (any number of instances), in-process otherwise.
import type { Config } from '../config.js';
import type { QueueStore, QueueTimings } from './queue.store.js';
import { MemoryQueueStore } from './queue.store.memory.js';

/** Ended tokens answer TOKEN_EXPIRED for a day; after that they are forgotten (INVALID_TOKEN). */
const EXPIRED_RETENTION_MS = 24 * 60 * 60 * 1000;

export function queueTimings(config: Pick<Config, 'queue'>): QueueTimings {
  return {
    activeTtlMs: Math.round(config.queue.activeTtlSeconds * 1000),
    waitingIdleMs: Math.round(config.queue.waitingIdleSeconds * 1000),
    expiredRetentionMs: EXPIRED_RETENTION_MS,
  };
}

export async function createQueueStore(
  config: Pick<Config, 'queue' | 'redisUrl' | 'redisPrefix'>,
  onError: (error: Error) => void,
): Promise<QueueStore> {
  const initial = { activeLimit: config.queue.activeLimit, paused: false };
  if (config.redisUrl) {
    const { RedisQueueStore } = await import('./queue.store.redis.js');
    return RedisQueueStore.connect({ url: config.redisUrl, prefix: config.redisPrefix, timings: queueTimings(config), initial, onError });
  }
  return new MemoryQueueStore(queueTimings(config), initial);
}

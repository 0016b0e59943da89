// Picks the queue store: Redis when REDIS_URL is set (any number of instances), in-process otherwise.
import type { Config } from '../config.js';
import type { OutageLog } from '../health/outage-log.js';
import type { QueueStore, QueueTimings } from './queue.store.js';
import { MemoryQueueStore, type QueueSnapshot } from './queue.store.memory.js';

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
  connection: Pick<OutageLog, 'failed' | 'ok'>,
  /** The in-process store's line as it was saved before a restart (ignored with Redis). */
  saved?: { snapshot: QueueSnapshot; savedAt: number },
): Promise<QueueStore> {
  const initial = { activeLimit: config.queue.activeLimit, paused: false };
  if (config.redisUrl) {
    const { RedisQueueStore } = await import('./queue.store.redis.js');
    return RedisQueueStore.connect({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      timings: queueTimings(config),
      initial,
      onError: (error) => connection.failed(error),
      onReady: () => connection.ok(),
    });
  }
  if (saved) return MemoryQueueStore.restore(saved.snapshot, saved.savedAt, Date.now(), queueTimings(config), initial);
  return new MemoryQueueStore(queueTimings(config), initial);
}

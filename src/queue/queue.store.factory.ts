// Picks the queue store: Redis when REDIS_URL is set (any number of instances), in-process otherwise.
import type { Config } from '../config.js';
import { redisTarget } from '../redis/redis-client.js';
import type { OutageLog } from '../health/outage-log.js';
import type { RedisMetrics } from '../metrics/metrics.js';
import type { QueueLines, QueueTimings } from './queue.store.js';
import { MemoryQueueLines, MemoryQueueStore, type QueueSnapshot } from './queue.store.memory.js';

/** Ended tokens answer TOKEN_EXPIRED for a day; after that they are forgotten (INVALID_TOKEN). */
const EXPIRED_RETENTION_MS = 24 * 60 * 60 * 1000;

export function queueTimings(config: Pick<Config, 'queue'>): QueueTimings {
  return {
    activeTtlMs: Math.round(config.queue.activeTtlSeconds * 1000),
    waitingIdleMs: Math.round(config.queue.waitingIdleSeconds * 1000),
    expiredRetentionMs: EXPIRED_RETENTION_MS,
  };
}

export interface SavedLine {
  lineId: string;
  snapshot: QueueSnapshot;
  savedAt: number;
}

export async function createQueueLines(
  config: Pick<Config, 'queue' | 'redisUrl' | 'redisCluster' | 'redisPrefix'>,
  connection: Pick<OutageLog, 'failed' | 'ok'>,
  /** The in-process lines as they were saved before a restart (ignored with Redis). */
  saved: SavedLine[] = [],
  /** Told how long each Redis script took (ignored in process). */
  metrics?: RedisMetrics,
): Promise<QueueLines> {
  const initial = { activeLimit: config.queue.activeLimit, paused: false };
  const redis = redisTarget(config);
  if (redis) {
    const { RedisQueueLines } = await import('./queue.store.redis.js');
    return RedisQueueLines.connect({
      redis,
      prefix: config.redisPrefix,
      timings: queueTimings(config),
      initial,
      onError: (error) => connection.failed(error),
      onReady: () => connection.ok(),
      metrics,
    });
  }
  const now = Date.now();
  const timings = queueTimings(config);
  return new MemoryQueueLines(
    timings,
    initial,
    saved.map((s): [string, MemoryQueueStore] => [s.lineId, MemoryQueueStore.restore(s.snapshot, s.savedAt, now, timings, initial)]),
  );
}

// Makes every Redis client the app uses, so "one server or a cluster" is decided in one place: a plain
// ioredis client for REDIS_URL, or an ioredis Cluster over REDIS_URL's seed nodes when REDIS_CLUSTER is
// set. Both fail fast while their node is away and reconnect by themselves.
import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.js';

/** What the app talks to: one Redis server or a Redis Cluster (the commands it uses exist on both). */
export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  /** One `redis://` URL, or with `cluster` a comma-separated list of seed nodes. */
  url: string;
  cluster: boolean;
}

/**
 * Fail fast while Redis is away (no offline queue, no retries of a command whose connection dropped)
 * and reconnect forever, backing off to one attempt a second: a request is refused with 503 at once,
 * and the same process serves again as soon as Redis answers.
 */
export const FAIL_FAST_REDIS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  commandTimeout: 1_500,
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 1_000),
} as const;

/** Where the config points Redis, or undefined for the in-process queue. */
export function redisTarget(config: Pick<Config, 'redisUrl' | 'redisCluster'>): RedisTarget | undefined {
  return config.redisUrl ? { url: config.redisUrl, cluster: config.redisCluster } : undefined;
}

/** The seed URLs of REDIS_URL: one, or several separated by commas. */
export function redisSeeds(url: string): string[] {
  return url
    .split(',')
    .map((seed) => seed.trim())
    .filter((seed) => seed !== '');
}

/**
 * A client that has not connected yet (connect it with connectRedis). On a cluster, the fail-fast
 * rules hold per command as well: a command whose master is down is refused at once instead of being
 * retried while the cluster fails over (retryDelayOnFailover 0), reads go to masters too (scaleReads:
 * a replica may lag), and the client itself reconnects forever through its seeds.
 */
export function createRedisClient(target: RedisTarget): RedisClient {
  if (!target.cluster) return new Redis(target.url, { ...FAIL_FAST_REDIS, lazyConnect: true });
  const { retryStrategy, enableOfflineQueue, ...nodeOptions } = FAIL_FAST_REDIS;
  return new Cluster(redisSeeds(target.url), {
    lazyConnect: true,
    enableOfflineQueue,
    scaleReads: 'master',
    clusterRetryStrategy: retryStrategy,
    // A dropped node is not reconnected: a MOVED answer or the next slots refresh finds who serves its slots now.
    retryDelayOnFailover: 0,
    // CLUSTERDOWN and TRYAGAIN answer at once with an error too; the caller's 503 says "retry shortly".
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 0,
    slotsRefreshTimeout: 2_000,
    redisOptions: nodeOptions,
  });
}

/**
 * Connects a client made by createRedisClient. A cluster client opens a node's connection on the first
 * command for it, and without an offline queue it refuses every other command for that node until the
 * connection is up: so this also connects to every master (a node's own connection waits for itself),
 * and only the first moments after a failover see that refusal, as a 503.
 */
export async function connectRedis(redis: RedisClient): Promise<void> {
  await redis.connect();
  if (redis instanceof Cluster) await Promise.all(masterNodes(redis).map((node) => node.ping()));
}

/** Tells `onError` of the client's connection errors; a cluster reports a failing node as 'node error'. */
export function reportFailures(redis: RedisClient, onError: (error: Error) => void): void {
  redis.on('error', onError);
  if (redis instanceof Cluster) redis.on('node error', onError);
}

/**
 * Calls `ready` when the client works again after a failure. A single server's client says so ('ready'
 * on reconnecting); a cluster client stays ready through a failover, so it is working again once it has
 * re-read the slots (which it does when a node fails) and every master it now knows answers. That is
 * asked a moment after the event, one check at a time: the client emits it in the middle of its
 * refresh, and a command sent then fails and makes it refresh again.
 */
export function onWorkingAgain(redis: RedisClient, ready: () => void): void {
  redis.on('ready', ready);
  if (!(redis instanceof Cluster)) return;
  let checking = false;
  redis.on('refresh', () => {
    if (checking) return;
    checking = true;
    setTimeout(() => {
      Promise.all(masterNodes(redis).map((node) => node.ping()))
        .then(ready, () => undefined)
        .finally(() => {
          checking = false;
        });
    }, 100).unref();
  });
}

/** A fail-fast client that resolves once connected: without an offline queue, a command sent before that would fail. */
export async function connectFailFast(target: RedisTarget, onError: (error: Error) => void): Promise<RedisClient> {
  const redis = createRedisClient(target);
  reportFailures(redis, onError);
  try {
    await connectRedis(redis);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return redis;
}

/** The servers that hold data: the client itself, or every master of a cluster (for SCRIPT LOAD, SCAN…). */
export function masterNodes(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

// The Redis queue store: one fair line shared by any number of boxoffice instances. Every change of the
// line is one Lua script (./redis-scripts/queue-scripts.ts), so it is atomic across instances; every
// decision uses the `now` the caller passes in, never a clock of Redis or of this process.
//
// Key layout (B = `<prefix>{queue}:`, e.g. `boxoffice:{queue}:`)
//   B seq              string  INCR counter: the last arrival number issued. Hot: one INCR per join.
//   B cursor           string  how far admission has walked the line. Hot: read by every poll
//                              (position = seq - cursor, O(1)), written by admission.
//   B line             hash    seq -> tokenId of WAITING tokens the cursor has not passed. Admission walks
//                              it from cursor + 1 (HGET, O(1) per entry); HLEN is the `waiting` count.
//   B token:<tokenId>  hash    userId, seq, status (WAITING|ACTIVE|EXPIRED), lastSeenAt, activeUntil,
//                              endedAt (epoch ms, from the callers' `now`).
//   B user:<userId>    string  tokenId of the user's live token: what makes join idempotent.
//   B active           zset    tokenId scored by activeUntil; lapsed ones are found by ZRANGEBYSCORE.
//   B ended            zset    tokenId scored by endedAt; admission forgets tokens past the retention.
//   B admitted         zset    seq scored by admission time, trimmed to the last 60 s (admittedPerMinute).
//   B settings         hash    activeLimit, paused, version: a copy of the line's row in PostgreSQL (the
//                              source of truth), taken only when newer; shared by every instance.
//   B epoch            string  a random id of this incarnation of the line. Redis that comes back empty
//                              has none: the scripts then refuse to join or admit until an instance
//                              re-seeds the line from PostgreSQL, which starts a new epoch; tokens of
//                              the old one answer LINE_RESET.
//   B changes          pub/sub channel; admission and endings publish, each instance holds ONE
//                              subscriber connection and fans out to its local listeners.
//
// Hot keys: `seq` (every join), `cursor` (every poll), `line` and `active` (admission, every tick of every
// instance). They belong to one queue and cannot be split without giving up one global order.
//
// TTLs are garbage collection only, with a margin of GC_MARGIN_MS beyond the longest time the logic can
// still need a key: tokens and user mappings expire idle + retention + margin after their last touch,
// active ones activeTtl + retention + margin after admission, ended ones retention + margin after the
// end. The logic never relies on a TTL; a token the TTL removed reads as never issued.
//
// Redis Cluster: every key carries the hash tag `{queue}`, so one queue is one slot on one node and every
// script stays single-slot (the scripts build token and user keys from the key base; same tag, same
// slot). The changes channel carries the tag too, so sharded pub/sub (SPUBLISH) would keep it on that
// node. One queue is therefore bounded by one Redis node (well beyond 100k polls/s); scaling past that
// means one queue per concert or sale, each with its own tag (`{queue:<saleId>}`), spread over the slots.
// A prefix that itself contains `{…}` supplies the tag instead; all keys still share one slot.
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { LineNotSeededError,
  newEpoch, type JoinResult, type LineSettings, type QueueSettings, type QueueStats, type QueueStore, type QueueTimings, type TokenState } from './queue.store.js';
import { queueScripts, type LuaScript } from './redis-scripts/queue-scripts.js';

/** How long past the last time the logic may need a key its garbage-collection TTL runs. */
const GC_MARGIN_MS = 60 * 60 * 1000;
/** Line entries (and lapsed active tokens) one admission script handles before yielding Redis. */
const DEFAULT_WALK_BUDGET = 1000;

export interface RedisQueueStoreOptions {
  url: string;
  /** Prefix of every key, e.g. `boxoffice:`; instances sharing a prefix share the line. */
  prefix: string;
  timings: QueueTimings;
  /** Seeded (as version 0) only when no settings exist under the prefix yet; the service seeds PostgreSQL's. */
  initial: QueueSettings;
  /** Connection errors (ioredis reconnects by itself); commands meanwhile fail and readiness says so. */
  onError?: (error: Error) => void;
  /** The connection is up again (after an error). */
  onReady?: () => void;
  /** Line entries one admission script may walk; tests make it small to exercise the loop. */
  walkBudget?: number;
}

/** The key names of one queue, derived from the prefix; exported for tests and tooling. */
export function queueKeys(prefix: string) {
  const base = `${prefix}{queue}:`;
  return {
    base,
    seq: `${base}seq`,
    cursor: `${base}cursor`,
    line: `${base}line`,
    active: `${base}active`,
    ended: `${base}ended`,
    admitted: `${base}admitted`,
    settings: `${base}settings`,
    epoch: `${base}epoch`,
    channel: `${base}changes`,
    token: (tokenId: string) => `${base}token:${tokenId}`,
    user: (userId: string) => `${base}user:${userId}`,
  };
}

/** created, tokenId, userId, seq, status, lastSeenAt, activeUntil, endedAt, cursor, epoch (see the scripts). */
type TokenRow = [number, string, string, string, TokenState['status'], string, string, string, string, string];

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

export class RedisQueueStore implements QueueStore {
  private readonly keys: ReturnType<typeof queueKeys>;
  private readonly fixedKeys: string[];
  private readonly events = new EventEmitter();
  private closed = false;
  /** The epoch this instance last saw: another one means the line was lost and started again. */
  private knownEpoch: string | undefined;

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly timings: QueueTimings,
    private readonly walkBudget: number,
  ) {
    this.keys = queueKeys(prefix);
    const k = this.keys;
    this.fixedKeys = [k.seq, k.cursor, k.line, k.active, k.ended, k.admitted, k.settings, k.epoch];
    this.events.setMaxListeners(0);
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.keys.channel) this.events.emit('change');
    });
  }

  static async connect(options: RedisQueueStoreOptions): Promise<RedisQueueStore> {
    const clientOptions = { lazyConnect: true, ...FAIL_FAST_REDIS };
    const redis = new Redis(options.url, clientOptions);
    const subscriber = new Redis(options.url, clientOptions);
    if (options.onError) {
      redis.on('error', options.onError);
      subscriber.on('error', options.onError);
    }
    if (options.onReady) redis.on('ready', options.onReady);
    try {
      await Promise.all([redis.connect(), subscriber.connect()]);
      const store = new RedisQueueStore(redis, subscriber, options.prefix, options.timings, options.walkBudget ?? DEFAULT_WALK_BUDGET);
      await store.initialize(options.initial);
      return store;
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      throw error;
    }
  }

  async join(userId: string, newTokenId: string, now: number): Promise<JoinResult> {
    let row: TokenRow;
    try {
      row = (await this.run(queueScripts.join, now, userId, newTokenId)) as TokenRow;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('LINE_NOT_SEEDED')) throw new LineNotSeededError();
      throw error;
    }
    return { state: this.toState(row), created: row[0] === 1, epoch: row[9] };
  }

  /** One script, one round trip: reads the token and the cursor, touches it, ends it if it lapsed. */
  async get(tokenId: string, now: number, touch: boolean): Promise<TokenState | null> {
    const row = (await this.run(queueScripts.get, now, tokenId, touch ? '1' : '0')) as TokenRow | null;
    return row ? this.toState(row) : null;
  }

  async expire(tokenId: string, now: number): Promise<void> {
    await this.run(queueScripts.expire, now, tokenId);
  }

  async admit(now: number): Promise<number> {
    let admitted = 0;
    // Each call is atomic and checks the limit itself; looping only spreads a long walk over several calls.
    for (;;) {
      const [count, more, epoch] = (await this.run(queueScripts.admit, now, this.walkBudget)) as [number, number, string];
      if (!epoch) throw new LineNotSeededError();
      this.noteEpoch(epoch);
      admitted += count;
      if (more !== 1) return admitted;
    }
  }

  async stats(now: number): Promise<QueueStats> {
    const [waiting, active, admittedPerMinute, activeLimit, paused] = (await this.run(queueScripts.stats, now)) as [
      number,
      number,
      number,
      string,
      string,
    ];
    return { waiting, active, admittedPerMinute, activeLimit: Number(activeLimit), paused: paused === '1' };
  }

  async seed(settings: LineSettings): Promise<string> {
    if (!Number.isSafeInteger(settings.activeLimit) || settings.activeLimit < 0) {
      throw new RangeError(`activeLimit must be a non-negative integer, got ${settings.activeLimit}`);
    }
    const epoch = (await this.run(
      queueScripts.seed,
      0,
      newEpoch(),
      settings.activeLimit,
      settings.paused ? '1' : '0',
      settings.version,
    )) as string;
    this.noteEpoch(epoch);
    return epoch;
  }

  async currentEpoch(): Promise<string | null> {
    return this.redis.get(this.keys.epoch);
  }

  onReset(listener: () => void): () => void {
    this.events.on('reset', listener);
    return () => this.events.off('reset', listener);
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.events.removeAllListeners();
    await Promise.allSettled([this.redis.quit(), this.subscriber.quit()]);
  }

  private async initialize(initial: QueueSettings): Promise<void> {
    // Loaded up front so the first EVALSHA of every script is already one round trip.
    await Promise.all(Object.values(queueScripts).map((s) => this.redis.script('LOAD', s.source)));
    await this.seed({ ...initial, version: 0 });
    await this.subscriber.subscribe(this.keys.channel);
  }

  private noteEpoch(epoch: string): void {
    const known = this.knownEpoch;
    this.knownEpoch = epoch;
    if (known !== undefined && known !== epoch) this.events.emit('reset');
  }

  /** EVALSHA, falling back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH, failover). */
  private async run(script: LuaScript, now: number, ...args: (string | number)[]): Promise<unknown> {
    const t = this.timings;
    const argv = [this.keys.base, now, t.activeTtlMs, t.waitingIdleMs, t.expiredRetentionMs, GC_MARGIN_MS, ...args];
    const numKeys = this.fixedKeys.length;
    try {
      return await this.redis.evalsha(script.sha, numKeys, ...this.fixedKeys, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.redis.eval(script.source, numKeys, ...this.fixedKeys, ...argv);
    }
  }

  private toState(row: TokenRow): TokenState {
    const [, tokenId, userId, seqText, status, lastSeenAt, activeUntil, endedAt, cursor] = row;
    const seq = Number(seqText);
    return {
      tokenId,
      userId,
      seq,
      status,
      position: status === 'WAITING' ? seq - Number(cursor) : 0,
      expiresAt:
        status === 'ACTIVE'
          ? Number(activeUntil)
          : status === 'WAITING'
            ? Number(lastSeenAt) + this.timings.waitingIdleMs
            : Number(endedAt),
    };
  }
}

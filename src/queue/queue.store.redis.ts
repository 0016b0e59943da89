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
//   B settings         hash    activeLimit, paused: shared by every instance, written by PATCH.
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
import type { JoinResult, QueueSettings, QueueStats, QueueStore, QueueTimings, TokenState } from './queue.store.js';
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
  /** Written only when no settings exist under the prefix yet, so a restart keeps an operator's change. */
  initial: QueueSettings;
  /** Connection errors (ioredis reconnects by itself); commands meanwhile fail and readiness says so. */
  onError?: (error: Error) => void;
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
    channel: `${base}changes`,
    token: (tokenId: string) => `${base}token:${tokenId}`,
    user: (userId: string) => `${base}user:${userId}`,
  };
}

/** created, tokenId, userId, seq, status, lastSeenAt, activeUntil, endedAt, cursor (see the scripts). */
type TokenRow = [number, string, string, string, TokenState['status'], string, string, string, string];

export class RedisQueueStore implements QueueStore {
  private readonly keys: ReturnType<typeof queueKeys>;
  private readonly fixedKeys: string[];
  private readonly events = new EventEmitter();
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly timings: QueueTimings,
    private readonly walkBudget: number,
  ) {
    this.keys = queueKeys(prefix);
    const k = this.keys;
    this.fixedKeys = [k.seq, k.cursor, k.line, k.active, k.ended, k.admitted, k.settings];
    this.events.setMaxListeners(0);
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.keys.channel) this.events.emit('change');
    });
  }

  static async connect(options: RedisQueueStoreOptions): Promise<RedisQueueStore> {
    // Few retries per command: a request should fail fast (and readiness report it) while Redis is away.
    const clientOptions = { lazyConnect: true, maxRetriesPerRequest: 2 };
    const redis = new Redis(options.url, clientOptions);
    const subscriber = new Redis(options.url, clientOptions);
    if (options.onError) {
      redis.on('error', options.onError);
      subscriber.on('error', options.onError);
    }
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
    const row = (await this.run(queueScripts.join, now, userId, newTokenId)) as TokenRow;
    return { state: this.toState(row), created: row[0] === 1 };
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
      const [count, more] = (await this.run(queueScripts.admit, now, this.walkBudget)) as [number, number];
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

  async updateSettings(change: Partial<QueueSettings>): Promise<QueueSettings> {
    const fields: Record<string, string> = {};
    if (change.activeLimit !== undefined) {
      if (!Number.isSafeInteger(change.activeLimit) || change.activeLimit < 0) {
        throw new RangeError(`activeLimit must be a non-negative integer, got ${change.activeLimit}`);
      }
      fields.activeLimit = String(change.activeLimit);
    }
    if (change.paused !== undefined) fields.paused = change.paused ? '1' : '0';
    const tx = this.redis.multi();
    if (Object.keys(fields).length > 0) tx.hset(this.keys.settings, fields);
    tx.hmget(this.keys.settings, 'activeLimit', 'paused');
    const results = await tx.exec();
    const last = results?.at(-1);
    if (!last || last[0]) throw last?.[0] ?? new Error('settings update was aborted');
    const [activeLimit, paused] = last[1] as [string | null, string | null];
    return { activeLimit: Number(activeLimit ?? 0), paused: paused === '1' };
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
    const k = this.keys;
    const results = await this.redis
      .multi()
      .hsetnx(k.settings, 'activeLimit', String(initial.activeLimit))
      .hsetnx(k.settings, 'paused', initial.paused ? '1' : '0')
      .exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
    // Loaded up front so the first EVALSHA of every script is already one round trip.
    await Promise.all(Object.values(queueScripts).map((s) => this.redis.script('LOAD', s.source)));
    await this.subscriber.subscribe(k.channel);
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

// The Redis queue store: fair lines shared by any number of boxoffice instances, one for the general
// line and one per sale. Every change of a line is one Lua script (./redis-scripts/queue-scripts.ts),
// so it is atomic across instances; every decision uses the `now` the caller passes in, never a clock
// of Redis or of this process.
//
// Key layout of one line (B = `<prefix>{queue}:` for the general line, `<prefix>{sale:<id>}:` for a sale's)
//   B seq              string  INCR counter: arrivals after the pre-queue closed (all of them on a line
//                              without one). Hot: one INCR per join.
//   B cursor           string  how far admission has walked the line (position = seq - cursor, O(1)),
//                              written by admission; every admission call returns it, and each instance's
//                              copy of the line (poll-copy.ts) answers polls from that.
//   B line             hash    seq -> tokenId of WAITING tokens the cursor has not passed. Admission walks
//                              it from cursor + 1 (HGET, O(1) per entry); HLEN is the `waiting` count.
//   B token:<tokenId>  hash    userId, seq, status (WAITING|ACTIVE|EXPIRED|SOLD_OUT), lastSeenAt,
//                              activeUntil, endedAt, joinedAt (epoch ms, from the callers' `now`),
//                              entryId, pre ('1' if it joined the pre-queue), drawRank, reason (why it
//                              ended: PAID|TURN_OVER|IDLE|SOLD_OUT|SALE_CLOSED).
//   B user:<userId>    string  tokenId of the user's live token: what makes join idempotent.
//   B active           zset    tokenId scored by activeUntil; lapsed ones are found by ZRANGEBYSCORE.
//   B ended            zset    tokenId scored by endedAt; admission forgets tokens past the retention.
//   B admitted         zset    seq scored by admission time, trimmed to the last 60 s (admittedPerMinute).
//   B settings         hash    activeLimit, paused, version, opensAt, message: a copy of the line's row in
//                              PostgreSQL (the source of truth), taken only when newer; shared by every
//                              instance.
//   B epoch            string  a random id of this incarnation of the line. Redis that comes back empty
//                              has none: the scripts then refuse to join or admit until an instance
//                              re-seeds the line from PostgreSQL, which starts a new epoch; tokens of
//                              the old one answer LINE_RESET.
//   B meta             hash    preCount (joins of the pre-queue), preClosed, drawn, ended (the status the
//                              line's tokens end with: SOLD_OUT when its sale sold out, EXPIRED when it closed).
//   B pre              hash    entryId -> tokenId of the pre-queue's joins, read once at the draw.
//   B changes          pub/sub channel; admission, endings, the draw and new settings publish. Each instance holds ONE
//                              subscriber connection (PSUBSCRIBE over every line) and fans out to its
//                              local listeners.
//
// Hot keys: `seq` (every join), `cursor` (every admission), `line` and `active` (admission, every tick of every
// instance). They belong to one line and cannot be split without giving up its order.
//
// TTLs are garbage collection only, with a margin of GC_MARGIN_MS beyond the longest time the logic can
// still need a key: tokens and user mappings expire idle + retention + margin after their last touch,
// active ones activeTtl + retention + margin after admission, ended ones retention + margin after the
// end. The logic never relies on a TTL; a token the TTL removed reads as never issued.
//
// Redis Cluster (REDIS_CLUSTER): every key of a line carries the line's hash tag (`{queue}`, `{sale:<id>}`),
// so a line is one slot on one master and every script stays single-slot (the scripts build token and
// user keys from the key base; same tag, same slot), while different sales spread over the slots and so
// the masters. A master that fails takes only its lines away until its replica is promoted. PUBLISH
// reaches every node of a cluster, so the one pattern subscription still hears every line; ioredis moves
// it to another node (and subscribes again) when its node goes. The changes channel carries the tag
// too, so sharded pub/sub (SPUBLISH) could keep it on the line's node.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connectRedis, createRedisClient, masterNodes, onWorkingAgain, reportFailures, type RedisClient, type RedisTarget } from '../redis/redis-client.js';
import {
  GENERAL_LINE,
  LineEndedError,
  LineNotSeededError,
  newEpoch,
  type AdmitResult,
  type EndReason,
  type JoinResult,
  type LineEnd,
  type LineSettings,
  type QueueLines,
  type QueueSettings,
  type QueueStats,
  type QueueStore,
  type QueueTimings,
  type TokenState,
} from './queue.store.js';
import { lineViewOf, PollCopy, type LineViewRow, type PollClaims } from './poll-copy.js';
import { queueScripts, type LuaScript } from './redis-scripts/queue-scripts.js';
import type { RedisMetrics } from '../metrics/metrics.js';

/** How long past the last time the logic may need a key its garbage-collection TTL runs. */
const GC_MARGIN_MS = 60 * 60 * 1000;
/** Line entries (and lapsed active tokens) one admission script handles before yielding Redis. */
const DEFAULT_WALK_BUDGET = 1000;
/** Entries one draw script places before yielding Redis. */
const DRAW_CHUNK = 5000;
/** Touches one call writes. */
const TOUCH_CHUNK = 1000;
/** Polls one call reads, when the copy could not answer them. */
const READ_CHUNK = 500;

export interface RedisQueueStoreOptions {
  /** REDIS_URL and REDIS_CLUSTER: one server, or a cluster's seed nodes. */
  redis: RedisTarget;
  /** Prefix of every key, e.g. `boxoffice:`; instances sharing a prefix share the lines. */
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
  /** Told how long each script's round trip took. */
  metrics?: RedisMetrics;
}

/** The hash tag of a line: the general line keeps `{queue}`, a sale's line is `{sale:<id>}`. */
function lineTag(lineId: string): string {
  return lineId === GENERAL_LINE ? 'queue' : lineId;
}

/** The key names of one line, derived from the prefix; exported for tests and tooling. */
export function queueKeys(prefix: string, lineId: string = GENERAL_LINE) {
  const base = `${prefix}{${lineTag(lineId)}}:`;
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
    meta: `${base}meta`,
    pre: `${base}pre`,
    channel: `${base}changes`,
    token: (tokenId: string) => `${base}token:${tokenId}`,
    user: (userId: string) => `${base}user:${userId}`,
  };
}

/**
 * created, tokenId, userId, seq, status, lastSeenAt, activeUntil, endedAt, cursor, epoch, entryId, drawRank,
 * preCount, reason, the line's paused and message (see the scripts).
 */
type TokenRow = [
  number,
  string,
  string,
  string,
  TokenState['status'],
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  EndReason | '',
  string,
  string,
];

/** Every line under one prefix, over two connections shared by all of them. */
export class RedisQueueLines implements QueueLines {
  private readonly lines = new Map<string, RedisQueueStore>();
  private closed = false;

  private constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly options: RedisQueueStoreOptions,
  ) {
    this.subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      for (const store of this.lines.values()) store.notify(channel, message);
    });
  }

  static async connect(options: RedisQueueStoreOptions): Promise<RedisQueueLines> {
    const redis = createRedisClient(options.redis);
    const subscriber = createRedisClient(options.redis);
    if (options.onError) for (const client of [redis, subscriber]) reportFailures(client, options.onError);
    if (options.onReady) onWorkingAgain(redis, options.onReady);
    try {
      await Promise.all([connectRedis(redis), connectRedis(subscriber)]);
      // Loaded up front (on every master of a cluster) so the first EVALSHA of every script is already
      // one round trip; a node that lacks them later (a promoted replica, a restart) gets EVAL once.
      await Promise.all(masterNodes(redis).flatMap((node) => Object.values(queueScripts).map((s) => node.script('LOAD', s.source))));
      const lines = new RedisQueueLines(redis, subscriber, options);
      await lines.line(GENERAL_LINE).seed({ ...options.initial, version: 0 });
      await subscriber.psubscribe(`${escapeGlob(options.prefix)}{*}:changes`);
      return lines;
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      throw error;
    }
  }

  line(lineId: string): RedisQueueStore {
    let store = this.lines.get(lineId);
    if (!store) {
      store = new RedisQueueStore(
        this.redis,
        queueKeys(this.options.prefix, lineId),
        this.options.timings,
        this.options.walkBudget ?? DEFAULT_WALK_BUDGET,
        this.options.metrics,
      );
      this.lines.set(lineId, store);
    }
    return store;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const store of this.lines.values()) await store.close();
    await Promise.allSettled([this.redis.quit(), this.subscriber.quit()]);
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export class RedisQueueStore implements QueueStore {
  private readonly fixedKeys: string[];
  private readonly events = new EventEmitter();
  /** The epoch this instance last saw: another one means the line was lost and started again. */
  private knownEpoch: string | undefined;
  /** This instance's copy of the line, which answers polls (see poll-copy.ts). */
  private readonly copy: PollCopy;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Polls waiting for the next batched read (see readBatched). */
  private reads: { tokenId: string; now: number; done: (state: TokenState | null) => void; failed: (error: unknown) => void }[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: ReturnType<typeof queueKeys>,
    private readonly timings: QueueTimings,
    private readonly walkBudget: number,
    private readonly metrics?: RedisMetrics,
  ) {
    const k = keys;
    this.fixedKeys = [k.seq, k.cursor, k.line, k.active, k.ended, k.admitted, k.settings, k.epoch, k.meta, k.pre];
    this.events.setMaxListeners(0);
    this.copy = new PollCopy(timings);
  }

  /** One store per line over one pair of connections; a single-line store is the general line of a RedisQueueLines. */
  static async connect(options: RedisQueueStoreOptions): Promise<RedisQueueStore & { close(): Promise<void> }> {
    const lines = await RedisQueueLines.connect(options);
    const store = lines.line(GENERAL_LINE);
    store.close = () => lines.close();
    return store;
  }

  /**
   * A change was published on `channel` (by any instance): the copy of the line is read again before
   * listeners hear of it, so what they read next is the change. A token ended by payment may be ACTIVE
   * in the copy: ACTIVE tokens are read again.
   */
  notify(channel: string, message = ''): void {
    if (channel !== this.keys.channel) return;
    if (message === 'expire') this.copy.forgetActive();
    this.refreshLine()
      .catch(() => undefined)
      .finally(() => this.events.emit('change'));
  }

  async join(userId: string, newTokenId: string, now: number, entryId: string = randomUUID()): Promise<JoinResult> {
    let row: TokenRow;
    try {
      row = (await this.run(queueScripts.join, now, userId, newTokenId, entryId)) as TokenRow;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('LINE_NOT_SEEDED')) throw new LineNotSeededError();
      if (error instanceof Error && error.message.startsWith('LINE_ENDED')) throw new LineEndedError();
      throw error;
    }
    return { state: this.learn(row, now, true), created: row[0] === 1, epoch: row[9] };
  }

  /** One script, one round trip: reads the token and the cursor, touches it, ends it if it lapsed. */
  async get(tokenId: string, now: number, touch: boolean): Promise<TokenState | null> {
    const row = (await this.run(queueScripts.get, now, tokenId, touch ? '1' : '0')) as TokenRow | null;
    return row ? this.learn(row, now, touch) : null;
  }

  /** A token's row as read from Redis, remembered in the copy (`touched`: its last-seen was written). */
  private learn(row: TokenRow, now: number, touched: boolean): TokenState {
    const state = this.toState(row);
    this.copy.remember(state, now, touched);
    return state;
  }

  /** From this instance's copy of the line when it can vouch for the token, else as get() with a touch. */
  async poll(claims: PollClaims, now: number): Promise<TokenState | null> {
    const known = this.pollNow(claims, now);
    if (known) return known;
    if (this.copy.stale()) this.refreshLine().catch(() => undefined);
    return this.readBatched(claims.tokenId, now);
  }

  /** From the copy alone; undefined when it cannot vouch for the token. */
  pollNow(claims: PollClaims, now: number): TokenState | undefined {
    const known = this.copy.answer(claims, now);
    if (known && this.copy.hasTouches()) this.scheduleFlush();
    return known;
  }

  /**
   * A touching get, sent with every other one asked for in the same turn of the event loop: a big
   * admission sends every stream of the line here at once, and they share a few round trips.
   */
  private readBatched(tokenId: string, now: number): Promise<TokenState | null> {
    return new Promise((done, failed) => {
      this.reads.push({ tokenId, now, done, failed });
      if (this.reads.length === 1) setImmediate(() => void this.sendReads());
    });
  }

  private async sendReads(): Promise<void> {
    const reads = this.reads;
    this.reads = [];
    for (let i = 0; i < reads.length; i += READ_CHUNK) {
      const chunk = reads.slice(i, i + READ_CHUNK);
      // The earliest caller's time: nobody is taken for idle, or their turn for over, before their time.
      const now = Math.min(...chunk.map((r) => r.now));
      try {
        const rows = (await this.run(queueScripts.getMany, now, '1', ...chunk.map((r) => r.tokenId))) as (TokenRow | null)[];
        chunk.forEach((read, k) => {
          const row = rows[k];
          read.done(row ? this.learn(row, now, true) : null);
        });
      } catch (error) {
        for (const read of chunk) read.failed(error);
      }
    }
  }

  async expire(tokenId: string, now: number, reason: EndReason = 'PAID'): Promise<void> {
    this.copy.forget(tokenId);
    await this.run(queueScripts.expire, now, tokenId, reason);
  }

  async admit(now: number, cap = Infinity, joinedUpTo = Infinity): Promise<AdmitResult> {
    const result: AdmitResult = { admitted: 0, joinedAt: [], abandoned: 0 };
    const upTo = joinedUpTo === Infinity ? -1 : joinedUpTo;
    // What polls here saw goes first, so this walk does not take a token seen here for abandoned.
    await this.flushTouches();
    this.copy.prune(now);
    // Each call is atomic and checks the limit itself; looping only spreads a long walk over several calls.
    for (;;) {
      const left = cap === Infinity ? -1 : Math.max(0, cap - result.admitted);
      const readAt = this.copy.stamp();
      const [count, more, epoch, abandoned, joinedAt, line, admittedIds, activeUntil] = (await this.run(
        queueScripts.admit,
        now,
        this.walkBudget,
        left,
        upTo,
      )) as [number, number, string, number, string[], LineViewRow, string[], string];
      if (!epoch) throw new LineNotSeededError();
      this.noteEpoch(epoch);
      // Those admitted here need no read to show ACTIVE: a big admission's streams are told at once.
      this.copy.admitted(admittedIds, Number(activeUntil), readAt);
      // The tick's call keeps the copy fresh; a change it finds that no message told of is news too.
      if (this.copy.takeLine(lineViewOf(line), readAt)) this.events.emit('change');
      result.admitted += count;
      result.abandoned += abandoned;
      for (const t of joinedAt) result.joinedAt.push(Number(t));
      if (more !== 1) return result;
    }
  }

  async closePrequeue(now: number): Promise<string[]> {
    try {
      return (await this.run(queueScripts.closePrequeue, now)) as string[];
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('LINE_NOT_SEEDED')) throw new LineNotSeededError();
      throw error;
    }
  }

  async applyDraw(orderedEntryIds: string[]): Promise<boolean> {
    // In chunks, so no single script holds Redis for a whole pre-queue of 100,000.
    for (let start = 0; start === 0 || start < orderedEntryIds.length; start += DRAW_CHUNK) {
      const chunk = orderedEntryIds.slice(start, start + DRAW_CHUNK);
      const last = start + DRAW_CHUNK >= orderedEntryIds.length;
      const placed = (await this.run(queueScripts.applyDraw, 0, start + 1, last ? '1' : '0', ...chunk)) as number;
      if (placed !== 1) return false;
    }
    return true;
  }

  async endLine(now: number, status: LineEnd): Promise<void> {
    await this.run(queueScripts.endLine, now, status);
    await this.refreshLine();
  }

  async stats(now: number): Promise<QueueStats> {
    const [waiting, active, admittedPerMinute, activeLimit, paused, prequeued, drawn, ended, message] = (await this.run(queueScripts.stats, now)) as [
      number,
      number,
      number,
      string,
      string,
      number,
      number,
      number,
      string,
    ];
    return {
      waiting,
      active,
      admittedPerMinute,
      activeLimit: Number(activeLimit),
      paused: paused === '1',
      message: message || null,
      prequeued,
      drawn: drawn === 1,
      ended: ended === 1,
    };
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
      settings.opensAt ?? 0,
      settings.message ?? '',
    )) as string;
    this.noteEpoch(epoch);
    return epoch;
  }

  async currentEpoch(): Promise<string | null> {
    return this.redis.get(this.keys.epoch);
  }

  async joinedCount(): Promise<number> {
    return Number((await this.redis.get(this.keys.seq)) ?? 0);
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

  /** The connections belong to the RedisQueueLines: closing a line writes its last touches and drops its listeners. */
  async close(): Promise<void> {
    clearTimeout(this.flushTimer);
    await this.flushTouches().catch(() => undefined);
    this.events.removeAllListeners();
  }

  /** Reads the line into the copy; calls while one runs share it and one more read after it. */
  private refreshLine(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const readAt = this.copy.stamp();
          this.copy.takeLine(lineViewOf((await this.run(queueScripts.lineView, 0)) as LineViewRow), readAt);
        } while (this.refreshAgain);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // A failed write leaves the tokens unwritten: their polls go to Redis until one gets through.
      this.flushTouches().catch(() => undefined);
    }, this.copy.flushMs);
    this.flushTimer.unref();
  }

  /** Writes the touches of polls answered from the copy. */
  private async flushTouches(): Promise<void> {
    const touches = this.copy.takeTouches();
    for (let i = 0; i < touches.length; i += TOUCH_CHUNK) {
      const chunk = touches.slice(i, i + TOUCH_CHUNK);
      await this.run(queueScripts.touch, 0, ...chunk.flat());
      this.copy.written(chunk);
    }
  }

  private noteEpoch(epoch: string): void {
    const known = this.knownEpoch;
    this.knownEpoch = epoch;
    if (known !== undefined && known !== epoch) this.events.emit('reset');
  }

  /**
   * EVALSHA, falling back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH, failover).
   * Every script call goes through here, so this is where their round trips are timed.
   */
  private async run(script: LuaScript, now: number, ...args: (string | number)[]): Promise<unknown> {
    const t = this.timings;
    const argv = [this.keys.base, now, t.activeTtlMs, t.waitingIdleMs, t.expiredRetentionMs, GC_MARGIN_MS, ...args];
    const numKeys = this.fixedKeys.length;
    const started = performance.now();
    try {
      return await this.redis.evalsha(script.sha, numKeys, ...this.fixedKeys, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.redis.eval(script.source, numKeys, ...this.fixedKeys, ...argv);
    } finally {
      this.metrics?.redisCommand(script.name, (performance.now() - started) / 1000);
    }
  }

  private toState(row: TokenRow): TokenState {
    const [, tokenId, userId, seqText, status, lastSeenAt, activeUntil, endedAt, cursor, , entryId, drawRank, preCount, reason, paused, message] = row;
    const seq = Number(seqText);
    // A token that ended before reasons were kept has none; a sold-out one can only have ended so.
    const why = reason || (status === 'SOLD_OUT' ? 'SOLD_OUT' : undefined);
    return {
      tokenId,
      userId,
      seq,
      status,
      // Before the draw a pre-queue place is not known: the pre-queue's size is the most it can be.
      position: status === 'WAITING' ? (seq === 0 ? Number(preCount) : seq - Number(cursor)) : 0,
      expiresAt: status === 'ACTIVE' ? Number(activeUntil) : status === 'WAITING' ? Number(lastSeenAt) + this.timings.waitingIdleMs : Number(endedAt),
      entryId,
      drawRank: drawRank ? Number(drawRank) : null,
      ...(why ? { reason: why } : {}),
      paused: paused === '1',
      message: message || null,
    };
  }
}

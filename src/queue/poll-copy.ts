// What one instance knows of a Redis line, so that it answers polls from memory: a poll is the hottest
// request of a sale, and a round trip to Redis for each one is most of its cost.
//
// The line's own facts (cursor, epoch, pause, message, the pre-queue's size, drawn, ended) come with
// every admission call this instance makes (its tick, a few times a second) and after every change
// another instance publishes. A token's facts come from the one read that first saw it here (a join or
// a poll that missed). Then a WAITING token's position is `seq - cursor`, arithmetic on its arrival
// number; a copy that is behind has a smaller cursor, so it can only overstate a position, never
// understate it. Whatever the copy cannot vouch for goes to Redis: a token the cursor has passed (it
// was admitted or skipped), a pre-queue join (its position is the pre-queue's size, which grows with
// every join anywhere), an ended line, another epoch, an ACTIVE
// token seen more than a second ago, a copy older than a second, and a token whose last written touch
// is so old that Redis might call it idle. Only polls read the copy; holds and payments ask Redis.
//
// Touches: a poll answered here records when it saw the token, and the instance writes these "last
// seen" times to Redis in batches (one call per line every flushMs), each token at most once every
// touchEvery (a quarter of the idle time). A token polled here is so counted live in Redis at most
// touchEvery + flushMs later than it was seen.
import { OldestFirst } from './bounded-cache.js';
import type { EndReason, LineEnd, TokenState } from './queue.store.js';

/** The line as one read saw it. */
export interface LineView {
  cursor: number;
  epoch: string;
  paused: boolean;
  message: string | null;
  preCount: number;
  drawn: boolean;
  ended: LineEnd | null;
}

/** What a poll brings: the signed claims of its token. */
export interface PollClaims {
  tokenId: string;
  userId: string;
  seq: number;
  epoch: string;
}

/** A token as last read from Redis, plus when this instance last saw it and last wrote that down. */
interface KnownToken {
  userId: string;
  seq: number;
  status: TokenState['status'];
  activeUntil: number;
  endedAt: number;
  entryId: string;
  drawRank: number | null;
  reason: EndReason | undefined;
  /** Epoch ms (the callers' clock) of the newest "last seen" Redis has or is being sent. */
  writtenAt: number;
  /** performance.now() of the read, for ACTIVE tokens' freshness. */
  readAt: number;
}

/** Raw line view as the scripts return it: cursor, epoch, paused, message, preCount, drawn, ended. */
export type LineViewRow = [string, string, string, string, string, string, string];

export function lineViewOf(row: LineViewRow): LineView {
  const [cursor, epoch, paused, message, preCount, drawn, ended] = row;
  return {
    cursor: Number(cursor),
    epoch,
    paused: paused === '1',
    message: message || null,
    preCount: Number(preCount),
    drawn: drawn === '1',
    ended: ended === 'SOLD_OUT' || ended === 'EXPIRED' ? ended : null,
  };
}

/**
 * A known token's state as one literal: spreading a shared part into it and adding the rest takes V8's
 * slow path on Node 20 (about 2 µs, a literal about 10 ns), and every poll answered here builds one.
 */
function stateOf(tokenId: string, token: KnownToken, line: LineView, position: number, expiresAt: number): TokenState {
  return {
    tokenId,
    userId: token.userId,
    seq: token.seq,
    status: token.status,
    position,
    expiresAt,
    entryId: token.entryId,
    drawRank: token.drawRank,
    paused: line.paused,
    message: line.message,
  };
}

export interface PollCopyTimings {
  waitingIdleMs: number;
  expiredRetentionMs: number;
}

/** A copy older than this (real time) is not trusted: the poll asks Redis. */
const MAX_AGE_MS = 1_000;
/** An ACTIVE token's copy is trusted this long (real time): its payment or turn's end shows within it. */
const ACTIVE_FRESH_MS = 1_000;
/** Tokens known per line; past it the oldest is forgotten (its next poll reads Redis once). */
const MAX_TOKENS = 2_000_000;
/** How often (callers' clock) tokens the copy can no longer vouch for are dropped. */
const PRUNE_EVERY_MS = 30_000;

export class PollCopy {
  private line: LineView | undefined;
  /** performance.now() when the read that gave `line` was sent. */
  private lineReadAt = -Infinity;
  private readonly tokens = new Map<string, KnownToken>();
  /** tokenId → when it was seen, waiting to be written. */
  private readonly seen = new Map<string, number>();
  private prunedAt = 0;
  /** How long a token may go unwritten before a poll writes its touch again. */
  readonly touchEveryMs: number;
  /** How often the batched touches are written. */
  readonly flushMs: number;
  /** The tokens learnt first, forgotten one for each new one at the cap. */
  private readonly oldestFirst = new OldestFirst(this.tokens);

  constructor(
    private readonly timings: PollCopyTimings,
    private readonly clock: () => number = () => performance.now(),
    private readonly maxTokens = MAX_TOKENS,
  ) {
    // Polls come at most idle/3 apart (pollAfterSeconds), so Redis hears of a polling fan at least every
    // idle/3 + idle/4 + flushMs, well inside the idle time.
    this.touchEveryMs = timings.waitingIdleMs / 4;
    this.flushMs = Math.max(20, Math.min(500, timings.waitingIdleMs / 20));
  }

  /** performance.now(), for stamping a read before it is sent. */
  stamp(): number {
    return this.clock();
  }

  /**
   * Takes a view of the line read at `readAt` (a stamp taken before the read was sent), unless a newer
   * read was taken already. Returns true if anything a poll shows changed.
   */
  takeLine(view: LineView, readAt: number): boolean {
    if (readAt < this.lineReadAt) return false;
    const before = this.line;
    this.line = view;
    this.lineReadAt = readAt;
    if (before && before.epoch !== view.epoch) this.tokens.clear();
    return (
      !before ||
      before.cursor !== view.cursor ||
      before.epoch !== view.epoch ||
      before.paused !== view.paused ||
      before.message !== view.message ||
      before.preCount !== view.preCount ||
      before.drawn !== view.drawn ||
      before.ended !== view.ended
    );
  }

  /** The copy of the line is too old to answer from: read it again. */
  stale(): boolean {
    return this.clock() - this.lineReadAt > MAX_AGE_MS;
  }

  /** Learns a token from a read of Redis at `now` (a join or a get, which touched it if WAITING). */
  remember(state: TokenState, now: number, touched: boolean): void {
    const known = this.tokens.get(state.tokenId);
    const oldest = !known && this.tokens.size >= this.maxTokens ? this.oldestFirst.next() : undefined;
    if (oldest) this.tokens.delete(oldest[0]);
    this.tokens.set(state.tokenId, {
      userId: state.userId,
      seq: state.seq,
      status: state.status,
      activeUntil: state.status === 'ACTIVE' ? state.expiresAt : 0,
      endedAt: state.status === 'EXPIRED' || state.status === 'SOLD_OUT' ? state.expiresAt : 0,
      entryId: state.entryId,
      drawRank: state.drawRank,
      reason: state.reason,
      writtenAt: touched ? now : Math.max(known?.writtenAt ?? 0, state.status === 'WAITING' ? state.expiresAt - this.timings.waitingIdleMs : 0),
      readAt: this.clock(),
    });
  }

  /**
   * Drops, at most every PRUNE_EVERY_MS, the tokens every poll of which would read Redis anyway: WAITING
   * ones unwritten for the idle time, ACTIVE ones past their turn, ended ones past the retention.
   */
  prune(now: number): void {
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    for (const [id, token] of this.tokens) {
      const gone =
        token.status === 'WAITING'
          ? now - token.writtenAt >= this.timings.waitingIdleMs
          : token.status === 'ACTIVE'
            ? now >= token.activeUntil
            : now - token.endedAt >= this.timings.expiredRetentionMs;
      if (gone) this.tokens.delete(id);
    }
  }

  /** How many tokens the copy knows. */
  get knownTokens(): number {
    return this.tokens.size;
  }

  /**
   * Tokens an admission call of this instance made ACTIVE until `activeUntil`, the call stamped at
   * `readAt` (before it was sent): the copy vouches for them as for a read of them then.
   */
  admitted(tokenIds: readonly string[], activeUntil: number, readAt: number): void {
    for (const id of tokenIds) {
      const token = this.tokens.get(id);
      // A pre-queue join (seq 0 here) was given its place and draw rank by the draw after the copy
      // learnt it: it is read back once instead.
      if (!token || token.status !== 'WAITING' || token.seq === 0) continue;
      token.status = 'ACTIVE';
      token.activeUntil = activeUntil;
      token.readAt = readAt;
    }
  }

  /** Forgets a token (this instance just changed it). */
  forget(tokenId: string): void {
    this.tokens.delete(tokenId);
  }

  /** Another instance ended some token: ACTIVE ones are read again at their next poll. */
  forgetActive(): void {
    for (const [id, token] of this.tokens) if (token.status === 'ACTIVE') this.tokens.delete(id);
  }

  /**
   * The token's state as a poll at `now` would read it (touching it), from memory; undefined when the
   * copy cannot vouch for it and Redis must be asked.
   */
  answer(claims: PollClaims, now: number): TokenState | undefined {
    const line = this.line;
    if (!line || this.stale() || line.epoch !== claims.epoch || line.ended) return undefined;
    const token = this.tokens.get(claims.tokenId);
    if (!token || token.userId !== claims.userId) return undefined;
    if (token.status === 'WAITING') {
      // Redis counts it seen at writtenAt at least; far from the idle deadline, it cannot have lapsed.
      if (now - token.writtenAt >= this.timings.waitingIdleMs / 2) return undefined;
      // A pre-queue join shows the pre-queue's size until the draw: that grows with every join on any
      // instance, and none of them publishes, so a copy could understate it. Redis answers those.
      if (token.seq === 0 || token.seq <= line.cursor) return undefined;
      const position = token.seq - line.cursor;
      if (now - token.writtenAt >= this.touchEveryMs) this.seen.set(claims.tokenId, now);
      return stateOf(claims.tokenId, token, line, position, now + this.timings.waitingIdleMs);
    }
    if (token.status === 'ACTIVE') {
      if (now >= token.activeUntil || this.clock() - token.readAt > ACTIVE_FRESH_MS) return undefined;
      return stateOf(claims.tokenId, token, line, 0, token.activeUntil);
    }
    // Ended for good; remembered by Redis for the retention time, after which it reads as unknown.
    if (now - token.endedAt >= this.timings.expiredRetentionMs) return undefined;
    const ended = stateOf(claims.tokenId, token, line, 0, token.endedAt);
    if (token.reason) ended.reason = token.reason;
    return ended;
  }

  /** The touches waiting to be written (tokenId, seen at); written() once Redis has them. */
  takeTouches(): [string, number][] {
    const out = [...this.seen];
    this.seen.clear();
    return out;
  }

  /** Redis has these touches. (Lost ones are not retried: the token's next poll records it again.) */
  written(touches: [string, number][]): void {
    for (const [tokenId, seenAt] of touches) {
      const token = this.tokens.get(tokenId);
      if (token && seenAt > token.writtenAt) token.writtenAt = seenAt;
    }
  }

  hasTouches(): boolean {
    return this.seen.size > 0;
  }
}

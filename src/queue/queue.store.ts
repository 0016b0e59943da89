// The waiting line's state, behind one interface with two implementations: in-process (one instance,
// embedded mode) and Redis (any number of instances). Both pass test/queue/queue-store.suite.ts.
//
// The model: every join takes the next arrival number (seq) from a counter. A serving cursor marks how
// far admission has walked the line; a WAITING token's position is `seq - cursor`, which counts every
// token between the cursor and it, live or not yet known to be abandoned, so it is never below the truth.
//
// A sale's line has a pre-queue in front: while `opensAt` is ahead, joins get no place yet (seq 0) and
// their position is the pre-queue's size (the most it can be). The first join or draw at or after
// `opensAt` closes the pre-queue, fixing its size N; later joins take N + 1, N + 2, ... At the draw the
// pre-queue's live entries take places 1..K (K <= N) in the drawn order; admission waits for it.

import { randomBytes } from 'node:crypto';
import type { PollClaims } from './poll-copy.js';

/** SOLD_OUT: the line ended because its sale sold out (final, like EXPIRED). */
export type TokenStatus = 'WAITING' | 'ACTIVE' | 'EXPIRED' | 'SOLD_OUT';

/** How a line's live tokens end when the line ends: its sale sold out, or closed. */
export type LineEnd = 'SOLD_OUT' | 'EXPIRED';

/**
 * Why a token ended, remembered with it: PAID (expire() after a payment), TURN_OVER (an ACTIVE token's
 * time ran out), IDLE (a WAITING token silent past the idle limit), SOLD_OUT and SALE_CLOSED (its line
 * ended: endLine with SOLD_OUT or EXPIRED).
 */
export type EndReason = 'PAID' | 'TURN_OVER' | 'IDLE' | 'SOLD_OUT' | 'SALE_CLOSED';

/** The reason a line's end gives the tokens it ends. */
export function reasonOfLineEnd(end: LineEnd): EndReason {
  return end === 'SOLD_OUT' ? 'SOLD_OUT' : 'SALE_CLOSED';
}

export interface TokenState {
  tokenId: string;
  userId: string;
  seq: number;
  status: TokenStatus;
  /** 0 unless WAITING; then 1 + how many tokens still stand before it (never fewer than the live ones). */
  position: number;
  /** Epoch ms. ACTIVE: when the active time ends. WAITING: when it is abandoned unless seen before. */
  expiresAt: number;
  /** A uuid of this place in line, published in a sale's draw (neither the user id nor the token). */
  entryId: string;
  /** The place the draw gave this entry (1-based); null before the draw and for joins after the open. */
  drawRank: number | null;
  /** Why it ended, once EXPIRED or SOLD_OUT (absent for a token that ended before reasons were kept). */
  reason?: EndReason;
  /** The line's admission is paused by the operator (as the store's copy of the settings says now). */
  paused: boolean;
  /** The operator's message to the line, or null. */
  message: string | null;
}

export interface QueueSettings {
  activeLimit: number;
  paused: boolean;
  /** The operator's message to the line's fans; absent or null: none. */
  message?: string | null;
}

/** Settings as PostgreSQL keeps them: every change bumps the version, and a copy only takes a newer one. */
export interface LineSettings extends QueueSettings {
  version: number;
  /** Epoch ms when a sale opens: joins before it wait in the pre-queue. 0 or absent: no pre-queue (the general line). */
  opensAt?: number;
}

/** A new line incarnation's id (see QueueStore.currentEpoch). */
export function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The store has lost its line (Redis came back empty) and has not been given its settings again: it
 * must be re-seeded from PostgreSQL before anyone joins or is admitted.
 */
export class LineNotSeededError extends Error {
  constructor() {
    super('the queue store lost its line and waits to be re-seeded');
    this.name = 'LineNotSeededError';
  }
}

/** The line was ended for good (its sale sold out): nobody joins it any more. */
export class LineEndedError extends Error {
  constructor() {
    super('the line has ended');
    this.name = 'LineEndedError';
  }
}

export interface QueueStats extends QueueSettings {
  message: string | null;
  /** Tokens in line not yet admitted or skipped (may include some abandoned ones not yet noticed). */
  waiting: number;
  /** Joins that wait in the pre-queue for the draw (counted until the draw gives them places). */
  prequeued: number;
  /** The draw has placed the pre-queue (always true for a line without one). */
  drawn: boolean;
  /** The line was ended for good (its sale sold out or closed). */
  ended: boolean;
  active: number;
  /** Admissions in the last 60 s: measured, not configured. */
  admittedPerMinute: number;
}

export interface QueueTimings {
  activeTtlMs: number;
  waitingIdleMs: number;
  /** How long an ended token is remembered, so its use answers TOKEN_EXPIRED rather than INVALID_TOKEN. */
  expiredRetentionMs: number;
}

export interface JoinResult {
  state: TokenState;
  /** false when the user already had a live token: the same one comes back, in the same place. */
  created: boolean;
  /** The incarnation of the line the token belongs to (see QueueStore.currentEpoch). */
  epoch: string;
}

/** What one admission did, for the service's own measures. */
export interface AdmitResult {
  /** How many tokens it admitted. */
  admitted: number;
  /**
   * When each admitted token joined (epoch ms, the joiner's `now`), so the wait it actually had can be
   * measured. Tokens issued before join times were recorded are left out.
   */
  joinedAt: number[];
  /** WAITING tokens it found abandoned (silent for the idle time) on its walk, and ended. */
  abandoned: number;
}

export interface QueueStore {
  /**
   * The user's live token, seen again; or, when they have none (never joined, or it ended), a new
   * token with id `newTokenId` at the back of the line. Throws LineNotSeededError after the line was lost.
   */
  join(userId: string, newTokenId: string, now: number, entryId?: string): Promise<JoinResult>;
  /**
   * A token's state, or null if the store never issued it (or forgot it). A WAITING token silent
   * past its idle deadline, or an ACTIVE one past its active time, reads EXPIRED. With `touch`, a
   * live WAITING token counts as seen now (polling and streaming keep a place in line).
   */
  get(tokenId: string, now: number, touch: boolean): Promise<TokenState | null>;
  /**
   * A poll: as get(tokenId, now, true) for the token these signed claims name, except that a store may
   * answer from its own copy of the line (the Redis store does: see poll-copy.ts). Such a copy may be
   * up to a second behind: it may overstate a position, never understate it, and a token's admission
   * or end shows within that second. Nothing but polls and streams may read it.
   */
  poll(claims: PollClaims, now: number): Promise<TokenState | null>;
  /**
   * The same poll answered at once, when the store can without I/O (the in-process store always can,
   * the Redis store from its copy); undefined when only poll() can answer. A stream's walk over a big
   * line is mostly such answers: they cost no promise.
   */
  pollNow(claims: PollClaims, now: number): TokenState | null | undefined;
  /**
   * Ends a token (after payment: reason PAID). Frees its ACTIVE slot at once. Ending an ended token
   * does nothing (its first reason stays).
   */
  expire(tokenId: string, now: number, reason?: EndReason): Promise<void>;
  /**
   * Ends ACTIVE tokens past their time, then admits the earliest live WAITING tokens, in arrival
   * order, until `activeLimit` are ACTIVE (none while paused, before the draw, or once ended), and at
   * most `cap` of them, and (with `joinedUpTo`) only among those of the first `joinedUpTo` joins after
   * any pre-queue (see joinedCount). Abandoned tokens are skipped and ended. Safe to run at the same
   * time from any number of instances. Returns how many it admitted, when each of them joined, and
   * how many abandoned tokens it skipped.
   * Throws LineNotSeededError after the line was lost (then `seed` it).
   */
  admit(now: number, cap?: number, joinedUpTo?: number): Promise<AdmitResult>;
  /**
   * How many have joined the line so far, after any pre-queue (its arrival counter). Read before a
   * count that decides `cap`, it bounds admit() to fans who joined before the count began.
   */
  joinedCount(): Promise<number>;
  /**
   * Closes the pre-queue (later joins go to the back, in arrival order) and returns the entry ids of
   * its live entries: WAITING and not abandoned by `opensAt`. The same set on every call and instance.
   */
  closePrequeue(now: number): Promise<string[]>;
  /**
   * Gives the pre-queue's entries places 1..n in this order, once: true if this call placed them,
   * false if the line was drawn already (by this or another instance). Admission starts after it.
   */
  applyDraw(orderedEntryIds: string[]): Promise<boolean>;
  /**
   * Ends the line for good: every WAITING and ACTIVE token reads `status` from now on (SOLD_OUT when its
   * sale sold out, EXPIRED when it closed); nobody joins. Ending an ended line changes nothing.
   */
  endLine(now: number, status: LineEnd): Promise<void>;
  stats(now: number): Promise<QueueStats>;
  /**
   * Takes these settings unless it has a newer version already; after the line was lost, starts a new
   * epoch too. Shared by every instance. Lowering the limit ends nobody; it only holds admission back.
   * Taking newer settings wakes onChange listeners on every instance (a pause or a message is news to
   * the line's streams). Returns the current epoch.
   */
  seed(settings: LineSettings): Promise<string>;
  /**
   * The line's incarnation: a random id that changes when the line is lost and started again (Redis came
   * back empty, an embedded restart restored a snapshot). A token of another epoch was lost with its
   * line; null while the lost line is not re-seeded yet.
   */
  currentEpoch(): Promise<string | null>;
  /** Calls `listener` when this instance sees the line start a new epoch. Returns an unsubscribe function. */
  onReset(listener: () => void): () => void;
  /**
   * Calls `listener` whenever admission, an ending or the operator's settings may have changed what a
   * token's view says, whichever instance made the change. Returns an unsubscribe function.
   */
  onChange(listener: () => void): () => void;
  /** Throws when the store cannot answer (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Every line of one deployment: the general line and one per sale, each independent. */
export interface QueueLines {
  /** The line with this id ('general', or `sale:<saleId>`), created on first use. */
  line(lineId: string): QueueStore;
  /** Throws when the store cannot answer (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const GENERAL_LINE = 'general';

export function saleLineId(saleId: string): string {
  return `sale:${saleId}`;
}

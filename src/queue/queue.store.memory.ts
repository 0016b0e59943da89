// The in-process queue store: every line in this process's memory. Correct for exactly one instance
// (embedded mode); with REDIS_URL the Redis store takes its place. A snapshot of a line (see
// `snapshot` and `MemoryQueueStore.restore`) carries it over a restart.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { PollClaims } from './poll-copy.js';
import {
  LineEndedError,
  newEpoch,
  reasonOfLineEnd,
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

interface Entry {
  tokenId: string;
  userId: string;
  entryId: string;
  /** 0 while in the pre-queue before the draw; then its place in the line's order. */
  seq: number;
  /** Joined the pre-queue (before the open), so the draw places it. */
  pre: boolean;
  drawRank: number | null;
  status: TokenState['status'];
  /** When it joined (epoch ms); 0 for a token restored from a snapshot that did not record it. */
  joinedAt: number;
  lastSeenAt: number;
  /** lastSeenAt as the last snapshot holds it: a poll re-saves the token only once this is well behind. */
  savedSeenAt: number;
  activeUntil: number;
  endedAt: number;
  /** Why it ended; null while live (and for a token restored from a snapshot that did not record it). */
  reason: EndReason | null;
}

const MINUTE_MS = 60_000;

const STATUSES = ['WAITING', 'ACTIVE', 'EXPIRED', 'SOLD_OUT'] as const;
type StatusCode = 0 | 1 | 2 | 3;
const REASONS = ['PAID', 'TURN_OVER', 'IDLE', 'SOLD_OUT', 'SALE_CLOSED'] as const satisfies readonly EndReason[];
type ReasonCode = 0 | 1 | 2 | 3 | 4;

/**
 * tokenId, userId, entryId, seq, pre, drawRank, status (index in STATUSES), lastSeenAt, activeUntil,
 * endedAt, joinedAt, reason (index in REASONS, null while live). The last two are absent in snapshots
 * written before they were recorded: such a snapshot still loads (version 3 either way, since an older
 * build reading a newer one ignores the extra places), and its ended tokens have no reason.
 */
export type SavedToken = [string, string, string, number, boolean, number | null, StatusCode, number, number, number, number?, (ReasonCode | null)?];

/** What a line is besides its tokens: small, written whole with every snapshot. */
export interface LineState {
  version: 3;
  epoch: string;
  lastSeq: number;
  cursor: number;
  preCount: number;
  preClosed: boolean;
  drawn: boolean;
  ended: LineEnd | null;
  admissions: number[];
}

/** The line as plain JSON: tokens as compact tuples, since a line may hold a million of them. */
export interface QueueSnapshot extends LineState {
  tokens: SavedToken[];
}

/**
 * What changed since the last snapshot: the line's state, the tokens that changed and the ones
 * forgotten. A snapshot of a line of 100,000 is then a few hundred rows every few seconds, not all of them.
 */
export interface SnapshotDelta {
  state: LineState;
  tokens: SavedToken[];
  forgotten: string[];
}

export class MemoryQueueStore implements QueueStore {
  private readonly tokens = new Map<string, Entry>();
  /** userId → tokenId of the user's live (WAITING or ACTIVE) token. */
  private readonly liveByUser = new Map<string, string>();
  /** seq → tokenId for tokens the cursor has not passed yet. */
  private readonly line = new Map<number, string>();
  /** entryId → tokenId of the pre-queue's joins, for the draw. */
  private readonly prequeue = new Map<string, string>();
  private readonly active = new Set<string>();
  /**
   * ACTIVE tokens in admission order, which is also the order their active time ends (it is the same
   * length for all), so lapses are found from the front. Tokens that ended early are skipped there.
   */
  private readonly activeOrder = new FifoQueue<string>();
  /** Ended tokens in the order they ended, to forget them after the retention time. */
  private readonly ended = new FifoQueue<string>();
  /** Admission times of the last minute, oldest first. */
  private readonly admissions = new FifoQueue<number>();
  /** Joins after the pre-queue closed (or ever, on a line without one). */
  private lastSeq = 0;
  private cursor = 0;
  /** Joins of the pre-queue: fixed once it closes, and the first places after it start behind them. */
  private preCount = 0;
  private preClosed = false;
  private drawn = false;
  /** How the line ended (its sale sold out or closed); null while it runs. */
  private lineEnded: LineEnd | null = null;
  private settings: LineSettings;
  private epoch = newEpoch();
  /** Bumped by every change, so a snapshot is written only when something changed since the last. */
  private changes = 0;
  /** Tokens changed, and tokens forgotten, since the last delta was taken. */
  private dirty = new Set<string>();
  private forgottenIds: string[] = [];
  private readonly events = new EventEmitter();

  constructor(
    private readonly timings: QueueTimings,
    initial: QueueSettings & { opensAt?: number },
  ) {
    this.settings = { version: 0, ...initial };
    this.events.setMaxListeners(0);
  }

  /**
   * A store holding a snapshot's line, in a new epoch: tokens issued after the snapshot was taken are
   * not in it, and their epoch tells their holders the line was reset rather than that they forged
   * something. Waiting tokens get the time the service was down back, since nobody could poll then.
   */
  static restore(snapshot: QueueSnapshot, savedAt: number, now: number, timings: QueueTimings, initial: QueueSettings): MemoryQueueStore {
    const store = new MemoryQueueStore(timings, initial);
    const downtime = Math.max(0, now - savedAt);
    store.lastSeq = snapshot.lastSeq;
    store.cursor = snapshot.cursor;
    store.preCount = snapshot.preCount;
    store.preClosed = snapshot.preClosed;
    store.drawn = snapshot.drawn;
    store.lineEnded = snapshot.ended;
    const active: Entry[] = [];
    const ended: Entry[] = [];
    for (const [tokenId, userId, entryId, seq, pre, drawRank, code, lastSeenAt, activeUntil, endedAt, joinedAt = 0, reasonCode = null] of snapshot.tokens) {
      const status = STATUSES[code];
      const waiting = status === 'WAITING';
      const seenAt = waiting ? lastSeenAt + downtime : lastSeenAt;
      const reason = reasonCode === null ? (status === 'SOLD_OUT' ? 'SOLD_OUT' : null) : REASONS[reasonCode];
      const entry: Entry = {
        tokenId,
        userId,
        entryId,
        seq,
        pre,
        drawRank,
        status,
        joinedAt,
        lastSeenAt: seenAt,
        savedSeenAt: seenAt,
        activeUntil,
        endedAt,
        reason,
      };
      store.tokens.set(tokenId, entry);
      if (pre) store.prequeue.set(entryId, tokenId);
      if (status === 'EXPIRED' || status === 'SOLD_OUT') {
        ended.push(entry);
        continue;
      }
      store.liveByUser.set(userId, tokenId);
      if (waiting) {
        if (seq > 0) store.line.set(seq, tokenId);
      } else active.push(entry);
    }
    active.sort((a, b) => a.activeUntil - b.activeUntil);
    for (const e of active) {
      store.active.add(e.tokenId);
      store.activeOrder.push(e.tokenId);
    }
    ended.sort((a, b) => a.endedAt - b.endedAt);
    for (const e of ended) store.ended.push(e.tokenId);
    for (const t of snapshot.admissions) store.admissions.push(t);
    return store;
  }

  /** How many changes the line has seen: a snapshot is only worth writing when this moved. */
  get changeCount(): number {
    return this.changes;
  }

  private lineState(): LineState {
    const admissions: number[] = [];
    for (let i = 0; i < this.admissions.size; i++) admissions.push(this.admissions.at(i)!);
    return {
      version: 3,
      epoch: this.epoch,
      lastSeq: this.lastSeq,
      cursor: this.cursor,
      preCount: this.preCount,
      preClosed: this.preClosed,
      drawn: this.drawn,
      ended: this.lineEnded,
      admissions,
    };
  }

  private saved(e: Entry): SavedToken {
    e.savedSeenAt = e.lastSeenAt;
    return [
      e.tokenId,
      e.userId,
      e.entryId,
      e.seq,
      e.pre,
      e.drawRank,
      STATUSES.indexOf(e.status) as StatusCode,
      e.lastSeenAt,
      e.activeUntil,
      e.endedAt,
      e.joinedAt,
      e.reason === null ? null : (REASONS.indexOf(e.reason) as ReasonCode),
    ];
  }

  /** The whole line. */
  snapshot(): QueueSnapshot {
    const tokens: SavedToken[] = [];
    for (const e of this.tokens.values()) tokens.push(this.saved(e));
    this.dirty.clear();
    this.forgottenIds = [];
    return { ...this.lineState(), tokens };
  }

  /** What changed since the last delta or snapshot was taken (and from then on counts as saved). */
  takeDelta(): SnapshotDelta {
    const tokens: SavedToken[] = [];
    for (const id of this.dirty) {
      const e = this.tokens.get(id);
      if (e) tokens.push(this.saved(e));
    }
    const forgotten = this.forgottenIds;
    this.dirty = new Set();
    this.forgottenIds = [];
    return { state: this.lineState(), tokens, forgotten };
  }

  private touched(entry: Entry): void {
    this.changes++;
    this.dirty.add(entry.tokenId);
  }

  async join(userId: string, newTokenId: string, now: number, entryId: string = randomUUID()): Promise<JoinResult> {
    if (this.lineEnded) throw new LineEndedError();
    const liveId = this.liveByUser.get(userId);
    if (liveId !== undefined) {
      const state = await this.get(liveId, now, true);
      if (state && (state.status === 'WAITING' || state.status === 'ACTIVE')) return { state, created: false, epoch: this.epoch };
    }
    this.changes++;
    const entry: Entry = {
      tokenId: newTokenId,
      userId,
      entryId,
      seq: 0,
      pre: false,
      drawRank: null,
      status: 'WAITING',
      joinedAt: now,
      lastSeenAt: now,
      savedSeenAt: now,
      activeUntil: 0,
      endedAt: 0,
      reason: null,
    };
    this.dirty.add(newTokenId);
    const opensAt = this.settings.opensAt ?? 0;
    if (opensAt > 0 && now < opensAt && !this.preClosed) {
      entry.pre = true;
      this.preCount++;
      this.prequeue.set(entryId, newTokenId);
    } else {
      if (opensAt > 0) this.preClosed = true;
      entry.seq = this.preCount + ++this.lastSeq;
      this.line.set(entry.seq, newTokenId);
    }
    this.tokens.set(newTokenId, entry);
    this.liveByUser.set(userId, newTokenId);
    return { state: this.view(entry), created: true, epoch: this.epoch };
  }

  async get(tokenId: string, now: number, touch: boolean): Promise<TokenState | null> {
    return this.read(tokenId, now, touch);
  }

  private read(tokenId: string, now: number, touch: boolean): TokenState | null {
    const entry = this.tokens.get(tokenId);
    if (!entry) return null;
    this.endIfOver(entry, now);
    if (touch && entry.status === 'WAITING') {
      entry.lastSeenAt = now;
      // Saved again only once well behind, so polls do not make every snapshot rewrite every token; a
      // restored token may then look a quarter of the idle time older than it was (downtime is credited).
      if (now - entry.savedSeenAt >= this.timings.waitingIdleMs / 4) this.touched(entry);
    }
    return this.view(entry);
  }

  /** Everything is in memory here already. */
  async poll(claims: PollClaims, now: number): Promise<TokenState | null> {
    return this.pollNow(claims, now);
  }

  pollNow(claims: PollClaims, now: number): TokenState | null {
    return this.read(claims.tokenId, now, true);
  }

  async expire(tokenId: string, now: number, reason: EndReason = 'PAID'): Promise<void> {
    const entry = this.tokens.get(tokenId);
    if (!entry || !isLive(entry)) return;
    this.end(entry, now, 'EXPIRED', reason);
    this.events.emit('change');
  }

  async admit(now: number, cap = Infinity, joinedUpTo = Infinity): Promise<AdmitResult> {
    let changed = false;
    for (let tokenId = this.activeOrder.peek(); tokenId !== undefined; tokenId = this.activeOrder.peek()) {
      const entry = this.tokens.get(tokenId);
      if (entry?.status === 'ACTIVE' && now < entry.activeUntil) break;
      this.activeOrder.shift();
      if (entry && this.endIfOver(entry, now)) changed = true;
    }
    let admitted = 0;
    let abandoned = 0;
    const joinedAt: number[] = [];
    const open = !this.settings.paused && this.drawnOrNoPrequeue() && !this.lineEnded;
    const last = this.preCount + Math.min(this.lastSeq, joinedUpTo);
    while (open && admitted < cap && this.active.size < this.settings.activeLimit && this.cursor < last) {
      const seq = ++this.cursor;
      changed = true;
      const tokenId = this.line.get(seq);
      this.line.delete(seq);
      const entry = tokenId === undefined ? undefined : this.tokens.get(tokenId);
      if (entry?.status !== 'WAITING') continue;
      // The line runs here (not ended), so a WAITING token that ends now was silent too long.
      if (this.endIfOver(entry, now)) {
        abandoned++;
        continue;
      }
      entry.status = 'ACTIVE';
      this.touched(entry);
      entry.activeUntil = now + this.timings.activeTtlMs;
      this.active.add(entry.tokenId);
      this.activeOrder.push(entry.tokenId);
      this.admissions.push(now);
      if (entry.joinedAt > 0) joinedAt.push(entry.joinedAt);
      admitted++;
    }
    this.forgetOldEndings(now);
    if (changed) {
      this.changes++;
      this.events.emit('change');
    }
    return { admitted, joinedAt, abandoned };
  }

  async joinedCount(): Promise<number> {
    return this.lastSeq;
  }

  async closePrequeue(_now: number): Promise<string[]> {
    if (!this.preClosed) {
      this.preClosed = true;
      this.changes++;
    }
    const cutoff = (this.settings.opensAt ?? 0) - this.timings.waitingIdleMs;
    const live: string[] = [];
    for (const [entryId, tokenId] of this.prequeue) {
      const entry = this.tokens.get(tokenId);
      if (entry?.status === 'WAITING' && entry.lastSeenAt > cutoff) live.push(entryId);
    }
    return live;
  }

  async applyDraw(orderedEntryIds: string[]): Promise<boolean> {
    if (this.drawn) return false;
    let rank = 0;
    for (const entryId of orderedEntryIds) {
      rank++;
      const tokenId = this.prequeue.get(entryId);
      const entry = tokenId === undefined ? undefined : this.tokens.get(tokenId);
      if (!entry) continue;
      entry.drawRank = rank;
      entry.seq = rank;
      this.touched(entry);
      if (entry.status === 'WAITING') this.line.set(rank, entry.tokenId);
    }
    this.preClosed = true;
    this.drawn = true;
    this.changes++;
    this.events.emit('change');
    return true;
  }

  async endLine(now: number, status: LineEnd): Promise<void> {
    if (this.lineEnded) return;
    this.lineEnded = status;
    for (const entry of this.tokens.values()) if (isLive(entry)) this.end(entry, now, status, reasonOfLineEnd(status));
    this.events.emit('change');
  }

  async stats(now: number): Promise<QueueStats> {
    for (let t = this.admissions.peek(); t !== undefined && t <= now - MINUTE_MS; t = this.admissions.peek()) {
      this.admissions.shift();
    }
    return {
      waiting: this.line.size,
      prequeued: this.drawn ? 0 : this.preCount,
      active: this.active.size,
      admittedPerMinute: this.admissions.size,
      activeLimit: this.settings.activeLimit,
      paused: this.settings.paused,
      message: this.settings.message ?? null,
      drawn: this.drawnOrNoPrequeue(),
      ended: this.lineEnded !== null,
    };
  }

  async seed(settings: LineSettings): Promise<string> {
    if (settings.version > this.settings.version) {
      this.settings = { ...settings };
      // A pause or a message is news to every open stream of the line.
      this.events.emit('change');
    }
    return this.epoch;
  }

  async currentEpoch(): Promise<string | null> {
    return this.epoch;
  }

  /** An in-process line is never lost while its process runs: a restart is a new store. */
  onReset(): () => void {
    return () => undefined;
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }

  private drawnOrNoPrequeue(): boolean {
    return this.drawn || !this.settings.opensAt;
  }

  /** Ends a token of an ended line, a WAITING token silent too long or an ACTIVE one past its time. True if it ended it now. */
  private endIfOver(entry: Entry, now: number): boolean {
    if (!isLive(entry)) return false;
    if (this.lineEnded) {
      this.end(entry, now, this.lineEnded, reasonOfLineEnd(this.lineEnded));
      return true;
    }
    if (entry.status === 'WAITING' && now - entry.lastSeenAt >= this.timings.waitingIdleMs) {
      this.end(entry, now, 'EXPIRED', 'IDLE');
      return true;
    }
    if (entry.status === 'ACTIVE' && now >= entry.activeUntil) {
      this.end(entry, now, 'EXPIRED', 'TURN_OVER');
      return true;
    }
    return false;
  }

  private end(entry: Entry, now: number, status: LineEnd, reason: EndReason): void {
    this.touched(entry);
    if (entry.status === 'WAITING' && entry.seq > 0) this.line.delete(entry.seq);
    this.active.delete(entry.tokenId);
    entry.status = status;
    entry.endedAt = now;
    entry.reason = reason;
    if (this.liveByUser.get(entry.userId) === entry.tokenId) this.liveByUser.delete(entry.userId);
    this.ended.push(entry.tokenId);
  }

  private forgetOldEndings(now: number): void {
    for (let tokenId = this.ended.peek(); tokenId !== undefined; tokenId = this.ended.peek()) {
      const entry = this.tokens.get(tokenId);
      if (entry && now - entry.endedAt < this.timings.expiredRetentionMs) break;
      if (entry?.pre) this.prequeue.delete(entry.entryId);
      this.tokens.delete(tokenId);
      this.dirty.delete(tokenId);
      this.forgottenIds.push(tokenId);
      this.changes++;
      this.ended.shift();
    }
  }

  private view(entry: Entry): TokenState {
    const waiting = entry.status === 'WAITING';
    return {
      tokenId: entry.tokenId,
      userId: entry.userId,
      seq: entry.seq,
      status: entry.status,
      // Before the draw a pre-queue place is not known: the pre-queue's size is the most it can be.
      position: waiting ? (entry.seq === 0 ? this.preCount : entry.seq - this.cursor) : 0,
      expiresAt: entry.status === 'ACTIVE' ? entry.activeUntil : waiting ? entry.lastSeenAt + this.timings.waitingIdleMs : entry.endedAt,
      entryId: entry.entryId,
      drawRank: entry.drawRank,
      ...(entry.reason ? { reason: entry.reason } : {}),
      paused: this.settings.paused,
      message: this.settings.message ?? null,
    };
  }
}

function isLive(entry: Entry): boolean {
  return entry.status === 'WAITING' || entry.status === 'ACTIVE';
}

/** Every line in this process: created on first use, each a MemoryQueueStore of its own. */
export class MemoryQueueLines implements QueueLines {
  private readonly lines = new Map<string, MemoryQueueStore>();

  constructor(
    private readonly timings: QueueTimings,
    private readonly initial: QueueSettings,
    restored: Iterable<[string, MemoryQueueStore]> = [],
  ) {
    for (const [id, store] of restored) this.lines.set(id, store);
  }

  line(lineId: string): MemoryQueueStore {
    let store = this.lines.get(lineId);
    if (!store) {
      store = new MemoryQueueStore(this.timings, this.initial);
      this.lines.set(lineId, store);
    }
    return store;
  }

  /** The lines that exist now, for snapshots. */
  entries(): IterableIterator<[string, MemoryQueueStore]> {
    return this.lines.entries();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    await Promise.all([...this.lines.values()].map((s) => s.close()));
  }
}

/** An array-backed queue whose shift is O(1) (amortised): the front moves, the array is compacted now and then. */
class FifoQueue<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The item `index` places from the front. */
  at(index: number): T | undefined {
    return this.items[this.head + index];
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

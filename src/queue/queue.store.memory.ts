// The in-process queue store: the whole line in this process's memory. Correct for exactly one
// instance (embedded mode); with REDIS_URL the Redis store takes its place. A snapshot of it (see
// `snapshot` and `MemoryQueueStore.restore`) carries the line over a restart.
import { EventEmitter } from 'node:events';
import { newEpoch, type JoinResult, type LineSettings, type QueueSettings, type QueueStats, type QueueStore, type QueueTimings, type TokenState } from './queue.store.js';

interface Entry {
  tokenId: string;
  userId: string;
  seq: number;
  status: TokenState['status'];
  lastSeenAt: number;
  activeUntil: number;
  endedAt: number;
}

const MINUTE_MS = 60_000;

const STATUS_CODES = { WAITING: 0, ACTIVE: 1, EXPIRED: 2 } as const;
const STATUSES = ['WAITING', 'ACTIVE', 'EXPIRED'] as const;

/** The line as plain JSON: tokens as compact tuples, since a line may hold a million of them. */
export interface QueueSnapshot {
  version: 1;
  epoch: string;
  lastSeq: number;
  cursor: number;
  /** tokenId, userId, seq, status (0 WAITING, 1 ACTIVE, 2 EXPIRED), lastSeenAt, activeUntil, endedAt */
  tokens: [string, string, number, 0 | 1 | 2, number, number, number][];
  admissions: number[];
}

export class MemoryQueueStore implements QueueStore {
  private readonly tokens = new Map<string, Entry>();
  /** userId → tokenId of the user's live (WAITING or ACTIVE) token. */
  private readonly liveByUser = new Map<string, string>();
  /** seq → tokenId for tokens the cursor has not passed yet. */
  private readonly line = new Map<number, string>();
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
  private lastSeq = 0;
  private cursor = 0;
  private settings: LineSettings;
  private epoch = newEpoch();
  /** Bumped by every change, so a snapshot is written only when something changed since the last. */
  private changes = 0;
  private readonly events = new EventEmitter();

  constructor(
    private readonly timings: QueueTimings,
    initial: QueueSettings,
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
    const active: Entry[] = [];
    const ended: Entry[] = [];
    for (const [tokenId, userId, seq, code, lastSeenAt, activeUntil, endedAt] of snapshot.tokens) {
      const status = STATUSES[code];
      const entry: Entry = { tokenId, userId, seq, status, lastSeenAt: status === 'WAITING' ? lastSeenAt + downtime : lastSeenAt, activeUntil, endedAt };
      store.tokens.set(tokenId, entry);
      if (status === 'EXPIRED') {
        ended.push(entry);
        continue;
      }
      store.liveByUser.set(userId, tokenId);
      if (status === 'WAITING') store.line.set(seq, tokenId);
      else active.push(entry);
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

  snapshot(): QueueSnapshot {
    const tokens: QueueSnapshot['tokens'] = [];
    for (const e of this.tokens.values()) {
      tokens.push([e.tokenId, e.userId, e.seq, STATUS_CODES[e.status], e.lastSeenAt, e.activeUntil, e.endedAt]);
    }
    const admissions: number[] = [];
    for (let i = 0; i < this.admissions.size; i++) admissions.push(this.admissions.at(i)!);
    return { version: 1, epoch: this.epoch, lastSeq: this.lastSeq, cursor: this.cursor, tokens, admissions };
  }

  async join(userId: string, newTokenId: string, now: number): Promise<JoinResult> {
    const liveId = this.liveByUser.get(userId);
    if (liveId !== undefined) {
      const state = await this.get(liveId, now, true);
      if (state && state.status !== 'EXPIRED') return { state, created: false, epoch: this.epoch };
    }
    this.changes++;
    const entry: Entry = {
      tokenId: newTokenId,
      userId,
      seq: ++this.lastSeq,
      status: 'WAITING',
      lastSeenAt: now,
      activeUntil: 0,
      endedAt: 0,
    };
    this.tokens.set(newTokenId, entry);
    this.liveByUser.set(userId, newTokenId);
    this.line.set(entry.seq, newTokenId);
    return { state: this.view(entry), created: true, epoch: this.epoch };
  }

  async get(tokenId: string, now: number, touch: boolean): Promise<TokenState | null> {
    const entry = this.tokens.get(tokenId);
    if (!entry) return null;
    this.expireIfLapsed(entry, now);
    if (touch && entry.status === 'WAITING') {
      entry.lastSeenAt = now;
      this.changes++;
    }
    return this.view(entry);
  }

  async expire(tokenId: string, now: number): Promise<void> {
    const entry = this.tokens.get(tokenId);
    if (!entry || entry.status === 'EXPIRED') return;
    this.end(entry, now);
    this.events.emit('change');
  }

  async admit(now: number): Promise<number> {
    let changed = false;
    for (let tokenId = this.activeOrder.peek(); tokenId !== undefined; tokenId = this.activeOrder.peek()) {
      const entry = this.tokens.get(tokenId);
      if (entry?.status === 'ACTIVE' && now < entry.activeUntil) break;
      this.activeOrder.shift();
      if (entry && this.expireIfLapsed(entry, now)) changed = true;
    }
    let admitted = 0;
    while (!this.settings.paused && this.active.size < this.settings.activeLimit && this.cursor < this.lastSeq) {
      const seq = ++this.cursor;
      changed = true;
      const tokenId = this.line.get(seq);
      this.line.delete(seq);
      const entry = tokenId === undefined ? undefined : this.tokens.get(tokenId);
      if (!entry || entry.status !== 'WAITING' || this.expireIfLapsed(entry, now)) continue;
      entry.status = 'ACTIVE';
      this.changes++;
      entry.activeUntil = now + this.timings.activeTtlMs;
      this.active.add(entry.tokenId);
      this.activeOrder.push(entry.tokenId);
      this.admissions.push(now);
      admitted++;
    }
    this.forgetOldEndings(now);
    if (changed) {
      this.changes++;
      this.events.emit('change');
    }
    return admitted;
  }

  async stats(now: number): Promise<QueueStats> {
    for (let t = this.admissions.peek(); t !== undefined && t <= now - MINUTE_MS; t = this.admissions.peek()) {
      this.admissions.shift();
    }
    return {
      waiting: this.line.size,
      active: this.active.size,
      admittedPerMinute: this.admissions.size,
      activeLimit: this.settings.activeLimit,
      paused: this.settings.paused,
    };
  }

  async seed(settings: LineSettings): Promise<string> {
    if (settings.version > this.settings.version) this.settings = { ...settings };
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

  /** Ends a WAITING token silent too long or an ACTIVE one past its time. True if it ended it now. */
  private expireIfLapsed(entry: Entry, now: number): boolean {
    const lapsed =
      (entry.status === 'WAITING' && now - entry.lastSeenAt >= this.timings.waitingIdleMs) ||
      (entry.status === 'ACTIVE' && now >= entry.activeUntil);
    if (lapsed) this.end(entry, now);
    return lapsed;
  }

  private end(entry: Entry, now: number): void {
    this.changes++;
    if (entry.status === 'WAITING') this.line.delete(entry.seq);
    this.active.delete(entry.tokenId);
    entry.status = 'EXPIRED';
    entry.endedAt = now;
    if (this.liveByUser.get(entry.userId) === entry.tokenId) this.liveByUser.delete(entry.userId);
    this.ended.push(entry.tokenId);
  }

  private forgetOldEndings(now: number): void {
    for (let tokenId = this.ended.peek(); tokenId !== undefined; tokenId = this.ended.peek()) {
      const entry = this.tokens.get(tokenId);
      if (entry && now - entry.endedAt < this.timings.expiredRetentionMs) break;
      this.tokens.delete(tokenId);
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
      position: waiting ? entry.seq - this.cursor : 0,
      expiresAt:
        entry.status === 'ACTIVE' ? entry.activeUntil : waiting ? entry.lastSeenAt + this.timings.waitingIdleMs : entry.endedAt,
    };
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

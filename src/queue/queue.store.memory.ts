// The in-process queue store: the whole line in this process's memory. Correct for exactly one
// instance (embedded mode); with REDIS_URL the Redis store takes its place.
import { EventEmitter } from 'node:events';
import type { JoinResult, QueueSettings, QueueStats, QueueStore, QueueTimings, TokenState } from './queue.store.js';

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

export class MemoryQueueStore implements QueueStore {
  private readonly tokens = new Map<string, Entry>();
  /** userId → tokenId of the user's live (WAITING or ACTIVE) token. */
  private readonly liveByUser = new Map<string, string>();
  /** seq → tokenId for tokens the cursor has not passed yet. */
  private readonly line = new Map<number, string>();
  private readonly active = new Set<string>();
  /** Ended tokens in the order they ended, to forget them after the retention time. */
  private readonly ended: string[] = [];
  private endedHead = 0;
  /** Admission times of the last minute, oldest first. */
  private admissions: number[] = [];
  private lastSeq = 0;
  private cursor = 0;
  private settings: QueueSettings;
  private readonly events = new EventEmitter();

  constructor(
    private readonly timings: QueueTimings,
    initial: QueueSettings,
  ) {
    this.settings = { ...initial };
    this.events.setMaxListeners(0);
  }

  async join(userId: string, newTokenId: string, now: number): Promise<JoinResult> {
    const liveId = this.liveByUser.get(userId);
    if (liveId !== undefined) {
      const state = await this.get(liveId, now, true);
      if (state && state.status !== 'EXPIRED') return { state, created: false };
    }
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
    return { state: this.view(entry), created: true };
  }

  async get(tokenId: string, now: number, touch: boolean): Promise<TokenState | null> {
    const entry = this.tokens.get(tokenId);
    if (!entry) return null;
    this.expireIfLapsed(entry, now);
    if (touch && entry.status === 'WAITING') entry.lastSeenAt = now;
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
    for (const tokenId of this.active) {
      const entry = this.tokens.get(tokenId);
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
      entry.activeUntil = now + this.timings.activeTtlMs;
      this.active.add(entry.tokenId);
      this.admissions.push(now);
      admitted++;
    }
    this.forgetOldEndings(now);
    if (changed) this.events.emit('change');
    return admitted;
  }

  async stats(now: number): Promise<QueueStats> {
    const since = now - MINUTE_MS;
    const firstRecent = this.admissions.findIndex((t) => t > since);
    this.admissions = firstRecent < 0 ? [] : this.admissions.slice(firstRecent);
    return {
      waiting: this.line.size,
      active: this.active.size,
      admittedPerMinute: this.admissions.length,
      ...this.settings,
    };
  }

  async updateSettings(change: Partial<QueueSettings>): Promise<QueueSettings> {
    this.settings = { ...this.settings, ...change };
    return { ...this.settings };
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
    if (entry.status === 'WAITING') this.line.delete(entry.seq);
    this.active.delete(entry.tokenId);
    entry.status = 'EXPIRED';
    entry.endedAt = now;
    if (this.liveByUser.get(entry.userId) === entry.tokenId) this.liveByUser.delete(entry.userId);
    this.ended.push(entry.tokenId);
  }

  private forgetOldEndings(now: number): void {
    while (this.endedHead < this.ended.length) {
      const tokenId = this.ended[this.endedHead]!;
      const entry = this.tokens.get(tokenId);
      if (entry && now - entry.endedAt < this.timings.expiredRetentionMs) break;
      this.tokens.delete(tokenId);
      this.endedHead++;
    }
    if (this.endedHead > 1024 && this.endedHead * 2 > this.ended.length) {
      this.ended.splice(0, this.endedHead);
      this.endedHead = 0;
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

// An instance's copy of a Redis line answers polls only for what it can vouch for: everything else goes
// to Redis (answer() is undefined). A copy that is behind may overstate a position, never understate it.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PollCopy, type LineView } from '../../src/queue/poll-copy.js';
import type { TokenState } from '../../src/queue/queue.store.js';

const T0 = 1_800_000_000_000;
const timings = { waitingIdleMs: 10_000, expiredRetentionMs: 60_000 };
const EPOCH = '0123456789abcdef';

function line(change: Partial<LineView> = {}): LineView {
  return { cursor: 0, epoch: EPOCH, paused: false, message: null, preCount: 0, drawn: false, ended: null, ...change };
}

function waiting(seq: number, joinedAt = T0): TokenState {
  return {
    tokenId: randomUUID(),
    userId: randomUUID(),
    seq,
    status: 'WAITING',
    position: seq,
    expiresAt: joinedAt + timings.waitingIdleMs,
    entryId: randomUUID(),
    drawRank: null,
    paused: false,
    message: null,
  };
}

/** A copy on a clock the test moves (performance.now() in production). */
function copyAt(maxTokens?: number) {
  const clock = { now: 0 };
  return { clock, copy: new PollCopy(timings, () => clock.now, maxTokens) };
}

const claimsOf = (state: TokenState) => ({ tokenId: state.tokenId, userId: state.userId, seq: state.seq, epoch: EPOCH });

describe('an instance copy of a line', () => {
  it('answers a known WAITING token with arithmetic on its arrival number and the cursor', () => {
    const { copy } = copyAt();
    copy.takeLine(line({ cursor: 40, paused: true, message: 'soon' }), 0);
    const token = waiting(45);
    copy.remember(token, T0, true);
    expect(copy.answer(claimsOf(token), T0 + 1_000)).toMatchObject({
      status: 'WAITING',
      position: 5,
      expiresAt: T0 + 1_000 + timings.waitingIdleMs,
      paused: true,
      message: 'soon',
    });
  });

  it('never takes an older read over a newer one, so its cursor never goes back', () => {
    const { copy } = copyAt();
    const token = waiting(50);
    copy.remember(token, T0, true);
    copy.takeLine(line({ cursor: 30 }), 2);
    // A read sent before the one above that answered after it.
    expect(copy.takeLine(line({ cursor: 10 }), 1)).toBe(false);
    expect(copy.answer(claimsOf(token), T0)!.position).toBe(20);
  });

  it('asks Redis about a token the cursor has passed, a lapsing one, a pre-queue join, an ended line', () => {
    const { copy } = copyAt();
    copy.takeLine(line({ cursor: 10 }), 0);
    const passed = waiting(10);
    const ahead = waiting(11);
    const pre = waiting(0);
    for (const t of [passed, ahead, pre]) copy.remember(t, T0, true);
    expect(copy.answer(claimsOf(passed), T0)).toBeUndefined();
    expect(copy.answer(claimsOf(ahead), T0)!.position).toBe(1);
    // Half the idle time since Redis last heard of it: Redis may soon call it idle, so Redis answers.
    expect(copy.answer(claimsOf(ahead), T0 + timings.waitingIdleMs / 2)).toBeUndefined();

    // Its position is the pre-queue's size, which joins on other instances grow without a word.
    copy.takeLine(line({ cursor: 10, preCount: 7 }), 1);
    expect(copy.answer(claimsOf(pre), T0)).toBeUndefined();

    copy.takeLine(line({ cursor: 10, ended: 'SOLD_OUT' }), 3);
    expect(copy.answer(claimsOf(ahead), T0)).toBeUndefined();
  });

  it('asks Redis when the copy is over a second old, the epoch differs, or the token names another user', () => {
    const { clock, copy } = copyAt();
    copy.takeLine(line(), 0);
    const token = waiting(3);
    copy.remember(token, T0, true);
    expect(copy.answer(claimsOf(token), T0)).toBeDefined();
    expect(copy.answer({ ...claimsOf(token), epoch: 'fedcba9876543210' }, T0)).toBeUndefined();
    expect(copy.answer({ ...claimsOf(token), userId: randomUUID() }, T0)).toBeUndefined();
    clock.now = 1_001;
    expect(copy.answer(claimsOf(token), T0)).toBeUndefined();
  });

  it('trusts an ACTIVE token for a second and until its turn ends', () => {
    const { clock, copy } = copyAt();
    copy.takeLine(line({ cursor: 5 }), 0);
    const active: TokenState = { ...waiting(5), status: 'ACTIVE', position: 0, expiresAt: T0 + 60_000 };
    copy.remember(active, T0, false);
    expect(copy.answer(claimsOf(active), T0)).toMatchObject({ status: 'ACTIVE', expiresAt: T0 + 60_000 });
    expect(copy.answer(claimsOf(active), T0 + 60_000)).toBeUndefined();
    clock.now = 900;
    copy.takeLine(line({ cursor: 5 }), 900);
    expect(copy.answer(claimsOf(active), T0)).toBeDefined();
    clock.now = 1_001;
    copy.takeLine(line({ cursor: 5 }), 1_001);
    expect(copy.answer(claimsOf(active), T0)).toBeUndefined();
  });

  it('records a poll as a touch to write only once the last written one is touchEvery old', () => {
    const { copy } = copyAt();
    copy.takeLine(line(), 0);
    const token = waiting(2);
    copy.remember(token, T0, true);
    copy.answer(claimsOf(token), T0 + copy.touchEveryMs - 1);
    expect(copy.takeTouches()).toEqual([]);
    copy.answer(claimsOf(token), T0 + copy.touchEveryMs);
    const touches = copy.takeTouches();
    expect(touches).toEqual([[token.tokenId, T0 + copy.touchEveryMs]]);
    // Until Redis has it, later polls record it again; once written, they do not.
    copy.answer(claimsOf(token), T0 + copy.touchEveryMs + 1);
    expect(copy.takeTouches()).toHaveLength(1);
    copy.written(touches);
    copy.answer(claimsOf(token), T0 + copy.touchEveryMs + 2);
    expect(copy.takeTouches()).toEqual([]);
  });

  it('drops, now and then, the tokens it could no longer vouch for, and keeps the rest', () => {
    const { copy } = copyAt();
    copy.takeLine(line(), 0);
    const silent = waiting(1);
    const polled = waiting(2);
    const paid: TokenState = { ...waiting(3), status: 'EXPIRED', position: 0, expiresAt: T0, reason: 'PAID' };
    copy.remember(silent, T0, true);
    copy.remember(paid, T0, false);
    copy.prune(T0 + 5_000);
    expect(copy.knownTokens).toBe(2);
    copy.remember(polled, T0 + 65_000, true);
    // Too soon after the last pruning: nothing goes, though `silent` could.
    copy.prune(T0 + 20_000);
    expect(copy.knownTokens).toBe(3);
    // Unwritten for the idle time, or ended past the retention: any poll of these reads Redis anyway.
    copy.prune(T0 + 70_000);
    expect(copy.knownTokens).toBe(1);
    expect(copy.answer(claimsOf(polled), T0 + 66_000)).toBeDefined();
  });

  it('at its cap forgets the tokens it learnt first, one for each new one, and goes on doing so', () => {
    const { copy } = copyAt(3);
    copy.takeLine(line(), 0);
    const tokens = Array.from({ length: 8 }, (_, i) => waiting(i + 1));
    const known = () => tokens.map((t) => copy.answer(claimsOf(t), T0 + 1) !== undefined);
    for (const t of tokens.slice(0, 3)) copy.remember(t, T0, true);
    // Learning a known token again takes no place.
    copy.remember(tokens[0]!, T0, true);
    expect(copy.knownTokens).toBe(3);
    for (const t of tokens.slice(3, 5)) copy.remember(t, T0, true);
    expect(known()).toEqual([false, false, true, true, true, false, false, false]);
    // The walk goes on from where it was, through the tokens learnt since it began.
    for (const t of tokens.slice(5, 8)) copy.remember(t, T0, true);
    expect(copy.knownTokens).toBe(3);
    expect(known()).toEqual([false, false, false, false, false, true, true, true]);
  });
});

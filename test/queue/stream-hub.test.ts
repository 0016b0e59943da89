// The stream hub on a queue whose states the test sets, with the clock in the test's hands: when a
// change of the line is written to a stream, and when it waits.
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenClaims } from '../../src/queue/queue-token.js';
import type { LineTokenState, TokenView } from '../../src/queue/queue.service.js';
import { StreamHub } from '../../src/queue/stream-hub.js';

const LINE = 'general';

/** A queue of one line whose tokens' states the test sets; a change is announced by `change()`. */
function fakeQueue() {
  const states = new Map<string, LineTokenState>();
  const listeners = new Set<() => void>();
  const queue = {
    peek: async (claims: TokenClaims) => states.get(claims.tokenId) ?? null,
    peekNow: (claims: TokenClaims) => states.get(claims.tokenId) ?? null,
    view: (state: LineTokenState): TokenView => ({
      userId: state.userId,
      status: state.status,
      position: state.position,
      estimatedWaitSeconds: state.position * 10,
      pollAfterSeconds: 5,
      expiresAt: new Date(state.expiresAt).toISOString(),
      paused: state.paused,
    }),
    onChange: (listener: () => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    queue,
    set(tokenId: string, change: Partial<LineTokenState>) {
      const state: LineTokenState = {
        tokenId,
        userId: `user-${tokenId}`,
        seq: 1,
        status: 'WAITING',
        position: 1,
        expiresAt: 0,
        entryId: `entry-${tokenId}`,
        drawRank: null,
        paused: false,
        message: null,
        lineId: LINE,
        ...states.get(tokenId),
        ...change,
      };
      states.set(tokenId, state);
      return state;
    },
    change: () => {
      for (const listener of listeners) listener();
    },
  };
}

/** A response that records the events written to it. */
function fakeResponse() {
  const events: TokenView[] = [];
  const raw = {
    writableNeedDrain: false,
    write(chunk: string) {
      if (chunk.startsWith('data: ')) events.push(JSON.parse(chunk.slice('data: '.length)) as TokenView);
      return true;
    },
    end: () => undefined,
    on: () => raw,
  };
  return { raw: raw as unknown as ServerResponse, events };
}

describe('stream hub', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function openStream(fake: ReturnType<typeof fakeQueue>, hub: StreamHub, tokenId: string, position: number) {
    const state = fake.set(tokenId, { position });
    const { raw, events } = fakeResponse();
    hub.open({ claims: { tokenId, userId: state.userId, seq: 1, epoch: '0'.repeat(16) }, lineId: LINE, raw }, fake.queue.view(state));
    return events;
  }

  function hubOn(fake: ReturnType<typeof fakeQueue>) {
    return new StreamHub({ queue: fake.queue, maxStreams: 100, heartbeatMs: 60_000, onError: (error) => expect.unreachable(String(error)) });
  }

  it('writes a move of the line once the changes right behind it are in, once for all of them', async () => {
    const fake = fakeQueue();
    const hub = hubOn(fake);
    const events = openStream(fake, hub, 'a', 5);
    await vi.advanceTimersByTimeAsync(1_000);
    // An admission pass of several store calls, a few milliseconds apart.
    fake.set('a', { position: 4 });
    fake.change();
    await vi.advanceTimersByTimeAsync(10);
    fake.set('a', { position: 3 });
    fake.change();
    expect(events.map((e) => e.position)).toEqual([5]);
    await vi.advanceTimersByTimeAsync(25);
    expect(events.map((e) => e.position)).toEqual([5, 3]);
    hub.closeAll();
  });

  it('writes the first move of the place at once, holds the next ones back for a second, then writes the newest place', async () => {
    const fake = fakeQueue();
    const hub = hubOn(fake);
    const events = openStream(fake, hub, 'a', 6);
    await vi.advanceTimersByTimeAsync(100);
    fake.set('a', { position: 5 });
    fake.change();
    await vi.advanceTimersByTimeAsync(100);
    // The first move after the stream opened: at once.
    expect(events.map((e) => e.position)).toEqual([6, 5]);
    fake.set('a', { position: 4 });
    fake.change();
    await vi.advanceTimersByTimeAsync(300);
    fake.set('a', { position: 3 });
    fake.change();
    await vi.advanceTimersByTimeAsync(300);
    // Within the second of the last move: held back.
    expect(events.map((e) => e.position)).toEqual([6, 5]);
    // The place the stream shows meanwhile is one it has passed: overstated, never understated.
    await vi.advanceTimersByTimeAsync(1_100);
    expect(events.map((e) => e.position)).toEqual([6, 5, 3]);
    // The line is still: nothing more is written.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(events).toHaveLength(3);
    hub.closeAll();
  });

  it('writes news at once, however recent the last event: an admission, a pause', async () => {
    const fake = fakeQueue();
    const hub = hubOn(fake);
    const admitted = openStream(fake, hub, 'a', 1);
    const paused = openStream(fake, hub, 'b', 3);
    await vi.advanceTimersByTimeAsync(100);
    fake.set('b', { position: 2 });
    fake.change();
    await vi.advanceTimersByTimeAsync(100);
    fake.set('a', { status: 'ACTIVE', position: 0 });
    fake.set('b', { position: 1 });
    fake.change();
    await vi.advanceTimersByTimeAsync(25);
    expect(admitted.map((e) => e.status)).toEqual(['WAITING', 'ACTIVE']);
    // Its place moved again, within the second of the last move: it waits.
    expect(paused.map((e) => e.position)).toEqual([3, 2]);
    fake.set('b', { paused: true });
    fake.change();
    await vi.advanceTimersByTimeAsync(25);
    expect(paused.map((e) => [e.position, e.paused])).toEqual([
      [3, false],
      [2, false],
      [1, true],
    ]);
    hub.closeAll();
  });

  it('holds back a change of the other figures alone for a second after the last event, but not the first move of the place', async () => {
    const fake = fakeQueue();
    const hub = hubOn(fake);
    const events = openStream(fake, hub, 'd', 2);
    await vi.advanceTimersByTimeAsync(100);
    // A walk finds only the token's expiry moved: it waits.
    fake.set('d', { expiresAt: 5_000 });
    fake.change();
    await vi.advanceTimersByTimeAsync(100);
    expect(events).toHaveLength(1);
    // The place moves: the first move goes at once, the expiry with it.
    fake.set('d', { position: 1 });
    fake.change();
    await vi.advanceTimersByTimeAsync(25);
    expect(events.map((e) => [e.position, e.expiresAt])).toEqual([
      [2, new Date(0).toISOString()],
      [1, new Date(5_000).toISOString()],
    ]);
    hub.closeAll();
  });

  it('after news, writes the next move of the place at once again', async () => {
    const fake = fakeQueue();
    const hub = hubOn(fake);
    const events = openStream(fake, hub, 'c', 5);
    for (const change of [{ position: 4 }, { paused: true }, { position: 3 }]) {
      await vi.advanceTimersByTimeAsync(100);
      fake.set('c', change);
      fake.change();
      await vi.advanceTimersByTimeAsync(25);
    }
    expect(events.map((e) => [e.position, e.paused])).toEqual([
      [5, false],
      [4, false],
      [4, true],
      [3, true],
    ]);
    hub.closeAll();
  });
});

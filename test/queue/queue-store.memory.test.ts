import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryQueueLines, MemoryQueueStore, type SavedToken } from '../../src/queue/queue.store.memory.js';
import { describeQueueLines, describeQueueStore } from './queue-store.suite.js';

describeQueueStore('in-process', async (timings, settings) => new MemoryQueueStore(timings, settings));
describeQueueLines('in-process', async (timings, settings) => new MemoryQueueLines(timings, settings));

describe('in-process queue store snapshots', () => {
  const timings = { activeTtlMs: 10_000, waitingIdleMs: 8_000, expiredRetentionMs: 60_000 };
  const T0 = 1_800_000_000_000;
  const join = (store: MemoryQueueStore, now = T0) => store.join(randomUUID(), randomUUID(), now).then((r) => r.state);

  it('hands over only what changed since the last delta, and a poll only once it is well behind', async () => {
    const store = new MemoryQueueStore(timings, { activeLimit: 1, paused: false });
    const [a, b, c] = [await join(store), await join(store), await join(store)];
    expect(
      store
        .takeDelta()
        .tokens.map((t) => t[0])
        .sort(),
    ).toEqual([a.tokenId, b.tokenId, c.tokenId].sort());
    expect(store.takeDelta().tokens).toEqual([]);
    await store.get(c.tokenId, T0 + 1_000, true);
    expect(store.takeDelta().tokens).toEqual([]);
    await store.get(c.tokenId, T0 + 2_000, true);
    expect(store.takeDelta().tokens.map((t) => t[0])).toEqual([c.tokenId]);
    await store.admit(T0 + 2_000);
    expect(store.takeDelta().tokens.map((t) => [t[0], t[6]])).toEqual([[a.tokenId, 1]]);
    await store.expire(a.tokenId, T0 + 3_000);
    store.takeDelta();
    await store.admit(T0 + 3_000 + timings.expiredRetentionMs);
    expect(store.takeDelta().forgotten).toContain(a.tokenId);
  });

  it('restores from a full snapshot and the deltas after it the same line: places, states and the line itself', async () => {
    const store = new MemoryQueueStore(timings, { activeLimit: 1, paused: false });
    const saved = new Map<string, SavedToken>();
    const apply = (tokens: SavedToken[], forgotten: string[]) => {
      for (const t of tokens) saved.set(t[0], t);
      for (const id of forgotten) saved.delete(id);
    };
    const first = store.snapshot();
    apply(first.tokens, []);
    const states = [await join(store), await join(store), await join(store)];
    await store.admit(T0 + 10);
    const delta = store.takeDelta();
    apply(delta.tokens, delta.forgotten);

    const restored = MemoryQueueStore.restore({ ...delta.state, tokens: [...saved.values()] }, T0 + 20, T0 + 20, timings, { activeLimit: 1, paused: false });
    const views = await Promise.all(states.map((s) => restored.get(s.tokenId, T0 + 20, false)));
    expect(views.map((v) => [v!.status, v!.position])).toEqual([
      ['ACTIVE', 0],
      ['WAITING', 1],
      ['WAITING', 2],
    ]);
    const next = await join(restored, T0 + 30);
    expect(next.position).toBe(3);
  });

  it('carries why each token ended over a restart, and loads a snapshot written before reasons were kept', async () => {
    const store = new MemoryQueueStore(timings, { activeLimit: 2, paused: false });
    const [paid, turnOver] = [await join(store), await join(store)];
    await store.admit(T0);
    await store.expire(paid.tokenId, T0 + 1);
    await store.admit(T0 + timings.activeTtlMs);
    const snapshot = store.snapshot();
    const restored = MemoryQueueStore.restore(snapshot, T0 + 20_000, T0 + 20_000, timings, { activeLimit: 2, paused: false });
    expect((await restored.get(paid.tokenId, T0 + 20_000, false))!.reason).toBe('PAID');
    expect((await restored.get(turnOver.tokenId, T0 + 20_000, false))!.reason).toBe('TURN_OVER');

    // An older build's tokens end at joinedAt: they load, and their ended tokens simply have no reason.
    const old = { ...snapshot, tokens: snapshot.tokens.map((t) => t.slice(0, 11) as SavedToken) };
    const fromOld = MemoryQueueStore.restore(old, T0 + 20_000, T0 + 20_000, timings, { activeLimit: 2, paused: false });
    expect(await fromOld.get(paid.tokenId, T0 + 20_000, false)).toMatchObject({ status: 'EXPIRED' });
    expect((await fromOld.get(paid.tokenId, T0 + 20_000, false))!.reason).toBeUndefined();
  });
});

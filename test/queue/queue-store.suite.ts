// One behaviour suite for every QueueStore. Time is passed in explicitly, so nothing here sleeps.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LineEndedError, type LineSettings, type QueueLines, type QueueSettings, type QueueStore, type QueueTimings } from '../../src/queue/queue.store.js';

export type StoreFactory = (timings: QueueTimings, settings: QueueSettings) => Promise<QueueStore>;

const timings: QueueTimings = { activeTtlMs: 10_000, waitingIdleMs: 5_000, expiredRetentionMs: 60_000 };
const T0 = 1_800_000_000_000;

export function describeQueueStore(name: string, makeStore: StoreFactory): void {
  describe(`${name} queue store`, () => {
    const opened: QueueStore[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    async function open(settings: Partial<QueueSettings> = {}): Promise<QueueStore> {
      const store = await makeStore(timings, { activeLimit: 2, paused: false, ...settings });
      opened.push(store);
      return store;
    }
    async function joinMany(store: QueueStore, n: number, now = T0) {
      const states = [];
      for (let i = 0; i < n; i++) states.push((await store.join(randomUUID(), randomUUID(), now)).state);
      return states;
    }

    it('gives each new user the next place in line, and the same place when they ask again', async () => {
      const store = await open();
      const [a, b, c] = await joinMany(store, 3);
      expect([a!.position, b!.position, c!.position]).toEqual([1, 2, 3]);
      expect([a!.status, b!.status, c!.status]).toEqual(['WAITING', 'WAITING', 'WAITING']);
      expect(b!.seq).toBeGreaterThan(a!.seq);
      expect(b!.expiresAt).toBe(T0 + timings.waitingIdleMs);

      const again = await store.join(b!.userId, randomUUID(), T0 + 1_000);
      expect(again.created).toBe(false);
      expect(again.state.tokenId).toBe(b!.tokenId);
      expect(again.state.position).toBe(2);
      expect(again.state.expiresAt).toBe(T0 + 1_000 + timings.waitingIdleMs);
    });

    it('admits in arrival order up to the active limit and moves the rest forward', async () => {
      const store = await open({ activeLimit: 2 });
      const [a, b, c, d] = await joinMany(store, 4);
      expect((await store.admit(T0 + 10)).admitted).toBe(2);
      const states = await Promise.all([a, b, c, d].map((s) => store.get(s!.tokenId, T0 + 20, false)));
      expect(states.map((s) => s!.status)).toEqual(['ACTIVE', 'ACTIVE', 'WAITING', 'WAITING']);
      expect(states.map((s) => s!.position)).toEqual([0, 0, 1, 2]);
      expect(states[0]!.expiresAt).toBe(T0 + 10 + timings.activeTtlMs);
      expect((await store.admit(T0 + 30)).admitted).toBe(0);
    });

    it('answers a poll as a read that touches: the same state, and the place is kept', async () => {
      const store = await open({ activeLimit: 1 });
      const states = await joinMany(store, 3);
      await store.admit(T0 + 10);
      const epoch = (await store.currentEpoch())!;
      const claims = (s: (typeof states)[number]) => ({ tokenId: s.tokenId, userId: s.userId, seq: s.seq, epoch });
      const polled = await Promise.all(states.map((s) => store.poll(claims(s), T0 + 3_000)));
      const read = await Promise.all(states.map((s) => store.get(s.tokenId, T0 + 3_000, false)));
      expect(polled.map((s) => [s!.status, s!.position, s!.expiresAt])).toEqual(read.map((s) => [s!.status, s!.position, s!.expiresAt]));
      expect(polled.map((s) => s!.position)).toEqual([0, 1, 2]);
      // Polled at 3 s, the waiting ones are not idle at 7 s (idle 5 s), though joined at 0.
      expect((await store.get(states[2]!.tokenId, T0 + 7_000, false))!.status).toBe('WAITING');
      await store.expire(states[0]!.tokenId, T0 + 7_000);
      expect(await store.poll(claims(states[0]!), T0 + 7_001)).toMatchObject({ status: 'EXPIRED', reason: 'PAID' });
    });

    it('frees a slot when a token ends, and the next in line takes it', async () => {
      const store = await open({ activeLimit: 1 });
      const [a, b] = await joinMany(store, 2);
      await store.admit(T0);
      await store.expire(a!.tokenId, T0 + 100);
      expect((await store.get(a!.tokenId, T0 + 100, false))!.status).toBe('EXPIRED');
      expect((await store.admit(T0 + 200)).admitted).toBe(1);
      expect((await store.get(b!.tokenId, T0 + 200, false))!.status).toBe('ACTIVE');
      // Ending twice is harmless.
      await store.expire(a!.tokenId, T0 + 300);
      expect((await store.stats(T0 + 300)).active).toBe(1);
    });

    it('puts a user whose token ended at the back of the line with a new token', async () => {
      const store = await open({ activeLimit: 1 });
      const [a] = await joinMany(store, 1);
      await store.admit(T0);
      await joinMany(store, 2);
      await store.expire(a!.tokenId, T0 + 1);
      const rejoined = await store.join(a!.userId, randomUUID(), T0 + 2);
      expect(rejoined.created).toBe(true);
      expect(rejoined.state.tokenId).not.toBe(a!.tokenId);
      expect(rejoined.state.status).toBe('WAITING');
      expect(rejoined.state.position).toBe(3);
    });

    it('abandons a silent waiting token: it reads EXPIRED and admission skips it', async () => {
      const store = await open({ activeLimit: 1 });
      const [first, silent, polling] = await joinMany(store, 3);
      await store.admit(T0);
      // `polling` keeps its place by being seen; `silent` is never seen again.
      await store.get(polling!.tokenId, T0 + 4_000, true);
      await store.expire(first!.tokenId, T0 + 6_000);
      expect((await store.admit(T0 + 6_000)).admitted).toBe(1);
      expect((await store.get(silent!.tokenId, T0 + 6_000, false))!.status).toBe('EXPIRED');
      expect((await store.get(polling!.tokenId, T0 + 6_000, false))!.status).toBe('ACTIVE');
    });

    it('tells what an admission did: when each admitted token joined, and how many abandoned ones it skipped', async () => {
      const store = await open({ activeLimit: 2 });
      const [first] = await joinMany(store, 1, T0);
      const [silent] = await joinMany(store, 1, T0 + 1_000);
      const [polling] = await joinMany(store, 1, T0 + 2_000);
      expect(await store.admit(T0 + 3_000)).toEqual({ admitted: 2, joinedAt: [T0, T0 + 1_000], abandoned: 0 });
      await store.expire(first!.tokenId, T0 + 3_500);
      await store.get(polling!.tokenId, T0 + 4_000, true);
      expect(await store.admit(T0 + 4_500)).toEqual({ admitted: 1, joinedAt: [T0 + 2_000], abandoned: 0 });
      // A join that then goes silent is found abandoned when admission reaches it.
      const [late] = await joinMany(store, 1, T0 + 5_000);
      await store.expire(silent!.tokenId, T0 + 10_500);
      await store.expire(polling!.tokenId, T0 + 10_500);
      expect(await store.admit(T0 + 10_500)).toEqual({ admitted: 0, joinedAt: [], abandoned: 1 });
      expect((await store.get(late!.tokenId, T0 + 10_500, false))!.status).toBe('EXPIRED');
    });

    it('never lets a token that went silent take a slot, even if the line reaches it late', async () => {
      const store = await open({ activeLimit: 1 });
      const [a, b] = await joinMany(store, 2);
      await store.admit(T0);
      await store.expire(a!.tokenId, T0 + 5_000);
      expect((await store.admit(T0 + 5_000)).admitted).toBe(0);
      expect((await store.get(b!.tokenId, T0 + 5_001, true))!.status).toBe('EXPIRED');
      expect((await store.stats(T0 + 5_001)).active).toBe(0);
    });

    it('ends an active token after its active time and frees the slot', async () => {
      const store = await open({ activeLimit: 1 });
      const [a, b] = await joinMany(store, 2);
      await store.admit(T0);
      await store.get(b!.tokenId, T0 + 4_000, true);
      await store.get(b!.tokenId, T0 + 8_000, true);
      expect((await store.get(a!.tokenId, T0 + 9_999, false))!.status).toBe('ACTIVE');
      expect((await store.admit(T0 + 10_000)).admitted).toBe(1);
      expect((await store.get(a!.tokenId, T0 + 10_000, false))!.status).toBe('EXPIRED');
      expect((await store.get(b!.tokenId, T0 + 10_000, false))!.status).toBe('ACTIVE');
    });

    it('admits nobody while paused, and resumes in order', async () => {
      const store = await open({ activeLimit: 5 });
      const states = await joinMany(store, 2);
      await store.seed({ activeLimit: 5, paused: true, version: 1 });
      expect(await store.stats(T0)).toMatchObject({ activeLimit: 5, paused: true });
      expect((await store.admit(T0)).admitted).toBe(0);
      expect((await store.get(states[0]!.tokenId, T0, false))!.position).toBe(1);
      await store.seed({ activeLimit: 5, paused: false, version: 2 });
      expect((await store.admit(T0 + 1)).admitted).toBe(2);
    });

    it('lowering the limit ends nobody, it only holds admission back', async () => {
      const store = await open({ activeLimit: 3 });
      const states = await joinMany(store, 4);
      await store.admit(T0);
      await store.seed({ activeLimit: 1, paused: false, version: 1 });
      expect(await store.stats(T0 + 1)).toMatchObject({ activeLimit: 1, paused: false });
      expect((await store.admit(T0 + 1)).admitted).toBe(0);
      expect((await store.stats(T0 + 1)).active).toBe(3);
      await store.expire(states[0]!.tokenId, T0 + 2);
      await store.expire(states[1]!.tokenId, T0 + 2);
      expect((await store.admit(T0 + 3)).admitted).toBe(0);
      await store.expire(states[2]!.tokenId, T0 + 4);
      expect((await store.admit(T0 + 5)).admitted).toBe(1);
      await store.seed({ activeLimit: 0, paused: false, version: 2 });
      expect((await store.stats(T0 + 5)).activeLimit).toBe(0);
      // An older copy of the settings never replaces a newer one.
      await store.seed({ activeLimit: 7, paused: true, version: 1 });
      expect(await store.stats(T0 + 5)).toMatchObject({ activeLimit: 0, paused: false });
    });

    it('counts admissions of the last minute only', async () => {
      const store = await open({ activeLimit: 10 });
      await joinMany(store, 3);
      await store.admit(T0);
      await joinMany(store, 2, T0 + 30_000);
      await store.admit(T0 + 30_000);
      expect(await store.stats(T0 + 30_000)).toMatchObject({ admittedPerMinute: 5, active: 2, waiting: 0 });
      expect((await store.stats(T0 + 61_000)).admittedPerMinute).toBe(2);
    });

    it('reports waiting and active counts', async () => {
      const store = await open({ activeLimit: 1 });
      await joinMany(store, 3);
      await store.admit(T0);
      expect(await store.stats(T0)).toMatchObject({ waiting: 2, active: 1, activeLimit: 1, paused: false });
    });

    it('tells listeners when admission changes the line', async () => {
      const store = await open({ activeLimit: 1 });
      let calls = 0;
      const off = store.onChange(() => calls++);
      const [a] = await joinMany(store, 2);
      await store.admit(T0);
      await expect.poll(() => calls, { timeout: 2_000 }).toBeGreaterThan(0);
      const before = calls;
      await store.expire(a!.tokenId, T0 + 1);
      await expect.poll(() => calls, { timeout: 2_000 }).toBeGreaterThan(before);
      off();
    });

    it('remembers why each token ended: PAID, TURN_OVER or IDLE, and a second ending keeps the first reason', async () => {
      const store = await open({ activeLimit: 1 });
      const [paid, turnOver, idle] = await joinMany(store, 3);
      await store.admit(T0);
      expect((await store.get(paid!.tokenId, T0, false))!.reason).toBeUndefined();
      await store.expire(paid!.tokenId, T0 + 1);
      expect(await store.get(paid!.tokenId, T0 + 2, false)).toMatchObject({ status: 'EXPIRED', reason: 'PAID' });
      // `turnOver` keeps its place by polling and is admitted; `idle` is never seen again.
      await store.get(turnOver!.tokenId, T0 + 4_000, true);
      expect((await store.admit(T0 + 4_500)).admitted).toBe(1);
      expect(await store.get(idle!.tokenId, T0 + 6_000, false)).toMatchObject({ status: 'EXPIRED', reason: 'IDLE' });
      // The ACTIVE turn runs out: admission ends it (and so does a read of it after its time).
      await store.admit(T0 + 4_500 + timings.activeTtlMs);
      expect(await store.get(turnOver!.tokenId, T0 + 4_500 + timings.activeTtlMs, false)).toMatchObject({ status: 'EXPIRED', reason: 'TURN_OVER' });
      await store.expire(turnOver!.tokenId, T0 + 20_000);
      expect((await store.get(turnOver!.tokenId, T0 + 20_000, false))!.reason).toBe('TURN_OVER');
    });

    it('ends an ACTIVE token read after its time as TURN_OVER, before any admission pass has run', async () => {
      const store = await open({ activeLimit: 1 });
      const [a] = await joinMany(store, 1);
      await store.admit(T0);
      expect(await store.get(a!.tokenId, T0 + timings.activeTtlMs, false)).toMatchObject({ status: 'EXPIRED', reason: 'TURN_OVER' });
    });

    it("says in every token's state whether its line is paused and what the operator tells it, and wakes listeners when that changes", async () => {
      const store = await open({ activeLimit: 0 });
      const [a] = await joinMany(store, 1);
      expect(await store.get(a!.tokenId, T0, false)).toMatchObject({ paused: false, message: null });
      expect(await store.stats(T0)).toMatchObject({ paused: false, message: null });
      let calls = 0;
      const off = store.onChange(() => calls++);
      await store.seed({ activeLimit: 0, paused: true, message: 'Back at 20:00', version: 1 });
      await expect.poll(() => calls, { timeout: 2_000 }).toBeGreaterThan(0);
      expect(await store.get(a!.tokenId, T0 + 1, true)).toMatchObject({ paused: true, message: 'Back at 20:00' });
      expect(await store.stats(T0 + 1)).toMatchObject({ paused: true, message: 'Back at 20:00' });
      // A join sees it too, and an older copy of the settings changes nothing.
      expect((await store.join(randomUUID(), randomUUID(), T0 + 2)).state).toMatchObject({ paused: true, message: 'Back at 20:00' });
      await store.seed({ activeLimit: 0, paused: false, message: null, version: 1 });
      expect(await store.get(a!.tokenId, T0 + 3, false)).toMatchObject({ paused: true, message: 'Back at 20:00' });
      const before = calls;
      await store.seed({ activeLimit: 0, paused: false, message: null, version: 2 });
      await expect.poll(() => calls, { timeout: 2_000 }).toBeGreaterThan(before);
      expect(await store.get(a!.tokenId, T0 + 4, false)).toMatchObject({ paused: false, message: null });
      off();
    });

    it('answers null for a token it never issued, and forgets ended tokens after the retention time', async () => {
      const store = await open();
      expect(await store.get(randomUUID(), T0, false)).toBeNull();
      const [a] = await joinMany(store, 1);
      await store.expire(a!.tokenId, T0);
      expect((await store.get(a!.tokenId, T0 + 59_000, false))!.status).toBe('EXPIRED');
      await store.admit(T0 + 61_000);
      expect(await store.get(a!.tokenId, T0 + 61_000, false)).toBeNull();
    });

    it('when many instances admit at once, the active limit still holds', async () => {
      const store = await open({ activeLimit: 7 });
      const states = await joinMany(store, 30);
      const admitted = await Promise.all(Array.from({ length: 20 }, () => store.admit(T0)));
      expect(admitted.reduce((a, b) => a + b.admitted, 0)).toBe(7);
      expect((await store.stats(T0)).active).toBe(7);
      const active = await Promise.all(states.map((s) => store.get(s.tokenId, T0, false)));
      // Exactly the first seven in arrival order.
      expect(active.map((s) => s!.status === 'ACTIVE')).toEqual(states.map((_, i) => i < 7));
    });

    it('names the epoch of the line a token joined, and keeps it while the line lives', async () => {
      const store = await open();
      const { epoch } = await store.join(randomUUID(), randomUUID(), T0);
      expect(epoch).toMatch(/^[0-9a-f]{16}$/);
      expect(await store.currentEpoch()).toBe(epoch);
      expect(await store.seed({ activeLimit: 3, paused: false, version: 1 })).toBe(epoch);
      expect((await store.join(randomUUID(), randomUUID(), T0)).epoch).toBe(epoch);
    });

    it('when one user joins many times at once, they hold one place', async () => {
      const store = await open({ activeLimit: 0 });
      const userId = randomUUID();
      const results = await Promise.all(Array.from({ length: 20 }, () => store.join(userId, randomUUID(), T0)));
      expect(new Set(results.map((r) => r.state.tokenId)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect((await store.stats(T0)).waiting).toBe(1);
    });

    it('when many users join at once, each gets a distinct place', async () => {
      const store = await open({ activeLimit: 0 });
      const results = await Promise.all(Array.from({ length: 50 }, () => store.join(randomUUID(), randomUUID(), T0)));
      const positions = results.map((r) => r.state.position).sort((a, b) => a - b);
      expect(positions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });
  });
}

export type LinesFactory = (timings: QueueTimings, settings: QueueSettings) => Promise<QueueLines>;

/** What every store does with several lines and a sale's pre-queue, draw and end. */
export function describeQueueLines(name: string, makeLines: LinesFactory): void {
  describe(`${name} queue store with several lines`, () => {
    const opened: QueueLines[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((l) => l.close()));
    });
    async function open(): Promise<QueueLines> {
      const lines = await makeLines(timings, { activeLimit: 2, paused: false });
      opened.push(lines);
      return lines;
    }
    async function sale(lines: QueueLines, id: string, settings: Partial<LineSettings> = {}): Promise<QueueStore> {
      const store = lines.line(id);
      await store.seed({ activeLimit: 2, paused: false, version: 1, ...settings });
      return store;
    }
    async function joinMany(store: QueueStore, n: number, now = T0) {
      const states = [];
      for (let i = 0; i < n; i++) states.push((await store.join(randomUUID(), randomUUID(), now, randomUUID())).state);
      return states;
    }
    const statuses = async (store: QueueStore, ids: string[], now: number) => Promise.all(ids.map(async (id) => (await store.get(id, now, false))!.status));

    it('keeps lines apart: each has its own places, limit and admissions, and one user may stand in several', async () => {
      const lines = await open();
      const a = await sale(lines, 'sale:a', { activeLimit: 1 });
      const b = await sale(lines, 'sale:b', { activeLimit: 3 });
      const userId = randomUUID();
      const inA = await a.join(userId, randomUUID(), T0);
      const inB = await b.join(userId, randomUUID(), T0);
      expect(inA.created && inB.created).toBe(true);
      expect(inA.state.tokenId).not.toBe(inB.state.tokenId);
      await joinMany(a, 3);
      await joinMany(b, 3);
      expect((await a.admit(T0)).admitted).toBe(1);
      expect((await b.admit(T0)).admitted).toBe(3);
      expect(await a.stats(T0)).toMatchObject({ active: 1, waiting: 3, activeLimit: 1 });
      expect(await b.stats(T0)).toMatchObject({ active: 3, waiting: 1, activeLimit: 3 });
      expect((await lines.line('general').stats(T0)).waiting).toBe(0);
    });

    it('holds pre-queue joins without a place until the draw, then places them in the drawn order, with later joins behind in arrival order', async () => {
      const lines = await open();
      const opensAt = T0 + 1_000;
      const store = await sale(lines, 'sale:draw', { activeLimit: 2, opensAt });
      const pre = await joinMany(store, 3, T0);
      // Before the draw a pre-queue place is at most the pre-queue's size.
      for (const p of pre) expect((await store.get(p.tokenId, T0 + 10, false))!).toMatchObject({ status: 'WAITING', position: 3, drawRank: null });
      expect((await store.admit(T0 + 500)).admitted).toBe(0);
      const [late] = await joinMany(store, 1, opensAt);
      expect(late!.position).toBe(4);
      // The open has come but nobody is admitted before the draw.
      expect((await store.admit(opensAt + 1)).admitted).toBe(0);
      expect((await store.stats(opensAt + 1)).drawn).toBe(false);

      const entries = await store.closePrequeue(opensAt + 1);
      expect([...entries].sort()).toEqual(pre.map((p) => p.entryId).sort());
      // A join after the pre-queue closed goes to the back even with a clock that lags the open.
      const [lagging] = await joinMany(store, 1, T0 + 900);
      expect(lagging!.position).toBe(5);

      const order = [pre[2]!, pre[0]!, pre[1]!];
      expect(await store.applyDraw(order.map((p) => p.entryId))).toBe(true);
      expect(await store.applyDraw(pre.map((p) => p.entryId))).toBe(false);
      const placed = await Promise.all(order.map((p) => store.get(p.tokenId, opensAt + 2, false)));
      expect(placed.map((s) => [s!.position, s!.drawRank])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
      expect((await store.admit(opensAt + 3)).admitted).toBe(2);
      expect(
        await statuses(
          store,
          [...order, late!, lagging!].map((s) => s.tokenId),
          opensAt + 3,
        ),
      ).toEqual(['ACTIVE', 'ACTIVE', 'WAITING', 'WAITING', 'WAITING']);
      expect((await store.get(late!.tokenId, opensAt + 3, false))!.position).toBe(2);
    });

    it('leaves a pre-queue join that was abandoned by the open out of the draw', async () => {
      const lines = await open();
      const opensAt = T0 + 6_000;
      const store = await sale(lines, 'sale:abandoned', { opensAt });
      const [silent] = await joinMany(store, 1, T0);
      const [polling] = await joinMany(store, 1, T0 + 3_000);
      expect(await store.closePrequeue(opensAt)).toEqual([polling!.entryId]);
      expect(silent!.entryId).not.toBe(polling!.entryId);
    });

    it('ends a line as EXPIRED when its sale closes: live tokens read EXPIRED, and a later sold-out changes nothing', async () => {
      const lines = await open();
      const store = await sale(lines, 'sale:closed', { activeLimit: 1 });
      const [active, waiting] = await joinMany(store, 2);
      await store.admit(T0);
      await store.endLine(T0 + 1, 'EXPIRED');
      await store.endLine(T0 + 2, 'SOLD_OUT');
      expect(
        await statuses(
          store,
          [active!, waiting!].map((s) => s.tokenId),
          T0 + 3,
        ),
      ).toEqual(['EXPIRED', 'EXPIRED']);
      const reasons = await Promise.all([active!, waiting!].map(async (t) => (await store.get(t.tokenId, T0 + 3, false))!.reason));
      expect(reasons).toEqual(['SALE_CLOSED', 'SALE_CLOSED']);
      expect((await store.stats(T0 + 3)).ended).toBe(true);
    });

    it('admits at most the cap it is given', async () => {
      const lines = await open();
      const store = await sale(lines, 'sale:cap', { activeLimit: 10 });
      await joinMany(store, 5);
      expect((await store.admit(T0, 0)).admitted).toBe(0);
      expect((await store.admit(T0, 2)).admitted).toBe(2);
      expect((await store.stats(T0)).active).toBe(2);
    });

    it('counts the joins after the pre-queue, and admits only among the first joinedUpTo of them when told', async () => {
      const lines = await open();
      const opensAt = T0 + 1_000;
      const store = await sale(lines, 'sale:joined', { activeLimit: 10, opensAt });
      const early = await joinMany(store, 2, T0);
      expect(await store.joinedCount()).toBe(0);
      await store.applyDraw(await store.closePrequeue(opensAt));
      const later = await joinMany(store, 3, opensAt + 1);
      expect(await store.joinedCount()).toBe(3);
      // The drawn pre-queue and the first later join: the two after it joined too late for this pass.
      expect((await store.admit(opensAt + 2, Infinity, 1)).admitted).toBe(3);
      expect(
        await statuses(
          store,
          [...early, ...later].map((s) => s.tokenId),
          opensAt + 3,
        ),
      ).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE', 'WAITING', 'WAITING']);
      expect((await store.admit(opensAt + 4)).admitted).toBe(2);
    });

    it('ends a line for good: its WAITING and ACTIVE tokens read SOLD_OUT, a paid one stays EXPIRED, nobody joins', async () => {
      const lines = await open();
      const store = await sale(lines, 'sale:end', { activeLimit: 2 });
      const [paid, active, waiting] = await joinMany(store, 3);
      await store.admit(T0);
      await store.expire(paid!.tokenId, T0 + 1);
      await store.endLine(T0 + 2, 'SOLD_OUT');
      expect(
        await statuses(
          store,
          [paid!, active!, waiting!].map((s) => s.tokenId),
          T0 + 3,
        ),
      ).toEqual(['EXPIRED', 'SOLD_OUT', 'SOLD_OUT']);
      const reasons = await Promise.all([paid!, active!, waiting!].map(async (t) => (await store.get(t.tokenId, T0 + 3, false))!.reason));
      expect(reasons).toEqual(['PAID', 'SOLD_OUT', 'SOLD_OUT']);
      await expect(store.join(randomUUID(), randomUUID(), T0 + 4)).rejects.toBeInstanceOf(LineEndedError);
      expect(await store.stats(T0 + 4)).toMatchObject({ ended: true, waiting: 0, active: 0 });
      expect((await store.admit(T0 + 5)).admitted).toBe(0);
    });
  });
}

// The queue-store suite against Redis, plus what only a shared store can show: several instances on
// one prefix share one line. Runs when REDIS_URL is set; each store gets its own random prefix and its
// keys are deleted afterwards, so runs can share one Redis. With REDIS_CLUSTER=true, REDIS_URL names a
// Redis Cluster's seed nodes and the same tests run on the cluster.
import { randomUUID } from 'node:crypto';
import { tracingChannel } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { LineNotSeededError, type QueueSettings, type QueueStore, type QueueTimings } from '../../src/queue/queue.store.js';
import { queueKeys, RedisQueueLines, RedisQueueStore } from '../../src/queue/queue.store.redis.js';
import { masterNodes } from '../../src/redis/redis-client.js';
import { connectTestRedis, deleteRedisKeys } from '../helpers/redis-keys.js';
import { describeQueueLines, describeQueueStore } from './queue-store.suite.js';

const redisUrl = process.env.REDIS_URL;
const timings: QueueTimings = { activeTtlMs: 10_000, waitingIdleMs: 5_000, expiredRetentionMs: 60_000 };
const T0 = 1_800_000_000_000;

if (!redisUrl) {
  describe.skip('Redis queue store (skipped: set REDIS_URL to run it)', () => {
    it('runs the queue-store suite against Redis', () => {});
  });
} else {
  const url = redisUrl;
  const redis = { url, cluster: process.env.REDIS_CLUSTER === 'true' };
  const prefixes: string[] = [];

  function newPrefix(): string {
    const prefix = `test:${randomUUID()}:`;
    prefixes.push(prefix);
    return prefix;
  }

  const deleteKeys = (prefix: string) => deleteRedisKeys(url, prefix);

  // After each test, so every scan walks a keyspace without the previous tests' keys.
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) await deleteKeys(prefix);
  });

  describeQueueStore('Redis', (storeTimings, initial) => RedisQueueStore.connect({ redis, prefix: newPrefix(), timings: storeTimings, initial }));
  describeQueueLines('Redis', (storeTimings, initial) => RedisQueueLines.connect({ redis, prefix: newPrefix(), timings: storeTimings, initial }));

  /** What `run` sent to Redis about keys under `prefix`, by command name. */
  async function commandsOf<T>(prefix: string, run: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
    const commands: string[] = [];
    const channel = tracingChannel<unknown, { command: string; args: string[] }>('ioredis:command');
    const onStart = (ctx: { command: string; args: string[] }) => {
      if (ctx.args.some((arg) => arg.startsWith(prefix))) commands.push(ctx.command);
    };
    const noop = () => {};
    const handlers = { start: onStart, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
    channel.subscribe(handlers);
    try {
      return { result: await run(), commands };
    } finally {
      channel.unsubscribe(handlers);
    }
  }

  describe('Redis queue store shared by several instances', () => {
    const opened: QueueStore[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    async function open(prefix: string, settings: Partial<QueueSettings> = {}, walkBudget?: number) {
      const store = await RedisQueueStore.connect({
        redis,
        prefix,
        timings,
        initial: { activeLimit: 2, paused: false, ...settings },
        walkBudget,
      });
      opened.push(store);
      return store;
    }

    /** Joins `n` new users at once; the client pipelines the scripts on its connection. */
    async function joinMany(store: QueueStore, n: number, now = T0) {
      const states = [];
      for (let done = 0; done < n; done += 5_000) {
        const batch = Array.from({ length: Math.min(5_000, n - done) }, () => store.join(randomUUID(), randomUUID(), now));
        for (const result of await Promise.all(batch)) states.push(result.state);
      }
      return states;
    }

    it('a line joined on one instance is admitted by another and read back on the first', async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 2 });
      const b = await open(prefix, { activeLimit: 2 });
      const [first, second, third] = await joinMany(a, 3);
      expect((await b.admit(T0 + 10)).admitted).toBe(2);
      const states = await Promise.all([first, second, third].map((s) => a.get(s!.tokenId, T0 + 20, false)));
      expect(states.map((s) => [s!.status, s!.position])).toEqual([
        ['ACTIVE', 0],
        ['ACTIVE', 0],
        ['WAITING', 1],
      ]);
      // The same user asking through the other instance keeps their one place.
      const again = await b.join(third!.userId, randomUUID(), T0 + 30);
      expect(again).toMatchObject({ created: false, state: { tokenId: third!.tokenId, position: 1 } });
      expect(await a.stats(T0 + 30)).toMatchObject({ waiting: 1, active: 2, admittedPerMinute: 2 });
    });

    it('when instances admit at once, the active limit holds across all of them', async () => {
      const prefix = newPrefix();
      const stores = await Promise.all([1, 2, 3].map(() => open(prefix, { activeLimit: 5 })));
      const states = await joinMany(stores[0]!, 40);
      const admitted = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.admit(T0)));
      expect(admitted.reduce((x, y) => x + y.admitted, 0)).toBe(5);
      const read = await Promise.all(states.map((s) => stores[2]!.get(s.tokenId, T0, false)));
      expect(read.map((s) => s!.status === 'ACTIVE')).toEqual(states.map((_, i) => i < 5));
    });

    it('tells listeners on another instance when one instance admits or ends a token', async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 1 });
      const b = await open(prefix, { activeLimit: 1 });
      let calls = 0;
      b.onChange(() => calls++);
      const [first] = await joinMany(a, 2);
      await a.admit(T0);
      await expect.poll(() => calls, { timeout: 1_000 }).toBeGreaterThan(0);
      const before = calls;
      await a.expire(first!.tokenId, T0 + 1);
      await expect.poll(() => calls, { timeout: 1_000 }).toBeGreaterThan(before);
    });

    it("tells each line's listeners about their own line only, on every instance", async () => {
      const prefix = newPrefix();
      const lines = [
        await RedisQueueLines.connect({ redis, prefix, timings, initial: { activeLimit: 1, paused: false } }),
        await RedisQueueLines.connect({ redis, prefix, timings, initial: { activeLimit: 1, paused: false } }),
      ];
      try {
        const calls = { a: 0, b: 0 };
        lines[1]!.line('sale:a').onChange(() => calls.a++);
        lines[1]!.line('sale:b').onChange(() => calls.b++);
        const a = lines[0]!.line('sale:a');
        await a.seed({ activeLimit: 1, paused: false, version: 1 });
        await joinMany(a, 1);
        await a.admit(T0);
        await expect.poll(() => calls.a, { timeout: 1_000 }).toBeGreaterThan(0);
        expect(calls.b).toBe(0);
      } finally {
        await Promise.all(lines.map((l) => l.close()));
      }
    });

    it('shares settings: a newer version seeded on one instance is seen by all, and an older one never undoes it', async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 2 });
      const b = await open(prefix, { activeLimit: 2 });
      await a.seed({ activeLimit: 9, paused: true, version: 2 });
      expect(await b.stats(T0)).toMatchObject({ activeLimit: 9, paused: true });
      const restarted = await open(prefix, { activeLimit: 2, paused: false });
      await restarted.seed({ activeLimit: 4, paused: false, version: 1 });
      expect(await restarted.stats(T0)).toMatchObject({ activeLimit: 9, paused: true });
      await joinMany(a, 1);
      expect((await restarted.admit(T0)).admitted).toBe(0);
    });

    it('after Redis comes back empty: refuses to join or admit until re-seeded, then starts a new epoch that every instance notices', async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 5 });
      const b = await open(prefix, { activeLimit: 5 });
      const [before] = await joinMany(a, 1);
      const oldEpoch = await a.currentEpoch();
      expect(oldEpoch).toMatch(/^[0-9a-f]{16}$/);
      await b.admit(T0);
      let resets = 0;
      b.onReset(() => resets++);

      await deleteKeys(prefix);
      expect(await a.currentEpoch()).toBeNull();
      expect(await a.get(before!.tokenId, T0 + 1, false)).toBeNull();
      await expect(a.join(randomUUID(), randomUUID(), T0 + 1)).rejects.toBeInstanceOf(LineNotSeededError);
      await expect(b.admit(T0 + 1)).rejects.toBeInstanceOf(LineNotSeededError);
      // Lost, the line may have had a pre-queue: it is not drawn until re-seeded (and drawn again).
      expect((await b.stats(T0 + 1)).drawn).toBe(false);

      const newEpoch = await a.seed({ activeLimit: 1, paused: false, version: 3 });
      expect(newEpoch).not.toBe(oldEpoch);
      const [after, second] = await joinMany(a, 2, T0 + 2);
      expect(after!.position).toBe(1);
      expect((await b.admit(T0 + 3)).admitted).toBe(1);
      expect(resets).toBe(1);
      expect((await b.get(after!.tokenId, T0 + 3, false))!.status).toBe('ACTIVE');
      expect((await b.get(second!.tokenId, T0 + 3, false))!.status).toBe('WAITING');
    });

    it('keeps working after Redis loses its script cache (restart or failover)', async () => {
      const prefix = newPrefix();
      const store = await open(prefix, { activeLimit: 1 });
      const [first] = await joinMany(store, 1);
      const client = await connectTestRedis(url);
      try {
        for (const node of masterNodes(client)) await node.script('FLUSH');
      } finally {
        client.disconnect();
      }
      expect((await store.admit(T0)).admitted).toBe(1);
      expect((await store.get(first!.tokenId, T0, true))!.status).toBe('ACTIVE');
    });

    it('walks a long stretch of abandoned tokens over several bounded script calls', async () => {
      const prefix = newPrefix();
      const store = await open(prefix, { activeLimit: 1 }, 10);
      const abandoned = await joinMany(store, 95);
      const [live] = await joinMany(store, 1, T0 + timings.waitingIdleMs);
      expect(live!.position).toBe(96);
      expect((await store.admit(T0 + timings.waitingIdleMs)).admitted).toBe(1);
      expect((await store.get(live!.tokenId, T0 + timings.waitingIdleMs, false))!.status).toBe('ACTIVE');
      expect((await store.get(abandoned[0]!.tokenId, T0 + timings.waitingIdleMs, false))!.status).toBe('EXPIRED');
      expect((await store.stats(T0 + timings.waitingIdleMs)).waiting).toBe(0);
    });

    it('answers a poll with one script call and an exact position, with 100k in line', async () => {
      const prefix = newPrefix();
      const store = await open(prefix, { activeLimit: 0 });
      const states = await joinMany(store, 100_000);
      const last = states.at(-1)!;

      const { result: polled, commands } = await commandsOf(prefix, () => store.get(last.tokenId, T0 + 1_000, true));
      expect(polled).toMatchObject({ status: 'WAITING', position: 100_000, expiresAt: T0 + 1_000 + timings.waitingIdleMs });
      expect(commands).toEqual(['evalsha']);

      await store.seed({ activeLimit: 3, paused: false, version: 1 });
      expect((await store.admit(T0 + 2_000)).admitted).toBe(3);
      expect((await store.get(last.tokenId, T0 + 2_000, true))!.position).toBe(99_997);
      expect((await store.stats(T0 + 2_000)).waiting).toBe(99_997);
    });

    it('answers polls of the tokens it knows from its copy of the line: under 0.1 Redis commands a poll', async () => {
      const prefix = newPrefix();
      const store = await open(prefix, { activeLimit: 0 });
      const states = await joinMany(store, 20);
      await store.admit(T0);
      const epoch = (await store.currentEpoch())!;
      const claims = states.map((s) => ({ tokenId: s.tokenId, userId: s.userId, seq: s.seq, epoch }));
      const { result, commands } = await commandsOf(prefix, async () => {
        const positions: number[] = [];
        for (let round = 0; round < 50; round++) {
          for (const c of claims) positions.push((await store.poll(c, T0 + round))!.position);
        }
        return positions;
      });
      expect(result.slice(0, 20)).toEqual(states.map((_, i) => i + 1));
      expect(commands.length / result.length).toBeLessThan(0.1);
    });

    it('shows the tokens its own admission made ACTIVE without reading them back, until they end elsewhere', async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 0 });
      const b = await open(prefix, { activeLimit: 0 });
      const states = await joinMany(a, 30);
      await a.admit(T0);
      const epoch = (await a.currentEpoch())!;
      const claims = states.map((s) => ({ tokenId: s.tokenId, userId: s.userId, seq: s.seq, epoch }));
      await a.seed({ activeLimit: 20, paused: false, version: 1 });
      expect((await a.admit(T0 + 10)).admitted).toBe(20);
      // pollNow answers from memory or not at all: the copy vouches for them, ACTIVE until the turn the
      // call gave, with no read of any of them.
      const polls = claims.map((c) => a.pollNow(c, T0 + 20));
      expect(polls.slice(0, 20).map((s) => s?.status)).toEqual(Array(20).fill('ACTIVE'));
      expect(polls[0]!.expiresAt).toBe(T0 + 10 + timings.activeTtlMs);
      expect(polls.slice(20).map((s) => s?.position)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));

      // Paid for on the other instance: the copy stops vouching once it hears, and reads Redis instead.
      await b.expire(states[0]!.tokenId, T0 + 30);
      await expect.poll(() => a.pollNow(claims[0]!, T0 + 40), { timeout: 2_000 }).toBeUndefined();
      expect(await a.poll(claims[0]!, T0 + 40)).toMatchObject({ status: 'EXPIRED', reason: 'PAID' });
    });

    it("a poll on one instance shows another instance's admission as soon as it hears of the change", async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 0 });
      const b = await open(prefix, { activeLimit: 0 });
      const [first] = await joinMany(a, 3);
      await a.admit(T0);
      const claims = { tokenId: first!.tokenId, userId: first!.userId, seq: first!.seq, epoch: (await a.currentEpoch())! };
      expect(await a.poll(claims, T0 + 1)).toMatchObject({ status: 'WAITING', position: 1 });
      // What a stream reads when told of a change: the copy must already hold the change.
      const seen: string[] = [];
      a.onChange(() => {
        void a.poll(claims, T0 + 20).then((s) => seen.push(s!.status));
      });
      await b.seed({ activeLimit: 1, paused: false, version: 1 });
      await b.admit(T0 + 10);
      await expect.poll(() => seen, { timeout: 2_000 }).toContain('ACTIVE');
    });

    it('writes the touches of polls it answered, so another instance does not take a polling fan for gone', async () => {
      const prefix = newPrefix();
      const a = await open(prefix, { activeLimit: 0 });
      const b = await open(prefix, { activeLimit: 0 });
      const [fan] = await joinMany(a, 1);
      await a.admit(T0);
      const claims = { tokenId: fan!.tokenId, userId: fan!.userId, seq: fan!.seq, epoch: (await a.currentEpoch())! };
      // From the copy (no round trip), and written in the next batch.
      const { commands } = await commandsOf(prefix, () => a.poll(claims, T0 + 2_000));
      expect(commands).toEqual([]);
      const redis = await connectTestRedis(url);
      try {
        await expect.poll(() => redis.hget(queueKeys(prefix).token(fan!.tokenId), 'lastSeenAt'), { timeout: 2_000 }).toBe(String(T0 + 2_000));
      } finally {
        redis.disconnect();
      }
      // Silent since the join by now, but seen by `a` within the idle time: admitted, not abandoned.
      await b.seed({ activeLimit: 1, paused: false, version: 1 });
      expect(await b.admit(T0 + timings.waitingIdleMs + 1_000)).toMatchObject({ admitted: 1, abandoned: 0 });
    });
  });
}

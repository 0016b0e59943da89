// One fair line across three instances: arrival numbers come from Redis, so users joining through
// different instances queue in the order they arrived, and admission follows that order without ever
// letting more than the limit in, whichever instance runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, expectStatus, join, poll, queueStatsEverywhere, startCluster, waitFor, type Cluster, type QueueStats } from './harness.js';

const USERS = 30;

describe('three instances, one line', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ env: { QUEUE_ACTIVE_LIMIT: '0' } });
  });
  afterAll(() => cluster?.stop());

  it('30 users joining through different instances are placed and admitted in arrival order, never above the limit', async () => {
    const n = cluster.instances.length;
    const users: { userId: string; token: string }[] = [];
    for (let i = 0; i < USERS; i++) {
      const userId = await createUser(cluster);
      const joined = expectStatus(await join(cluster, userId, i % n), 201, `join #${i + 1}`);
      expect(joined, `join #${i + 1} through instance ${i % n}`).toMatchObject({ status: 'WAITING', position: i + 1 });
      users.push({ userId, token: joined.token });
    }
    // Asking again through another instance gives the same token and place.
    const again = expectStatus(await join(cluster, users[4]!.userId, 2), 200, 'join again');
    expect(again).toMatchObject({ token: users[4]!.token, position: 5 });

    /** Polls every user, each through another instance than it joined on. */
    const line = async () => Promise.all(users.map(async (u, i) => expectStatus(await poll(cluster, u.token, (i + 1) % n), 200, `poll #${i + 1}`)));
    expect((await line()).map((s) => s.position)).toEqual(users.map((_, i) => i + 1));

    const checkLimit = async () => {
      for (const stats of await queueStatsEverywhere(cluster)) {
        expect(stats.active, JSON.stringify(stats)).toBeLessThanOrEqual(stats.activeLimit);
      }
    };

    let step = 0;
    for (const limit of [1, 2, 3, 5, 10, 20, USERS]) {
      const reply = await cluster.call<QueueStats>('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: limit }, via: step++ % n });
      expect(expectStatus(reply, 200, 'PATCH queue').activeLimit).toBe(limit);
      // The first `limit` arrivals are ACTIVE, the rest keep their order, moved up by `limit`.
      const expected = users.map((_, i) => (i < limit ? { status: 'ACTIVE', position: 0 } : { status: 'WAITING', position: i + 1 - limit }));
      await waitFor(async () => {
        const seen = await line();
        const actives = seen.filter((s) => s.status === 'ACTIVE').length;
        expect(actives, `ACTIVE while the limit is ${limit}`).toBeLessThanOrEqual(limit);
        await checkLimit();
        expect(seen.map((s) => ({ status: s.status, position: s.position }))).toEqual(expected);
      }, 2_000);
      // Settled: every instance reports the same numbers.
      const everywhere = await queueStatsEverywhere(cluster);
      for (const stats of everywhere) {
        expect(stats).toMatchObject({ active: limit, activeLimit: limit, waiting: USERS - limit, paused: false });
      }
    }
  });

  it('a pause set through one instance stops admission on all of them', async () => {
    const n = cluster.instances.length;
    expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { paused: true }, via: 0 }), 200);
    const before = await queueStatsEverywhere(cluster);
    for (const stats of before) expect(stats.paused).toBe(true);
    const limit = before[0]!.active + 5;
    expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: limit }, via: 1 }), 200);

    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) waiting.push(expectStatus(await join(cluster, await createUser(cluster), i % n), 201).token);
    // Several admission ticks of every instance pass; nobody moves in while paused.
    const until = Date.now() + 600;
    while (Date.now() < until) {
      for (const [i, token] of waiting.entries()) expect(expectStatus(await poll(cluster, token), 200)).toMatchObject({ status: 'WAITING', position: i + 1 });
    }

    expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { paused: false }, via: 2 }), 200);
    await waitFor(async () => {
      for (const token of waiting) expect(expectStatus(await poll(cluster, token), 200).status).toBe('ACTIVE');
    }, 2_000);
  });
});

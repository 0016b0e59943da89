// Losing an instance mid-sale: holds and payments live in PostgreSQL and the line lives in Redis, so a
// SIGKILLed instance takes nothing with it. The survivors serve every token, hold and payment made
// through it, keep admitting in order, and the instance restarted on its port rejoins the same sale.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConcert,
  createUser,
  expectError,
  expectStatus,
  join,
  poll,
  queueStatsEverywhere,
  startCluster,
  waitFor,
  type Cluster,
  type Reply,
} from './harness.js';

const VICTIM = 1;
const SURVIVORS = [0, 2];
const LIMIT = 5;
const PRICE = 10_000;

interface Fan {
  userId: string;
  token: string;
}

describe('three instances, one killed', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ env: { QUEUE_ACTIVE_LIMIT: String(LIMIT), QUEUE_WAITING_IDLE_SECONDS: '60' } });
  });
  afterAll(() => cluster?.stop());

  it('SIGKILL of one instance loses no hold, payment or place in line, and a restart on its port rejoins', async () => {
    const n = cluster.instances.length;
    const { concertId, date } = await createConcert(cluster, 20, PRICE);

    // Five buyers fill the five slots, top up and hold seats 1..5, each through another instance.
    const buyers: Fan[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const userId = await createUser(cluster);
      const token = expectStatus(await join(cluster, userId, i % n), 201).token;
      buyers.push({ userId, token });
    }
    await waitFor(async () => {
      for (const b of buyers) expect(expectStatus(await poll(cluster, b.token), 200).status).toBe('ACTIVE');
    });
    const holds: string[] = [];
    for (const [i, b] of buyers.entries()) {
      expectStatus(
        await cluster.call('POST', `/api/v1/users/${b.userId}/points/charge`, { token: b.token, body: { amount: 5 * PRICE }, via: (i + 1) % n }),
        200,
      );
      const held = await cluster.call('POST', '/api/v1/reservations', {
        token: b.token,
        body: { userId: b.userId, concertId, date, seatNumber: i + 1 },
        via: i % n,
      });
      holds.push(expectStatus(held, 201, `hold seat ${i + 1}`).reservationId);
    }

    // Ten fans wait in line, joined through all three instances.
    const waiters: Fan[] = [];
    for (let i = 0; i < 10; i++) {
      const userId = await createUser(cluster);
      const joined = expectStatus(await join(cluster, userId, i % n), 201);
      expect(joined).toMatchObject({ status: 'WAITING', position: i + 1 });
      waiters.push({ userId, token: joined.token });
    }

    // Two buyers pay, one of them through the instance that is about to die; two waiters move in.
    const paymentKeys = [randomUUID(), randomUUID()];
    const payments = [];
    for (const [i, via] of [0, VICTIM].entries()) {
      const b = buyers[i]!;
      const reply = await cluster.call('POST', '/api/v1/payments', {
        token: b.token,
        headers: { 'idempotency-key': paymentKeys[i]! },
        body: { userId: b.userId, reservationId: holds[i] },
        via,
      });
      payments.push(expectStatus(reply, 201, `payment ${i + 1}`));
    }
    await waitFor(async () => {
      for (const w of waiters.slice(0, 2)) expect(expectStatus(await poll(cluster, w.token), 200).status).toBe('ACTIVE');
    });
    const stillWaiting = waiters.slice(2);

    // The sale goes on while the victim dies: fans keep polling through every instance.
    const survivorReplies: Reply[] = [];
    let polling = true;
    const load = (async () => {
      for (let i = 0; polling; i++) {
        const w = stillWaiting[i % stillWaiting.length]!;
        const via = i % n;
        if (!cluster.instances[via]!.alive) continue;
        try {
          const reply = await poll(cluster, w.token, via);
          if (via !== VICTIM) survivorReplies.push(reply);
        } catch (error) {
          // Only the victim may drop a request; a survivor failing is a finding.
          if (via !== VICTIM) survivorReplies.push({ status: 0, body: String(error), via });
        }
      }
    })();
    await waitFor(() => expect(survivorReplies.length).toBeGreaterThan(20));
    await cluster.kill(VICTIM);
    expect(cluster.instances[VICTIM]!.alive).toBe(false);
    const afterKill = survivorReplies.length;
    await waitFor(() => expect(survivorReplies.length).toBeGreaterThan(afterKill + 20));
    polling = false;
    await load;
    expect(survivorReplies.filter((r) => r.status !== 200)).toEqual([]);

    for (const via of SURVIVORS) {
      // Payments made before the kill, including the one through the victim: a retry answers the first payment.
      for (const [i, key] of paymentKeys.entries()) {
        const b = buyers[i]!;
        const retry = await cluster.call('POST', '/api/v1/payments', {
          token: b.token,
          headers: { 'idempotency-key': key },
          body: { userId: b.userId, reservationId: holds[i] },
          via,
        });
        expect(expectStatus(retry, 201, `payment ${i + 1} retried on ${via}`)).toEqual(payments[i]);
        expectError(await poll(cluster, b.token, via), 401, 'TOKEN_EXPIRED');
      }
      // Holds made before the kill are still held, and none of the five seats is for sale.
      for (const [i, b] of buyers.entries()) {
        if (i < 2) continue;
        const reservation = expectStatus(await cluster.call('GET', `/api/v1/reservations/${holds[i]}`, { token: b.token, via }), 200);
        expect(reservation).toMatchObject({ status: 'HELD', seatNumber: i + 1 });
      }
      const seats = expectStatus(await cluster.call('GET', `/api/v1/concerts/${concertId}/dates/${date}/seats`, { token: buyers[2]!.token, via }), 200);
      expect(seats.seats.map((s: { number: number }) => s.number)).toEqual(Array.from({ length: 15 }, (_, i) => i + 6));
      // Every waiting fan keeps the same token and place.
      for (const [i, w] of stillWaiting.entries()) {
        expect(expectStatus(await poll(cluster, w.token, via), 200)).toMatchObject({ status: 'WAITING', position: i + 1 });
      }
      const again = expectStatus(await join(cluster, stillWaiting[3]!.userId, via), 200);
      expect(again).toMatchObject({ token: stillWaiting[3]!.token, position: 4 });
    }
    for (const stats of await queueStatsEverywhere(cluster)) expect(stats).toMatchObject({ active: LIMIT, waiting: stillWaiting.length, activeLimit: LIMIT });

    // The survivors carry the sale on: three more payments free three slots for the next three in line.
    for (const i of [2, 3, 4]) {
      const b = buyers[i]!;
      const reply = await cluster.call('POST', '/api/v1/payments', {
        token: b.token,
        body: { userId: b.userId, reservationId: holds[i] },
        via: SURVIVORS[i % 2],
      });
      expect(expectStatus(reply, 201, `payment ${i + 1}`).balance).toBe(4 * PRICE);
    }
    await waitFor(async () => {
      const seen = await Promise.all(stillWaiting.map(async (w, i) => expectStatus(await poll(cluster, w.token, SURVIVORS[i % 2]), 200)));
      expect(seen.map((s) => [s.status, s.position])).toEqual(stillWaiting.map((_, i) => (i < 3 ? ['ACTIVE', 0] : ['WAITING', i - 2])));
    }, 2_000);

    // Restarted on the same port, the instance serves the same sale: the same line, payments and settings.
    await cluster.restart(VICTIM);
    const back = stillWaiting.slice(3);
    for (const [i, w] of back.entries()) {
      expect(expectStatus(await poll(cluster, w.token, VICTIM), 200)).toMatchObject({ status: 'WAITING', position: i + 1 });
    }
    const retried = await cluster.call('POST', '/api/v1/payments', {
      token: buyers[1]!.token,
      headers: { 'idempotency-key': paymentKeys[1]! },
      body: { userId: buyers[1]!.userId, reservationId: holds[1] },
      via: VICTIM,
    });
    expect(expectStatus(retried, 201)).toEqual(payments[1]);
    for (const stats of await queueStatsEverywhere(cluster)) expect(stats).toMatchObject({ active: LIMIT, waiting: back.length, activeLimit: LIMIT });

    // And it takes part in admission again: a limit raised through it lets exactly the next one in.
    expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: LIMIT + 1 }, via: VICTIM }), 200);
    await waitFor(async () => {
      const seen = await Promise.all(back.map(async (w) => expectStatus(await poll(cluster, w.token, VICTIM), 200)));
      expect(seen.map((s) => [s.status, s.position])).toEqual(back.map((_, i) => (i === 0 ? ['ACTIVE', 0] : ['WAITING', i])));
    }, 2_000);
  });
});

// A whole purchase with every step on another instance, as a load balancer without sticky sessions
// would spread it, and Idempotency-Key retries landing on other instances than the first try.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConcert, createUser, expectError, expectStatus, join, poll, startCluster, waitFor, type Cluster } from './harness.js';

const A = 0;
const B = 1;
const C = 2;
const PRICE = 70_000;

describe('three instances, one purchase', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ env: { QUEUE_ACTIVE_LIMIT: '10' } });
  });
  afterAll(() => cluster?.stop());

  it('join on A, poll on B, top up on C, hold on C, pay on A; retries on B and C charge and pay once', async () => {
    const { concertId, date } = await createConcert(cluster, 8, PRICE);
    const userId = await createUser(cluster, B);
    const token = expectStatus(await join(cluster, userId, A), 201).token;
    await waitFor(async () => expect(expectStatus(await poll(cluster, token, B), 200)).toMatchObject({ userId, status: 'ACTIVE', position: 0 }));

    // The same top-up sent to all three instances at once, and retried later: one charge.
    const chargeKey = randomUUID();
    const topUp = (via: number) =>
      cluster.call('POST', `/api/v1/users/${userId}/points/charge`, { token, headers: { 'idempotency-key': chargeKey }, body: { amount: 100_000 }, via });
    const concurrent = await Promise.all([A, B, C].map(topUp));
    for (const r of concurrent) {
      if (r.status === 409) expect(r.body.error.code).toBe('REQUEST_IN_PROGRESS');
      else expect(expectStatus(r, 200)).toEqual({ userId, balance: 100_000 });
    }
    expect(expectStatus(await topUp(C), 200)).toEqual({ userId, balance: 100_000 });
    expect(expectStatus(await cluster.call('GET', `/api/v1/users/${userId}/points`, { token, via: A }), 200)).toEqual({ userId, balance: 100_000 });

    const dates = expectStatus(await cluster.call('GET', `/api/v1/concerts/${concertId}/dates`, { token, via: B }), 200);
    expect(dates.dates).toEqual([expect.objectContaining({ date, totalSeats: 8, availableSeats: 8 })]);
    const held = expectStatus(await cluster.call('POST', '/api/v1/reservations', { token, body: { userId, concertId, date, seatNumber: 3 }, via: C }), 201);
    expect(expectStatus(await cluster.call('GET', `/api/v1/reservations/${held.reservationId}`, { token, via: A }), 200).status).toBe('HELD');

    const payKey = randomUUID();
    const pay = (via: number) =>
      cluster.call('POST', '/api/v1/payments', { token, headers: { 'idempotency-key': payKey }, body: { userId, reservationId: held.reservationId }, via });
    const payment = expectStatus(await pay(A), 201, 'pay on A');
    expect(payment).toMatchObject({ reservationId: held.reservationId, userId, amount: PRICE, balance: 100_000 - PRICE });
    // Retried on the other instances after the token ended: the first answer, nothing charged again.
    expect(expectStatus(await pay(B), 201, 'retry on B')).toEqual(payment);
    expect(expectStatus(await pay(C), 201, 'retry on C')).toEqual(payment);
    // Without the key, the same payment is refused on any instance: the token ended with the payment.
    for (const via of [A, B, C]) {
      const again = await cluster.call('POST', '/api/v1/payments', { token, body: { userId, reservationId: held.reservationId }, via });
      expectError(again, 401, 'TOKEN_EXPIRED', `token after payment on ${via}`);
    }

    // Back in line with a new token, the user sees one payment's worth gone and the seat sold everywhere.
    const rejoined = await join(cluster, userId, B);
    expect(rejoined.status).toBe(201);
    expect(rejoined.body.token).not.toBe(token);
    await waitFor(async () => expect(expectStatus(await poll(cluster, rejoined.body.token, C), 200).status).toBe('ACTIVE'));
    for (const via of [A, B, C]) {
      const fresh = rejoined.body.token;
      expect(expectStatus(await cluster.call('GET', `/api/v1/users/${userId}/points`, { token: fresh, via }), 200).balance).toBe(100_000 - PRICE);
      expect(expectStatus(await cluster.call('GET', `/api/v1/reservations/${held.reservationId}`, { token: fresh, via }), 200).status).toBe('CONFIRMED');
      const seats = expectStatus(await cluster.call('GET', `/api/v1/concerts/${concertId}/dates/${date}/seats`, { token: fresh, via }), 200);
      expect(seats.seats.map((s: { number: number }) => s.number)).toEqual([1, 2, 4, 5, 6, 7, 8]);
    }
  });
});

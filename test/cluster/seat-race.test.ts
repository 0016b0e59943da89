// One seat, 300 buyers, three instances: the database decides, so exactly one hold wins wherever the
// requests land, and every instance stops listing the seat at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConcert, createUser, expectStatus, join, mapLimit, poll, startCluster, waitFor, type Cluster } from './harness.js';

const BUYERS = 300;

describe('three instances, one seat', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ env: { QUEUE_ACTIVE_LIMIT: '1000' } });
  });
  afterAll(() => cluster?.stop());

  it('when 300 users spread over three instances hold the same seat at once, exactly one wins', async () => {
    const { concertId, date } = await createConcert(cluster, 10);
    const buyers = await mapLimit(Array.from({ length: BUYERS }), 16, async () => {
      const userId = await createUser(cluster);
      const token = expectStatus(await join(cluster, userId), 201, 'join').token;
      return { userId, token };
    });
    // Everyone is ACTIVE (the limit is far above 300) before the race starts.
    await mapLimit(buyers, 16, (b) => waitFor(async () => expect(expectStatus(await poll(cluster, b.token), 200).status).toBe('ACTIVE')));

    const seatNumber = 7;
    const replies = await Promise.all(
      buyers.map((b, i) =>
        cluster.call('POST', '/api/v1/reservations', {
          via: i % cluster.instances.length,
          token: b.token,
          body: { userId: b.userId, concertId, date, seatNumber },
        }),
      ),
    );

    const won = replies.filter((r) => r.status === 201);
    const lost = replies.filter((r) => r.status === 409);
    expect(won, JSON.stringify(replies.filter((r) => r.status !== 409).map((r) => [r.status, r.body]))).toHaveLength(1);
    expect(lost).toHaveLength(BUYERS - 1);
    for (const r of lost) expect(r.body.error.code).toBe('SEAT_UNAVAILABLE');
    // The race really was spread: every instance answered a share of it.
    expect(new Set(replies.map((r) => r.via)).size).toBe(cluster.instances.length);

    const winner = buyers[replies.indexOf(won[0]!)]!;
    const reservation = won[0]!.body;
    expect(reservation).toMatchObject({ userId: winner.userId, concertId, date, seatNumber, status: 'HELD' });

    for (const instance of cluster.instances) {
      const anyone = buyers[(instance.index * 7) % BUYERS]!;
      const seats = expectStatus(
        await cluster.call('GET', `/api/v1/concerts/${concertId}/dates/${date}/seats`, { token: anyone.token, via: instance.index }),
        200,
      );
      expect(seats.seats.map((s: { number: number }) => s.number)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10]);
      const dates = expectStatus(await cluster.call('GET', `/api/v1/concerts/${concertId}/dates`, { token: anyone.token, via: instance.index }), 200);
      expect(dates.dates).toEqual([expect.objectContaining({ date, totalSeats: 10, availableSeats: 9 })]);
      const held = expectStatus(
        await cluster.call('GET', `/api/v1/reservations/${reservation.reservationId}`, { token: winner.token, via: instance.index }),
        200,
      );
      expect(held).toMatchObject({ reservationId: reservation.reservationId, status: 'HELD', seatNumber });
    }
  });
});

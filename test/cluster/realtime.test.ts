// Realtime across instances: a Server-Sent Events stream open on one instance learns within 1 s of an
// admission another instance made. The streams' own heartbeat re-check comes only every 15 s here, so
// only the shared change channel can deliver the news in time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConcert, createUser, expectStatus, join, openEvents, startCluster, type Cluster, type EventStream } from './harness.js';

const A = 0;
const B = 1;
const C = 2;

describe('three instances, one stream', () => {
  let cluster: Cluster;
  const streams: EventStream[] = [];
  beforeAll(async () => {
    cluster = await startCluster({
      env: { QUEUE_ACTIVE_LIMIT: '0', QUEUE_WAITING_IDLE_SECONDS: '60' },
      // B and C run their own admission loop rarely (2 s, the slowest allowed), so the admissions below
      // are made by A: by its PATCH handler, its payment handler or its 100 ms loop.
      instanceEnv: { [B]: { QUEUE_TICK_MS: '2000' }, [C]: { QUEUE_TICK_MS: '2000' } },
    });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await cluster?.stop();
  });

  it('a stream on B sees an admission caused on A within 1 s, and one on C sees the slot a payment on A freed', async () => {
    const first = await createUser(cluster);
    const second = await createUser(cluster);
    const firstToken = expectStatus(await join(cluster, first, A), 201).token;
    const secondToken = expectStatus(await join(cluster, second, C), 201).token;

    const onB = await openEvents(cluster, firstToken, B);
    const onC = await openEvents(cluster, secondToken, C);
    streams.push(onB, onC);
    // The current state comes first, as soon as the stream opens.
    expect((await onB.next(() => true)).data).toMatchObject({ userId: first, status: 'WAITING', position: 1 });
    expect((await onC.next(() => true)).data).toMatchObject({ userId: second, status: 'WAITING', position: 2 });

    // A limit change through A: A admits the first user; B's stream must hear of it.
    const patched = await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: 1 }, via: A });
    const admittedAt = Date.now();
    expectStatus(patched, 200);
    const admitted = await onB.next((d) => d.status === 'ACTIVE', 3_000);
    expect(admitted.data).toMatchObject({ userId: first, status: 'ACTIVE', position: 0 });
    expect(admitted.at - admittedAt, 'ms from the PATCH answer on A to the event on B').toBeLessThan(1_000);
    // The second user moved up, and C's stream says so.
    const movedUp = await onC.next((d) => d.position === 1, 3_000);
    expect(movedUp.at - admittedAt, 'ms from the PATCH answer on A to the event on C').toBeLessThan(1_000);

    // The first user buys a seat, each step through another instance; the payment goes through A.
    const { concertId, date } = await createConcert(cluster, 5, 30_000);
    expectStatus(await cluster.call('POST', `/api/v1/users/${first}/points/charge`, { token: firstToken, body: { amount: 30_000 }, via: C }), 200);
    const held = expectStatus(
      await cluster.call('POST', '/api/v1/reservations', { token: firstToken, body: { userId: first, concertId, date, seatNumber: 1 }, via: B }),
      201,
    );
    const paid = await cluster.call('POST', '/api/v1/payments', { token: firstToken, body: { userId: first, reservationId: held.reservationId }, via: A });
    const paidAt = Date.now();
    expectStatus(paid, 201, 'pay');

    // The paid token's stream on B says EXPIRED and ends; the freed slot reaches the stream on C.
    const expired = await onB.next((d) => d.status === 'EXPIRED', 3_000);
    expect(expired.at - paidAt, 'ms from the payment answer on A to EXPIRED on B').toBeLessThan(1_000);
    await onB.ended;
    const secondIn = await onC.next((d) => d.status === 'ACTIVE', 3_000);
    expect(secondIn.data).toMatchObject({ userId: second, status: 'ACTIVE', position: 0 });
    expect(secondIn.at - paidAt, 'ms from the payment answer on A to ACTIVE on C').toBeLessThan(1_000);
  });
});

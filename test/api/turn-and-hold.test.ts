// The fan's side tells the truth (issue 11): a hold never outlives its token's turn, a token holds one
// seat at a time, a token's end gives back what it held at once, a token's views say whether its line is
// paused, what the operator tells it and why it ended, and its stream keeps the estimate fresh. Runs on
// the embedded database and in-process line, or on PostgreSQL and Redis when DATABASE_URL and REDIS_URL
// are set; the claims about instances run on two apps sharing one database and one line.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { MemoryListingVersions } from '../../src/concerts/listing-versions.js';
import type { QueueLines } from '../../src/queue/queue.store.js';
import { createQueueLines } from '../../src/queue/queue.store.factory.js';
import { verifyToken } from '../../src/queue/queue-token.js';
import { holdSeatRow } from '../../src/reservations/reservation.repository.js';
import { createReservationService } from '../../src/reservations/reservation.service.js';
import {
  ADMIN_KEY,
  activeUser,
  bearer,
  createConcert,
  createTestApp,
  createUser,
  expectLedgerMatchesBalances,
  hold,
  joinQueue,
  json,
  pay,
  waitFor,
  type TestApp,
  type TestConcert,
} from '../helpers/test-app.js';
import { eventsPath, openStream as openEventStream, type Stream } from '../helpers/sse-stream.js';

const admin = { 'x-admin-key': ADMIN_KEY };

const me = (app: FastifyInstance, token: string) => app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });

async function expiresAt(app: FastifyInstance, token: string): Promise<number> {
  const res = await me(app, token);
  expect(json(res).status).toBe('ACTIVE');
  return Date.parse(json(res).expiresAt);
}

async function freeSeats(app: FastifyInstance, token: string, concert: TestConcert): Promise<number[]> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`, headers: bearer(token) });
  expect(res.statusCode, res.body).toBe(200);
  return json(res).seats.map((s: { number: number }) => s.number);
}

async function availableSeats(app: FastifyInstance, token: string, concert: TestConcert): Promise<number> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/concerts/${concert.concertId}/dates`, headers: bearer(token) });
  expect(res.statusCode, res.body).toBe(200);
  return json(res).dates.find((d: { date: string }) => d.date === concert.dates[0])?.availableSeats ?? 0;
}

function seatRow(t: TestApp, concert: TestConcert, number: number) {
  return t.db
    .selectFrom('seats')
    .select(['status', 'reservation_id'])
    .where('concert_id', '=', concert.concertId)
    .where('number', '=', number)
    .executeTakeFirstOrThrow();
}

async function countedSeats(t: TestApp, concert: TestConcert): Promise<number> {
  const row = await t.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
  return row.available_seats;
}

const tokenIdOf = (t: TestApp, token: string) => verifyToken(token, t.config.tokenSecret)!.tokenId;

const afterMoment = (at: number) => waitFor(async () => expect(Date.now()).toBeGreaterThan(at + 20), 15_000, 10);

/** The token's stream on the app's port (the app listens). */
async function openStream(app: FastifyInstance, token: string): Promise<Stream> {
  const stream = await openEventStream((app.server.address() as AddressInfo).port, eventsPath(token));
  expect(stream.status).toBe(200);
  return stream;
}

/**
 * Two instances of one deployment: one database, one line (Redis at the same prefix, each with its own
 * connections; or one in-process line shared by both apps).
 */
async function twoInstances(overrides: Parameters<typeof testConfig>[0]): Promise<{ t: TestApp; other: FastifyInstance; close: () => Promise<void> }> {
  const redisPrefix = `test:${randomUUID()}:`;
  const config = testConfig({ ...overrides, redisUrl: process.env.REDIS_URL || undefined, redisPrefix });
  const lines: QueueLines | undefined = config.redisUrl ? undefined : await createQueueLines(config, { failed: () => undefined, ok: () => undefined });
  const t = await createTestApp({ ...overrides, redisPrefix }, lines ? { lines } : {});
  const { app: other } = await buildApp(t.config, { db: t.db, ...(lines ? { lines } : {}) });
  await other.ready();
  return {
    t,
    other,
    close: async () => {
      await other.close();
      await t.close();
      await lines?.close();
    },
  };
}

describe('a hold and the turn it is made in', () => {
  let t: TestApp;
  let short: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ reservation: { holdSeconds: 300 } });
    // A turn of 4 s and holds of a minute: every hold is made late in its turn.
    short = await createTestApp({ queue: { activeTtlSeconds: 4, tickMs: 50 }, reservation: { holdSeconds: 60, sweepMs: 50 } });
  });
  afterAll(async () => {
    await t?.close();
    await short?.close();
  });

  it('lasts RESERVATION_HOLD_SECONDS when the turn has longer to run', async () => {
    const fan = await activeUser(t.app);
    const turnEnds = await expiresAt(t.app, fan.token);
    const concert = await createConcert(t.app, { seatCount: 2 });
    const before = Date.now();
    const held = json(await hold(t.app, fan, concert, 1));
    expect(Date.parse(held.heldUntil)).toBeGreaterThanOrEqual(before + 299_000);
    expect(Date.parse(held.heldUntil)).toBeLessThan(turnEnds);
  });

  it('made late in the turn ends with the turn: heldUntil is the token expiresAt, and it can be paid until then', async () => {
    const fan = await activeUser(short.app, 100_000);
    const turnEnds = await expiresAt(short.app, fan.token);
    const concert = await createConcert(short.app, { seatCount: 2, price: 10_000 });
    const held = json(await hold(short.app, fan, concert, 1));
    expect(held.heldUntil).toBe(new Date(turnEnds).toISOString());
    const row = await short.db
      .selectFrom('reservations')
      .select(['held_until', 'queue_token_id'])
      .where('id', '=', held.reservationId)
      .executeTakeFirstOrThrow();
    expect(new Date(row.held_until).getTime()).toBe(turnEnds);
    expect(row.queue_token_id).toBe(tokenIdOf(short, fan.token));

    const paid = await pay(short.app, fan, held.reservationId);
    expect(paid.statusCode, paid.body).toBe(201);
    expect(Date.now()).toBeLessThan(turnEnds);
    await expectLedgerMatchesBalances(short.db, [fan.userId]);
  });

  it('that the turn outran is listed again the moment the turn ends, cannot be paid (TOKEN_EXPIRED, TURN_OVER), and is swept back', async () => {
    const fan = await activeUser(short.app, 100_000);
    const turnEnds = await expiresAt(short.app, fan.token);
    const concert = await createConcert(short.app, { seatCount: 3, price: 10_000 });
    const held = json(await hold(short.app, fan, concert, 2));
    expect(Date.parse(held.heldUntil)).toBe(turnEnds);

    await afterMoment(turnEnds);
    // Before the sweeper has run (its grace is 2 s), every listing shows the seat again.
    const observer = await activeUser(short.app);
    expect(await freeSeats(short.app, observer.token, concert)).toEqual([1, 2, 3]);
    expect(await availableSeats(short.app, observer.token, concert)).toBe(3);

    const refused = await pay(short.app, fan, held.reservationId);
    expect(refused.statusCode, refused.body).toBe(401);
    expect(json(refused).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'TURN_OVER' });
    const poll = await me(short.app, fan.token);
    expect(poll.statusCode).toBe(401);
    expect(json(poll).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'TURN_OVER' });

    await waitFor(async () => {
      expect(await seatRow(short, concert, 2)).toEqual({ status: 'FREE', reservation_id: null });
      expect(await countedSeats(short, concert)).toBe(3);
    }, 6_000);
    const reservation = await short.db.selectFrom('reservations').select('status').where('id', '=', held.reservationId).executeTakeFirstOrThrow();
    expect(reservation.status).toBe('EXPIRED');
    const next = await activeUser(short.app);
    expect((await hold(short.app, next, concert, 2)).statusCode).toBe(201);
  });
});

describe('one live hold per token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 1000 }, reservation: { holdSeconds: 2 } });
  });
  afterAll(() => t?.close());

  it('a second hold while the token holds a seat is 409 HOLD_EXISTS naming the hold; once it lapses the token may hold again', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app, { seatCount: 3 });
    const first = json(await hold(t.app, fan, concert, 1));
    const second = await hold(t.app, fan, concert, 2);
    expect(second.statusCode).toBe(409);
    expect(json(second)).toEqual({
      error: { code: 'HOLD_EXISTS', message: expect.stringContaining(`reservation ${first.reservationId}`), reservationId: first.reservationId },
    });
    expect(await freeSeats(t.app, fan.token, concert)).toEqual([2, 3]);

    await afterMoment(Date.parse(first.heldUntil));
    const again = await hold(t.app, fan, concert, 2);
    expect(again.statusCode, again.body).toBe(201);
  });

  it('when one token sends 20 holds of 20 seats at once, exactly one wins and the others are 409 HOLD_EXISTS naming it', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app, { seatCount: 20 });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => hold(t.app, fan, concert, i + 1)));
    const won = answers.filter((r) => r.statusCode === 201);
    expect(won).toHaveLength(1);
    const winner = json(won[0]!).reservationId;
    for (const refused of answers.filter((r) => r.statusCode !== 201)) {
      expect(refused.statusCode).toBe(409);
      expect(json(refused).error).toMatchObject({ code: 'HOLD_EXISTS', reservationId: winner });
    }
    const held = await t.db.selectFrom('reservations').select('id').where('queue_token_id', '=', tokenIdOf(t, fan.token)).execute();
    expect(held).toEqual([{ id: winner }]);
    expect(await countedSeats(t, concert)).toBe(19);
  });

  it('when one token sends 20 holds at once through two instances, exactly one wins', async () => {
    const pair = await twoInstances({ queue: { activeLimit: 1000 }, reservation: { holdSeconds: 60 } });
    try {
      const fan = await activeUser(pair.t.app);
      const concert = await createConcert(pair.t.app, { seatCount: 20 });
      const apps = [pair.t.app, pair.other];
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => hold(apps[i % 2]!, fan, concert, i + 1)));
      expect(answers.filter((r) => r.statusCode === 201)).toHaveLength(1);
      expect(answers.filter((r) => r.statusCode === 409 && json(r).error.code === 'HOLD_EXISTS')).toHaveLength(19);
      const held = await pair.t.db.selectFrom('reservations').select('status').where('concert_id', '=', concert.concertId).execute();
      expect(held).toEqual([{ status: 'HELD' }]);
    } finally {
      await pair.close();
    }
  });
});

describe("a token's end", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 1000 }, reservation: { holdSeconds: 120 } });
  });
  afterAll(() => t?.close());

  it('by payment gives back at once any other hold the token still has (left by an earlier state or a race)', async () => {
    const fan = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { seatCount: 4, price: 10_000 });
    const paidFor = json(await hold(t.app, fan, concert, 1));
    // A second live hold of the same token, as a race or an older version could have left it.
    const stray = await holdSeatRow(t.db, {
      reservationId: randomUUID(),
      userId: fan.userId,
      concertId: concert.concertId,
      date: concert.dates[0]!,
      number: 3,
      holdSeconds: 120,
      saleId: null,
      tokenId: tokenIdOf(t, fan.token),
    });
    expect(stray).toBeDefined();
    expect(await countedSeats(t, concert)).toBe(2);
    // Another fan is refused it now, and this instance remembers the seat as taken.
    const other = await activeUser(t.app);
    expect(json(await hold(t.app, other, concert, 3)).error.code).toBe('SEAT_UNAVAILABLE');

    const paid = await pay(t.app, fan, paidFor.reservationId);
    expect(paid.statusCode, paid.body).toBe(201);
    // When the payment answers, the stray seat is free, its reservation ended and its date counts it.
    expect(await seatRow(t, concert, 3)).toEqual({ status: 'FREE', reservation_id: null });
    const strayNow = await t.db.selectFrom('reservations').select('status').where('id', '=', stray!.id).executeTakeFirstOrThrow();
    expect(strayNow.status).toBe('EXPIRED');
    expect(await countedSeats(t, concert)).toBe(3);
    expect(await freeSeats(t.app, other.token, concert)).toEqual([2, 3, 4]);
    expect((await hold(t.app, other, concert, 3)).statusCode).toBe(201);
    const poll = await me(t.app, fan.token);
    expect(json(poll).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'PAID' });
  });

  it('by payment is final: a hold of that token still on its way to the database is refused (TOKEN_EXPIRED, PAID)', async () => {
    const fan = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { seatCount: 3, price: 10_000 });
    const paidFor = json(await hold(t.app, fan, concert, 1));
    expect((await pay(t.app, fan, paidFor.reservationId)).statusCode).toBe(201);
    // A hold that passed the token check just before the payment ended the token reaches the service now.
    const reservations = createReservationService({ db: t.db, holdSeconds: 60, versions: new MemoryListingVersions() });
    const late = reservations.holdSeat(
      fan.userId,
      { concertId: concert.concertId, date: concert.dates[0]!, number: 2 },
      { saleId: null },
      { tokenId: tokenIdOf(t, fan.token), turnEndsAt: Date.now() + 60_000 },
    );
    await expect(late).rejects.toMatchObject({ code: 'TOKEN_EXPIRED', details: { reason: 'PAID' } });
    expect(await seatRow(t, concert, 2)).toEqual({ status: 'FREE', reservation_id: null });
  });
});

describe("a token's views", () => {
  it('say whether its line is paused and what the operator tells it, which the admin API sets, trims and clears', async () => {
    const t = await createTestApp({ queue: { activeLimit: 0 } });
    try {
      const issued = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: await createUser(t.app) } });
      expect(json(issued)).toMatchObject({ status: 'WAITING', paused: false });
      expect(json(issued)).not.toHaveProperty('message');
      const token = json(issued).token as string;
      expect(json(await me(t.app, token))).toMatchObject({ status: 'WAITING', paused: false });

      const patch = (payload: Record<string, unknown>) => t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload });
      const set = await patch({ paused: true, message: '  Doors open at 20:00.  ' });
      expect(set.statusCode, set.body).toBe(200);
      expect(json(set)).toMatchObject({ paused: true, message: 'Doors open at 20:00.' });
      expect(json(await t.app.inject({ method: 'GET', url: '/admin/v1/queue', headers: admin }))).toMatchObject({ message: 'Doors open at 20:00.' });
      expect(json(await me(t.app, token))).toMatchObject({ paused: true, message: 'Doors open at 20:00.' });
      const rejoined = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: json(issued).userId } });
      expect(json(rejoined)).toMatchObject({ paused: true, message: 'Doors open at 20:00.' });

      // Setting other fields keeps the message; "" and null clear it; 280 characters at most.
      expect(json(await patch({ paused: false }))).toMatchObject({ paused: false, message: 'Doors open at 20:00.' });
      for (const cleared of ['', '   ', null]) {
        await patch({ message: 'something' });
        expect(json(await patch({ message: cleared }))).toMatchObject({ message: null });
        expect(json(await me(t.app, token))).not.toHaveProperty('message');
      }
      expect((await patch({ message: 'x'.repeat(280) })).statusCode).toBe(200);
      const tooLong = await patch({ message: 'x'.repeat(281) });
      expect(tooLong.statusCode).toBe(400);
      expect(json(tooLong).error.code).toBe('VALIDATION_ERROR');
      expect((await patch({ message: 42 })).statusCode).toBe(400);
      expect(json(await me(t.app, token)).message).toBe('x'.repeat(280));
    } finally {
      await t.close();
    }
  });

  it("of a sale's line say its own pause and message, set with PATCH /admin/v1/sales/{id}", async () => {
    const t = await createTestApp({ queue: { activeLimit: 0 } });
    try {
      const concert = await createConcert(t.app);
      const now = Date.now();
      const created = await t.app.inject({
        method: 'POST',
        url: '/admin/v1/sales',
        headers: admin,
        payload: { concertId: concert.concertId, queueOpensAt: new Date(now - 1_000).toISOString(), opensAt: new Date(now - 500).toISOString() },
      });
      expect(created.statusCode, created.body).toBe(201);
      const saleId = json(created).saleId as string;
      expect(json(created)).toMatchObject({ paused: false, message: null });
      const joined = json(await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: await createUser(t.app), saleId } }));
      const general = await joinQueue(t.app, await createUser(t.app));

      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/admin/v1/sales/${saleId}`,
        headers: admin,
        payload: { paused: true, message: 'Sold in waves.' },
      });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(json(patched)).toMatchObject({ paused: true, message: 'Sold in waves.' });
      expect(json(await t.app.inject({ method: 'GET', url: `/admin/v1/sales/${saleId}`, headers: admin }))).toMatchObject({ message: 'Sold in waves.' });
      expect(json(await me(t.app, joined.token))).toMatchObject({ saleId, paused: true, message: 'Sold in waves.' });
      // The general line is another line: neither paused nor told anything.
      const generalView = json(await me(t.app, general.token));
      expect(generalView.paused).toBe(false);
      expect(generalView).not.toHaveProperty('message');
      expect(json(await t.app.inject({ method: 'PATCH', url: `/admin/v1/sales/${saleId}`, headers: admin, payload: { message: null } })).message).toBeNull();
      expect(json(await me(t.app, joined.token))).not.toHaveProperty('message');
    } finally {
      await t.close();
    }
  });

  it('say why the token ended: IDLE for a waiting token that went silent, PAID for a paid one (on GET /me and as the last event of its stream)', async () => {
    const t = await createTestApp({ queue: { activeLimit: 1, waitingIdleSeconds: 0.6, tickMs: 50 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const buyer = await activeUser(t.app, 100_000);
      const silent = await joinQueue(t.app, await createUser(t.app));
      expect(silent.status).toBe('WAITING');
      // Not polled (a poll would keep its place) until its idle deadline has passed.
      await afterMoment(Date.parse(silent.expiresAt));
      const abandoned = await me(t.app, silent.token);
      expect(abandoned.statusCode).toBe(401);
      expect(json(abandoned).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'IDLE' });

      const stream = await openStream(t.app, buyer.token);
      await waitFor(async () => expect(stream.events[0]).toMatchObject({ status: 'ACTIVE', paused: false }));
      const concert = await createConcert(t.app, { price: 1_000 });
      const held = json(await hold(t.app, buyer, concert, 1));
      expect((await pay(t.app, buyer, held.reservationId)).statusCode).toBe(201);
      await stream.ended;
      expect(stream.events.at(-1)).toMatchObject({ status: 'EXPIRED', reason: 'PAID' });
      expect(json(await me(t.app, buyer.token)).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'PAID' });
    } finally {
      await t.close();
    }
  });
});

describe("a token's stream", () => {
  it('sends the state again at least every heartbeat, with a fresh estimate, although nothing changed', async () => {
    // Idle time 1.5 s: the heartbeat (a third of it) comes every 500 ms.
    const t = await createTestApp({ queue: { activeLimit: 1, waitingIdleSeconds: 1.5 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const active = await activeUser(t.app);
      const { token } = await joinQueue(t.app, await createUser(t.app));
      const streams = [await openStream(t.app, active.token), await openStream(t.app, token)];
      const opened = Date.now();
      await waitFor(async () => {
        for (const stream of streams) expect(stream.events.length).toBeGreaterThanOrEqual(4);
      }, 5_000);
      // Four states each in well under the 15 s a client may wait for a heartbeat, and the waiting token kept its place.
      expect(Date.now() - opened).toBeLessThan(4_000);
      for (const event of streams[0]!.events) expect(event).toMatchObject({ status: 'ACTIVE', position: 0, estimatedWaitSeconds: 0, paused: false });
      for (const event of streams[1]!.events)
        expect(event).toMatchObject({ status: 'WAITING', position: 1, estimatedWaitSeconds: expect.any(Number), paused: false });
      for (const stream of streams) stream.close();
    } finally {
      await t.close();
    }
  });

  it('sends a pause or a message within 2 s on every instance, without waiting for the heartbeat', async () => {
    // The default idle time: heartbeats 15 s apart, so what arrives sooner was sent for the change.
    const pair = await twoInstances({ queue: { activeLimit: 0 } });
    try {
      await pair.other.listen({ port: 0, host: '127.0.0.1' });
      const { token } = await joinQueue(pair.t.app, await createUser(pair.t.app));
      const stream = await openStream(pair.other, token);
      await waitFor(async () => expect(stream.events[0]).toMatchObject({ status: 'WAITING', paused: false }));

      const patchedAt = Date.now();
      const res = await pair.t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { message: 'Back in five minutes.' } });
      expect(res.statusCode).toBe(200);
      await waitFor(async () => expect(stream.events.at(-1)).toMatchObject({ message: 'Back in five minutes.', paused: false }), 2_000);
      await pair.t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: true } });
      await waitFor(async () => expect(stream.events.at(-1)).toMatchObject({ message: 'Back in five minutes.', paused: true }), 2_000);
      await pair.t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: false, message: null } });
      await waitFor(async () => {
        expect(stream.events.at(-1)).toMatchObject({ paused: false });
        expect(stream.events.at(-1)).not.toHaveProperty('message');
      }, 2_000);
      expect(Date.now() - patchedAt).toBeLessThan(6_000);
      stream.close();
    } finally {
      await pair.close();
    }
  });
});

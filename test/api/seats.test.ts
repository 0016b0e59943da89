// Concerts, dates, seats and holds: listings, errors, one winner per seat, and lapsed holds coming back.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { deleteRedisKeys } from '../helpers/redis-keys.js';
import { holdSeatRow } from '../../src/reservations/reservation.repository.js';
import { activeUser, bearer, createConcert, createTestApp, expectLedgerMatchesBalances, hold, json, pay, waitFor, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ queue: { activeLimit: 1000 } });
});
afterAll(() => t.close());

const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

describe('concerts and seats', () => {
  it('lists concerts, dates with seats left in date order, and free seats by number', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app, { dates: 3, seatCount: 5, price: 70_000 });
    const concerts = json(await get(fan.token, '/api/v1/concerts')).concerts;
    expect(concerts).toContainEqual({ concertId: concert.concertId, title: expect.any(String), venue: 'Test Hall', timeZone: expect.any(String) });

    const dates = json(await get(fan.token, `/api/v1/concerts/${concert.concertId}/dates`)).dates;
    expect(dates.map((d: any) => d.date)).toEqual(concert.dates);
    expect(dates[0]).toEqual({
      date: concert.dates[0],
      startsAt: `${concert.dates[0]}T10:00:00.000Z`,
      totalSeats: 5,
      availableSeats: 5,
      minPrice: 70_000,
      maxPrice: 70_000,
    });

    const seats = json(await get(fan.token, `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`)).seats;
    expect(seats.map((s: any) => s.number)).toEqual([1, 2, 3, 4, 5]);
    expect(seats[0]).toEqual({ seatId: expect.any(String), number: 1, price: 70_000 });
  });

  it('hides held and sold seats, and dates with none left', async () => {
    const buyer = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { dates: 2, seatCount: 2, price: 10_000 });
    const [first, second] = concert.dates;
    const a = await hold(t.app, buyer, concert, 1, first);
    expect(a.statusCode).toBe(201);
    expect((await pay(t.app, buyer, json(a).reservationId)).statusCode).toBe(201);
    const browser = await activeUser(t.app);
    expect((await hold(t.app, browser, concert, 2, first)).statusCode).toBe(201);

    const seats = json(await get(browser.token, `/api/v1/concerts/${concert.concertId}/dates/${first}/seats`)).seats;
    expect(seats).toEqual([]);
    const dates = json(await get(browser.token, `/api/v1/concerts/${concert.concertId}/dates`)).dates;
    expect(dates.map((d: any) => [d.date, d.availableSeats])).toEqual([[second, 2]]);
  });

  it('answers unknown concerts, dates and seats with their 404 codes', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app);
    const cases: [string, string][] = [
      [`/api/v1/concerts/${randomUUID()}/dates`, 'CONCERT_NOT_FOUND'],
      [`/api/v1/concerts/${concert.concertId}/dates/2099-01-01/seats`, 'DATE_NOT_FOUND'],
      [`/api/v1/reservations/${randomUUID()}`, 'RESERVATION_NOT_FOUND'],
    ];
    for (const [url, code] of cases) {
      const res = await get(fan.token, url);
      expect(res.statusCode, url).toBe(404);
      expect(json(res).error.code).toBe(code);
    }
    for (const [seat, date] of [
      [51, concert.dates[0]],
      [1, '2099-01-01'],
    ] as const) {
      const res = await hold(t.app, fan, concert, seat, date);
      expect(res.statusCode).toBe(404);
      expect(json(res).error.code).toBe('SEAT_NOT_FOUND');
    }
    const otherConcert = await hold(t.app, fan, { concertId: randomUUID(), dates: concert.dates }, 1);
    expect(json(otherConcert).error.code).toBe('SEAT_NOT_FOUND');
  });
});

describe('cached listings', () => {
  it('a listing read just before a hold or a sale no longer shows the seat', async () => {
    const fan = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { dates: 1, seatCount: 3, price: 10_000 });
    const seatsUrl = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
    const datesUrl = `/api/v1/concerts/${concert.concertId}/dates`;
    const numbers = async () => json(await get(fan.token, seatsUrl)).seats.map((s: any) => s.number);
    const available = async () => json(await get(fan.token, datesUrl)).dates.map((d: any) => d.availableSeats);
    expect(await numbers()).toEqual([1, 2, 3]);
    expect(await available()).toEqual([3]);

    const held = json(await hold(t.app, fan, concert, 2));
    expect(await numbers()).toEqual([1, 3]);
    expect(await available()).toEqual([2]);
    expect((await pay(t.app, fan, held.reservationId)).statusCode).toBe(201);
    const next = await activeUser(t.app);
    const afterSale = json(await get(next.token, seatsUrl)).seats.map((s: any) => s.number);
    expect(afterSale).toEqual([1, 3]);
  });

  const sharedServices = process.env.DATABASE_URL && process.env.REDIS_URL ? it : it.skip;
  sharedServices('a listing cached on one instance sees a hold made on another (needs DATABASE_URL and REDIS_URL)', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = await createTestApp({ redisPrefix: prefix, queue: { activeLimit: 100 } });
    const b = await createTestApp({ redisPrefix: prefix, queue: { activeLimit: 100 } });
    try {
      const fanA = await activeUser(a.app);
      const fanB = { userId: fanA.userId, token: fanA.token };
      const concert = await createConcert(a.app, { seatCount: 2 });
      const seatsUrl = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
      const onB = async () => json(await b.app.inject({ method: 'GET', url: seatsUrl, headers: bearer(fanB.token) })).seats.map((s: any) => s.number);
      expect(await onB()).toEqual([1, 2]);
      expect((await hold(a.app, fanA, concert, 1)).statusCode).toBe(201);
      expect(await onB()).toEqual([2]);
      // The seat is refused on B too, although B never saw the hold happen.
      const other = await activeUser(b.app);
      expect(json(await hold(b.app, other, concert, 1)).error.code).toBe('SEAT_UNAVAILABLE');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('holds', () => {
  it('holds a seat, refuses it to anyone else, and shows the hold only to its holder', async () => {
    const fan = await activeUser(t.app);
    const other = await activeUser(t.app);
    const concert = await createConcert(t.app, { price: 33_000 });
    const res = await hold(t.app, fan, concert, 7);
    expect(res.statusCode).toBe(201);
    const reservation = json(res);
    expect(reservation).toEqual({
      reservationId: expect.any(String),
      userId: fan.userId,
      concertId: concert.concertId,
      date: concert.dates[0],
      seatNumber: 7,
      price: 33_000,
      status: 'HELD',
      heldUntil: expect.any(String),
    });
    const heldFor = Date.parse(reservation.heldUntil) - Date.now();
    expect(heldFor).toBeGreaterThan(250_000);
    expect(heldFor).toBeLessThanOrEqual(301_000);

    for (const who of [other, fan]) {
      const again = await hold(t.app, who, concert, 7);
      expect(again.statusCode).toBe(409);
      expect(json(again).error.code).toBe('SEAT_UNAVAILABLE');
    }
    expect(json(await get(fan.token, `/api/v1/reservations/${reservation.reservationId}`))).toEqual(reservation);
    const theirs = await get(other.token, `/api/v1/reservations/${reservation.reservationId}`);
    expect(theirs.statusCode).toBe(403);
    expect(json(theirs).error.code).toBe('USER_MISMATCH');

    const mismatch = await t.app.inject({
      method: 'POST',
      url: '/api/v1/reservations',
      headers: bearer(other.token),
      payload: { userId: fan.userId, concertId: concert.concertId, date: concert.dates[0], seatNumber: 8 },
    });
    expect(mismatch.statusCode).toBe(403);
    expect(json(mismatch).error.code).toBe('USER_MISMATCH');
  });

  it('when 100 users hold the same seat at once, exactly one wins', async () => {
    const concert = await createConcert(t.app, { seatCount: 3 });
    const fans = await Promise.all(Array.from({ length: 100 }, () => activeUser(t.app)));
    const answers = await Promise.all(fans.map((fan) => hold(t.app, fan, concert, 2)));
    const codes = answers.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(99);

    const live = await t.db.selectFrom('reservations').select(['user_id', 'status']).where('concert_id', '=', concert.concertId).execute();
    expect(live).toEqual([{ user_id: fans[codes.indexOf(201)]!.userId, status: 'HELD' }]);
    const date = await t.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
    expect(date.available_seats).toBe(2);
  });

  // The service keeps concurrent holds of one seat in one instance to a single database attempt, and
  // remembers taken seats: these two races go around that, so only the hold statement decides.
  it('when 50 holds of one seat reach the database at once, the statement lets exactly one win', async () => {
    const concert = await createConcert(t.app, { seatCount: 3 });
    const fans = await Promise.all(Array.from({ length: 50 }, () => activeUser(t.app)));
    const date = concert.dates[0]!;
    const rows = await Promise.all(
      fans.map((fan) =>
        holdSeatRow(t.db, { reservationId: randomUUID(), userId: fan.userId, concertId: concert.concertId, date, number: 2, holdSeconds: 60, saleId: null }),
      ),
    );
    const winners = rows.filter((row) => row !== undefined);
    expect(winners).toHaveLength(1);
    const live = await t.db.selectFrom('reservations').select('user_id').where('concert_id', '=', concert.concertId).where('status', '=', 'HELD').execute();
    expect(live).toEqual([{ user_id: winners[0]!.user_id }]);
    const left = await t.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
    expect(left.available_seats).toBe(2);
  });

  it('when fans of two instances sharing one database hold the same seat at once, exactly one wins', async () => {
    // A second app on the same database, with its own line and its own memory of taken seats.
    const { app: otherApp } = await buildApp({ ...t.config, redisPrefix: `${t.config.redisPrefix}other:` }, { db: t.db });
    const other = { app: otherApp };
    try {
      const concert = await createConcert(t.app, { seatCount: 3 });
      const apps = [t.app, other.app];
      const fans = await Promise.all(Array.from({ length: 40 }, async (_, i) => ({ app: apps[i % 2]!, fan: await activeUser(apps[i % 2]!) })));
      const answers = await Promise.all(fans.map(({ app, fan }) => hold(app, fan, concert, 3)));
      const codes = answers.map((r) => r.statusCode);
      expect(codes.filter((c) => c === 201)).toHaveLength(1);
      expect(codes.filter((c) => c === 409)).toHaveLength(39);
      const live = await t.db.selectFrom('reservations').select('status').where('concert_id', '=', concert.concertId).execute();
      expect(live).toEqual([{ status: 'HELD' }]);
    } finally {
      await other.app.close();
      if (t.config.redisUrl) await deleteRedisKeys(t.config.redisUrl, `${t.config.redisPrefix}other:`);
    }
  });

  it('when many users race for a few seats, each seat has one holder and the count is exact', async () => {
    const concert = await createConcert(t.app, { seatCount: 5 });
    const fans = await Promise.all(Array.from({ length: 40 }, () => activeUser(t.app)));
    const answers = await Promise.all(fans.map((fan, i) => hold(t.app, fan, concert, (i % 5) + 1)));
    expect(answers.filter((r) => r.statusCode === 201)).toHaveLength(5);
    const seats = await t.db.selectFrom('seats').select(['status']).where('concert_id', '=', concert.concertId).execute();
    expect(seats.every((s) => s.status === 'HELD')).toBe(true);
    const date = await t.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
    expect(date.available_seats).toBe(0);
  });
});

describe('a hold that lapses', () => {
  it('returns the seat within a second, lets someone else take it, and cannot be paid', async () => {
    const short = await createTestApp({ queue: { activeLimit: 100 }, reservation: { holdSeconds: 0.5, sweepMs: 50 } });
    try {
      const first = await activeUser(short.app, 100_000);
      const second = await activeUser(short.app);
      const concert = await createConcert(short.app, { seatCount: 2, price: 40_000 });
      const seatsUrl = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
      const datesUrl = `/api/v1/concerts/${concert.concertId}/dates`;
      const held = json(await hold(short.app, first, concert, 1));
      const list = async (url: string) => json(await short.app.inject({ method: 'GET', url, headers: bearer(second.token) }));
      expect((await list(seatsUrl)).seats.map((s: any) => s.number)).toEqual([2]);
      expect((await list(datesUrl)).dates[0].availableSeats).toBe(1);

      await waitFor(async () => expect(Date.now()).toBeGreaterThan(Date.parse(held.heldUntil)), 2_000, 10);
      // Right after heldUntil, before or after the sweeper, the seat is back everywhere.
      expect((await list(seatsUrl)).seats.map((s: any) => s.number)).toEqual([1, 2]);
      expect((await list(datesUrl)).dates[0].availableSeats).toBe(2);
      const reservation = json(await short.app.inject({ method: 'GET', url: `/api/v1/reservations/${held.reservationId}`, headers: bearer(first.token) }));
      expect(reservation.status).toBe('EXPIRED');

      const lapsedPayment = await pay(short.app, first, held.reservationId);
      expect(lapsedPayment.statusCode).toBe(409);
      expect(json(lapsedPayment).error.code).toBe('RESERVATION_EXPIRED');
      expect(json(await short.app.inject({ method: 'GET', url: `/api/v1/users/${first.userId}/points`, headers: bearer(first.token) })).balance).toBe(100_000);

      const retaken = await hold(short.app, second, concert, 1);
      expect(retaken.statusCode).toBe(201);
      // The sweeper and the re-hold agree: one seat held, one free.
      await waitFor(async () => {
        const date = await short.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
        expect(date.available_seats).toBe(1);
      });
      await expectLedgerMatchesBalances(short.db, [first.userId, second.userId]);
    } finally {
      await short.close();
    }
  });

  it('can be taken over before the sweeper has returned it, keeping one live reservation and an exact count', async () => {
    const lazy = await createTestApp({ reservation: { holdSeconds: 0.3, sweepMs: 60_000 } });
    try {
      const first = await activeUser(lazy.app);
      const second = await activeUser(lazy.app);
      const concert = await createConcert(lazy.app, { seatCount: 2 });
      const lapsed = json(await hold(lazy.app, first, concert, 1));
      await waitFor(async () => expect(Date.now()).toBeGreaterThan(Date.parse(lapsed.heldUntil) + 50), 2_000, 10);
      const takeover = await hold(lazy.app, second, concert, 1);
      expect(takeover.statusCode).toBe(201);
      const rows = await lazy.db.selectFrom('reservations').select(['id', 'status']).where('concert_id', '=', concert.concertId).execute();
      expect(new Map(rows.map((r) => [r.id, r.status]))).toEqual(
        new Map([
          [lapsed.reservationId, 'EXPIRED'],
          [json(takeover).reservationId, 'HELD'],
        ]),
      );
      const date = await lazy.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
      expect(date.available_seats).toBe(1);
    } finally {
      await lazy.close();
    }
  });

  it('is swept back into the date count even when nobody reads it (after a short grace)', async () => {
    const short = await createTestApp({ reservation: { holdSeconds: 0.2, sweepMs: 30 } });
    try {
      const fan = await activeUser(short.app);
      const concert = await createConcert(short.app, { seatCount: 3 });
      const held = json(await hold(short.app, fan, concert, 3));
      await waitFor(async () => {
        const seat = await short.db
          .selectFrom('seats')
          .select(['status', 'reservation_id'])
          .where('concert_id', '=', concert.concertId)
          .where('number', '=', 3)
          .executeTakeFirstOrThrow();
        expect(seat).toEqual({ status: 'FREE', reservation_id: null });
      }, 6_000);
      const date = await short.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
      expect(date.available_seats).toBe(3);
      const row = await short.db.selectFrom('reservations').select('status').where('id', '=', held.reservationId).executeTakeFirstOrThrow();
      expect(row.status).toBe('EXPIRED');
    } finally {
      await short.close();
    }
  });
});

// Seat layouts and venue time zones: a concert created with a layout lists its seats by section and row
// at its sections' prices, its dates carry their price range, every concert names its zone, and a
// concert created as before (no layout) is listed exactly as before.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import * as initial from '../../src/db/migrations/0001-initial.js';
import * as paymentToken from '../../src/db/migrations/0002-payment-token.js';
import * as queueLines from '../../src/db/migrations/0003-queue-lines.js';
import * as sales from '../../src/db/migrations/0004-sales.js';
import * as seatLayout from '../../src/db/migrations/0005-seat-layout.js';
import { inThisThread, PGliteDialect } from '../../src/db/pglite-dialect.js';
import { ADMIN_KEY, activeUser, bearer, createConcert, createTestApp, hold, json, uniqueDate, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ queue: { activeLimit: 1000 } });
});
afterAll(() => t.close());

const admin = { 'x-admin-key': ADMIN_KEY };
const serverZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Runs `body` with this process in another time zone (Node applies a change of TZ at once), then puts it back. */
async function inServerZone<T>(zone: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.TZ;
  process.env.TZ = zone;
  try {
    expect(Intl.DateTimeFormat().resolvedOptions().timeZone).toBe(zone);
    return await body();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

const hall = {
  stage: 'top',
  sections: [
    {
      name: 'VIP',
      price: 165_000,
      rows: [
        { name: 'A', seats: 2 },
        { name: 'B', seats: 3 },
      ],
    },
    { name: 'R', price: 120_000, rows: [{ name: '1', seats: 4 }] },
    {
      name: 'S',
      price: 90_000,
      rows: [
        { name: '1', seats: 1 },
        { name: '2', seats: 2 },
      ],
    },
  ],
} as const;
const hallSeats = 12;

function postConcert(payload: unknown) {
  return t.app.inject({ method: 'POST', url: '/admin/v1/concerts', headers: admin, payload: payload as object });
}

function body(overrides: Record<string, unknown> = {}, dateFields: Record<string, unknown> = {}, dates = [uniqueDate()]) {
  return {
    title: `Layout ${randomUUID()}`,
    venue: 'Seoul Arts Center',
    timeZone: 'Asia/Seoul',
    layout: hall,
    dates: dates.map((date) => ({ date, startsAt: `${date}T10:00:00.000Z`, ...dateFields })),
    ...overrides,
  };
}

async function created(payload: ReturnType<typeof body>): Promise<{ concertId: string; dates: string[] }> {
  const res = await postConcert(payload);
  expect(res.statusCode, res.body).toBe(201);
  return { concertId: json(res).concertId, dates: payload.dates.map((d) => d.date) };
}

/** Distinct dates in a row from a random far-future day (uniqueDate may repeat one among many). */
function consecutiveDates(count: number): string[] {
  const start = Date.parse(`${uniqueDate()}T00:00:00Z`) + 20_000 * 86_400_000;
  return Array.from({ length: count }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10));
}

const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

async function listedConcert(token: string, concertId: string) {
  return json(await get(token, '/api/v1/concerts')).concerts.find((c: any) => c.concertId === concertId);
}

describe('a concert with a layout', () => {
  it("lists each seat's section, row and place at its section's price, numbered in section and row order", async () => {
    const fan = await activeUser(t.app);
    const concert = await created(body());
    const seats = json(await get(fan.token, `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`)).seats;
    expect(seats.map((s: any) => [s.number, s.section, s.row, s.seatInRow, s.price])).toEqual([
      [1, 'VIP', 'A', 1, 165_000],
      [2, 'VIP', 'A', 2, 165_000],
      [3, 'VIP', 'B', 1, 165_000],
      [4, 'VIP', 'B', 2, 165_000],
      [5, 'VIP', 'B', 3, 165_000],
      [6, 'R', '1', 1, 120_000],
      [7, 'R', '1', 2, 120_000],
      [8, 'R', '1', 3, 120_000],
      [9, 'R', '1', 4, 120_000],
      [10, 'S', '1', 1, 90_000],
      [11, 'S', '2', 1, 90_000],
      [12, 'S', '2', 2, 90_000],
    ]);
    expect(seats[0]).toEqual({ seatId: expect.any(String), number: 1, price: 165_000, section: 'VIP', row: 'A', seatInRow: 1 });
  });

  it('lists the concert with its zone and its layout exactly as given', async () => {
    const fan = await activeUser(t.app);
    const concert = await created(body({ timeZone: 'asia/seoul' }));
    expect(await listedConcert(fan.token, concert.concertId)).toEqual({
      concertId: concert.concertId,
      title: expect.any(String),
      venue: 'Seoul Arts Center',
      timeZone: 'Asia/Seoul',
      layout: hall,
    });
  });

  it("gives every date the layout's seats and shows each date's price range, which holds do not change", async () => {
    const fan = await activeUser(t.app);
    const [first, second] = [uniqueDate(), uniqueDate()].sort();
    const concert = await created(body({}, {}, [first!, second!]));
    const datesUrl = `/api/v1/concerts/${concert.concertId}/dates`;
    const dates = json(await get(fan.token, datesUrl)).dates;
    expect(dates).toEqual(
      [first, second].map((date) => ({
        date,
        startsAt: `${date}T10:00:00.000Z`,
        totalSeats: hallSeats,
        availableSeats: hallSeats,
        minPrice: 90_000,
        maxPrice: 165_000,
      })),
    );

    // The cached listing follows a hold of a VIP seat; the range is the date's, not what is left.
    const held = await hold(t.app, fan, concert, 4, second);
    expect(held.statusCode).toBe(201);
    expect(json(held)).toMatchObject({ seatNumber: 4, price: 165_000 });
    const after = json(await get(fan.token, datesUrl)).dates;
    expect(after.map((d: any) => [d.availableSeats, d.minPrice, d.maxPrice])).toEqual([
      [hallSeats, 90_000, 165_000],
      [hallSeats - 1, 90_000, 165_000],
    ]);
    const seats = json(await get(fan.token, `${datesUrl}/${second}/seats`)).seats;
    expect(seats.map((s: any) => s.number)).not.toContain(4);
    // The layout is listed once, not once per date.
    expect((await listedConcert(fan.token, concert.concertId)).layout).toEqual(hall);
    expect(seats.find((s: any) => s.number === 5)).toMatchObject({ section: 'VIP', row: 'B', seatInRow: 3 });
  });

  it('takes seatCount and price beside the layout only when they agree with it', async () => {
    const fan = await activeUser(t.app);
    const agreeing = await created(body({}, { seatCount: hallSeats }));
    expect(json(await get(fan.token, `/api/v1/concerts/${agreeing.concertId}/dates`)).dates[0].totalSeats).toBe(hallSeats);
    const onePrice = { stage: 'bottom', sections: [{ name: 'Floor', price: 30_000, rows: [{ name: 'A', seats: 3 }] }] };
    const samePrice = await created(body({ layout: onePrice }, { seatCount: 3, price: 30_000 }));
    const seats = json(await get(fan.token, `/api/v1/concerts/${samePrice.concertId}/dates/${samePrice.dates[0]}/seats`)).seats;
    expect(seats.map((s: any) => [s.section, s.row, s.seatInRow, s.price])).toEqual([
      ['Floor', 'A', 1, 30_000],
      ['Floor', 'A', 2, 30_000],
      ['Floor', 'A', 3, 30_000],
    ]);
    expect((await listedConcert(fan.token, samePrice.concertId)).layout).toEqual(onePrice);
  });

  it('lays out 2,000 seats for one date in one go', async () => {
    const fan = await activeUser(t.app);
    const rows = Array.from({ length: 40 }, (_, i) => ({ name: `R${i + 1}`, seats: 50 }));
    const big = {
      stage: 'left',
      sections: [
        { name: 'Stalls', price: 50_000, rows: rows.slice(0, 20) },
        { name: 'Circle', price: 40_000, rows: rows.slice(20) },
      ],
    };
    const concert = await created(body({ layout: big }));
    const seats = json(await get(fan.token, `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`)).seats;
    expect(seats).toHaveLength(2_000);
    expect(seats.map((s: any) => s.number)).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
    expect(seats[1_000]).toMatchObject({ number: 1_001, section: 'Circle', row: 'R21', seatInRow: 1, price: 40_000 });
    expect(seats[1_999]).toMatchObject({ number: 2_000, section: 'Circle', row: 'R40', seatInRow: 50 });
    expect((await listedConcert(fan.token, concert.concertId)).layout).toEqual(big);
  });

  it('refuses a layout that is wrong or contradicted, with a 400 naming it, and writes nothing', async () => {
    const tooBig = { stage: 'top', sections: [{ name: 'Huge', price: 1, rows: Array.from({ length: 34 }, (_, i) => ({ name: `${i}`, seats: 60 })) }] };
    const fifty = { stage: 'top', sections: [{ name: 'Big', price: 1, rows: Array.from({ length: 40 }, (_, i) => ({ name: `${i}`, seats: 50 })) }] };
    const row = (name: string, seats = 1) => ({ name, seats });
    const cases: [string, unknown, string, RegExp?][] = [
      [
        'a section listed twice',
        body({ layout: { stage: 'top', sections: [hall.sections[0], hall.sections[0]] } }),
        'INVALID_CONCERT',
        /section "VIP" is listed twice/,
      ],
      [
        'a row listed twice',
        body({ layout: { stage: 'top', sections: [{ name: 'A', price: 1, rows: [row('1'), row('1')] }] } }),
        'INVALID_CONCERT',
        /row "1" is listed twice/,
      ],
      ['over 2,000 seats', body({ layout: tooBig }), 'INVALID_CONCERT', /2040 seats; at most 2000/],
      ['over 100,000 seats over its dates', body({ layout: fifty }, {}, consecutiveDates(51)), 'INVALID_CONCERT', /at most 100000 per concert/],
      ['a seatCount that differs', body({}, { seatCount: 11 }), 'INVALID_CONCERT', /seatCount 11 but the layout has 12 seats/],
      ['a price beside several prices', body({}, { price: 90_000 }), 'INVALID_CONCERT', /price 90000 but its seats take their sections' prices/],
      ['an unknown stage', body({ layout: { ...hall, stage: 'middle' } }), 'VALIDATION_ERROR'],
      ['no sections', body({ layout: { stage: 'top', sections: [] } }), 'VALIDATION_ERROR'],
      ['a row of 61 seats', body({ layout: { stage: 'top', sections: [{ name: 'A', price: 1, rows: [row('1', 61)] }] } }), 'VALIDATION_ERROR'],
      ['a row of no seats', body({ layout: { stage: 'top', sections: [{ name: 'A', price: 1, rows: [row('1', 0)] }] } }), 'VALIDATION_ERROR'],
      ['a row name of 9 characters', body({ layout: { stage: 'top', sections: [{ name: 'A', price: 1, rows: [row('123456789')] }] } }), 'VALIDATION_ERROR'],
      [
        'a section name of 41 characters',
        body({ layout: { stage: 'top', sections: [{ name: 'x'.repeat(41), price: 1, rows: [row('1')] }] } }),
        'VALIDATION_ERROR',
      ],
      ['a section without a price', body({ layout: { stage: 'top', sections: [{ name: 'A', rows: [row('1')] }] } }), 'VALIDATION_ERROR'],
      [
        'an unknown field in a section',
        body({ layout: { stage: 'top', sections: [{ name: 'A', price: 1, rows: [row('1')], colour: 'red' }] } }),
        'VALIDATION_ERROR',
      ],
      ['no layout and no price', body({ layout: undefined }, { seatCount: 5 }), 'VALIDATION_ERROR', /dates\/0\/price is required/],
    ];
    for (const [what, payload, code, message] of cases) {
      const res = await postConcert(payload);
      expect(res.statusCode, what).toBe(400);
      expect(json(res).error.code, what).toBe(code);
      if (message) expect(json(res).error.message, what).toMatch(message);
      const written = await t.db
        .selectFrom('concerts')
        .select('id')
        .where('title', '=', (payload as ReturnType<typeof body>).title)
        .execute();
      expect(written, what).toEqual([]);
    }
  });
});

describe("a concert's time zone", () => {
  it("defaults to the server's zone and is kept in its canonical IANA spelling", async () => {
    const fan = await activeUser(t.app);
    const plain = await created(body({ timeZone: undefined, layout: undefined }, { price: 10_000 }));
    expect((await listedConcert(fan.token, plain.concertId)).timeZone).toBe(serverZone);
    const la = await created(body({ timeZone: 'America/Los_Angeles' }));
    expect((await listedConcert(fan.token, la.concertId)).timeZone).toBe('America/Los_Angeles');
  });

  it("is the zone of the server's process, whatever that is, when none is given", async () => {
    await inServerZone('Pacific/Auckland', async () => {
      const auckland = await createTestApp({ queue: { activeLimit: 10 } });
      try {
        const res = await auckland.app.inject({ method: 'POST', url: '/admin/v1/concerts', headers: admin, payload: body({ timeZone: undefined }) });
        expect(res.statusCode).toBe(201);
        const fan = await activeUser(auckland.app);
        const listed = json(await auckland.app.inject({ method: 'GET', url: '/api/v1/concerts', headers: bearer(fan.token) })).concerts;
        expect(listed.find((c: any) => c.concertId === json(res).concertId).timeZone).toBe('Pacific/Auckland');
      } finally {
        await auckland.close();
      }
    });
  });

  it('refuses a zone this server does not know (400 INVALID_CONCERT) and one that is not a zone name (400 VALIDATION_ERROR)', async () => {
    for (const [timeZone, code] of [
      ['Mars/Olympus_Mons', 'INVALID_CONCERT'],
      ['Seoul', 'INVALID_CONCERT'],
      ['+09:00', 'VALIDATION_ERROR'],
      ['', 'VALIDATION_ERROR'],
      ['Asia/Seoul; drop table seats', 'VALIDATION_ERROR'],
      [9, 'VALIDATION_ERROR'],
    ] as const) {
      const payload = body({ timeZone });
      const res = await postConcert(payload);
      expect(res.statusCode, String(timeZone)).toBe(400);
      expect(json(res).error.code, String(timeZone)).toBe(code);
    }
  });
});

describe('a concert created as before layouts', () => {
  it('keeps numbered seats at one price per date, listed exactly as before, with its price as the range', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app, { dates: 2, seatCount: 3, price: 70_000 });
    const listed = await listedConcert(fan.token, concert.concertId);
    expect(listed).toEqual({ concertId: concert.concertId, title: expect.any(String), venue: 'Test Hall', timeZone: serverZone });
    expect('layout' in listed).toBe(false);
    const dates = json(await get(fan.token, `/api/v1/concerts/${concert.concertId}/dates`)).dates;
    expect(dates[0]).toEqual({
      date: concert.dates[0],
      startsAt: `${concert.dates[0]}T10:00:00.000Z`,
      totalSeats: 3,
      availableSeats: 3,
      minPrice: 70_000,
      maxPrice: 70_000,
    });
    const seats = json(await get(fan.token, `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`)).seats;
    expect(seats).toEqual([1, 2, 3].map((number) => ({ seatId: expect.any(String), number, price: 70_000 })));
    for (const seat of seats) expect(Object.keys(seat).sort()).toEqual(['number', 'price', 'seatId']);
  });

  it('keeps the contract: seatCount 1..200 (default 50) and a required price', async () => {
    const date = uniqueDate();
    for (const [what, dateFields] of [
      ['201 seats', { seatCount: 201, price: 1 }],
      ['no price', { seatCount: 5 }],
    ] as const) {
      const res = await postConcert({ title: 'Old', venue: 'Hall', dates: [{ date, startsAt: `${date}T10:00:00Z`, ...dateFields }] });
      expect(res.statusCode, what).toBe(400);
      expect(json(res).error.code, what).toBe('VALIDATION_ERROR');
    }
    const res = await postConcert({ title: 'Old', venue: 'Hall', dates: [{ date, startsAt: `${date}T10:00:00Z`, price: 1 }] });
    expect(res.statusCode).toBe(201);
    const total = await t.db.selectFrom('concert_dates').select('total_seats').where('concert_id', '=', json(res).concertId).executeTakeFirstOrThrow();
    expect(total.total_seats).toBe(50);
  });
});

describe('the database rules, with the service out of the way', () => {
  it("refuses a seat that names only part of its place, a stage without sections, and a date's price range upside down", async () => {
    const concert = await createConcert(t.app, { seatCount: 1 });
    const date = concert.dates[0]!;
    await expect(
      sql`insert into seats (id, concert_id, date, number, price, section) values (gen_random_uuid(), ${concert.concertId}, ${date}, 99, 1, 'VIP')`.execute(
        t.db,
      ),
    ).rejects.toThrow(/seats_place_all_or_none/);
    await expect(sql`update concerts set stage = 'top' where id = ${concert.concertId}`.execute(t.db)).rejects.toThrow(/concerts_layout_whole/);
    await expect(sql`update concert_dates set min_price = 10, max_price = 5 where concert_id = ${concert.concertId}`.execute(t.db)).rejects.toThrow(
      /concert_dates_price_range/,
    );
    await expect(sql`update concert_dates set total_seats = 2001 where concert_id = ${concert.concertId}`.execute(t.db)).rejects.toThrow(
      /concert_dates_total_seats_check/,
    );
  });
});

describe('migration 0005', () => {
  it("gives existing concerts the server's zone, existing dates their price range and existing seats no place; down undoes it", async () => {
    const pglite = await PGlite.create();
    const db = new Kysely<any>({ dialect: new PGliteDialect(inThisThread(pglite)) });
    try {
      for (const m of [initial, paymentToken, queueLines, sales]) await m.up(db);
      await sql`insert into concerts (id, title, venue) values ('00000000-0000-4000-8000-000000000001', 'Old', 'Hall')`.execute(db);
      await sql`insert into concert_dates (concert_id, date, starts_at, total_seats, available_seats)
        values ('00000000-0000-4000-8000-000000000001', '2027-01-01', now(), 2, 2)`.execute(db);
      await sql`insert into seats (id, concert_id, date, number, price) values
        (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', '2027-01-01', 1, 30000),
        (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', '2027-01-01', 2, 50000)`.execute(db);

      // The server runs in Berlin when it migrates: old concerts get Berlin, as a new one without a zone would.
      await inServerZone('Europe/Berlin', () => seatLayout.up(db));
      const concert = (await sql<any>`select time_zone, stage from concerts`.execute(db)).rows[0];
      expect(concert).toEqual({ time_zone: 'Europe/Berlin', stage: null });
      const date = (await sql<any>`select min_price::int, max_price::int from concert_dates`.execute(db)).rows[0];
      expect(date).toEqual({ min_price: 30_000, max_price: 50_000 });
      const seats = (await sql<any>`select section, "row", seat_in_row from seats`.execute(db)).rows;
      expect(seats).toEqual([
        { section: null, row: null, seat_in_row: null },
        { section: null, row: null, seat_in_row: null },
      ]);
      await expect(sql`insert into concerts (id, title, venue) values (gen_random_uuid(), 'No zone', 'Hall')`.execute(db)).rejects.toThrow(/time_zone/);

      await seatLayout.down(db);
      const columns = (
        await sql<any>`select column_name from information_schema.columns where table_name in ('seats', 'concerts', 'concert_dates')`.execute(db)
      ).rows.map((r: any) => r.column_name);
      for (const gone of ['section', 'row', 'seat_in_row', 'time_zone', 'stage', 'sections', 'min_price', 'max_price']) expect(columns).not.toContain(gone);
      await expect(sql`update concert_dates set total_seats = 201`.execute(db)).rejects.toThrow(/concert_dates_total_seats_check/);
    } finally {
      await db.destroy();
    }
  });
});

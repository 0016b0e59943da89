// Concerts, their dates and seats. A hold that has lapsed counts as free at read time, before the
// sweeper has given it back, so listings are right to the second.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { SeatLayout } from './concert.schemas.js';

/** A date as stored: with a layout, its seats and prices come from the layout and seatCount is its total. */
export interface DateToInsert {
  date: string;
  startsAt: string;
  seatCount: number;
  price: number;
}

export interface ConcertToInsert {
  title: string;
  venue: string;
  timeZone: string;
  layout: SeatLayout | null;
  dates: DateToInsert[];
}

/** SQL for "this seat row is not held or sold right now". */
export const seatIsFree = sql<boolean>`(seats.status = 'FREE' or (seats.status = 'HELD' and seats.held_until <= now()))`;

/** One statement per date, whatever its size: a layout's rows become one VALUES list, each expanded by generate_series. */
export async function insertConcert(trx: Transaction<DB>, concert: ConcertToInsert): Promise<string> {
  const concertId = randomUUID();
  const { layout } = concert;
  await trx
    .insertInto('concerts')
    .values({
      id: concertId,
      title: concert.title,
      venue: concert.venue,
      time_zone: concert.timeZone,
      stage: layout?.stage ?? null,
      sections: layout ? JSON.stringify(layout.sections) : null,
    })
    .execute();
  const layoutRows = layout ? rowsOfLayout(layout) : [];
  const prices = layout ? layout.sections.map((s) => s.price) : [];
  for (const d of concert.dates) {
    const [minPrice, maxPrice] = layout ? [Math.min(...prices), Math.max(...prices)] : [d.price, d.price];
    await trx
      .insertInto('concert_dates')
      .values({
        concert_id: concertId,
        date: d.date,
        starts_at: d.startsAt,
        total_seats: d.seatCount,
        available_seats: d.seatCount,
        min_price: minPrice,
        max_price: maxPrice,
      })
      .execute();
    if (layout) {
      const values = sql.join(layoutRows.map((r) => sql`(${r.first}::int, ${r.seats}::int, ${r.price}::bigint, ${r.section}::text, ${r.row}::text)`));
      await sql`
        insert into seats (id, concert_id, date, number, price, section, "row", seat_in_row)
        select gen_random_uuid(), ${concertId}, ${d.date}, r.first + n - 1, r.price, r.section, r.row_name, n
        from (values ${values}) as r(first, seats, price, section, row_name)
        cross join lateral generate_series(1, r.seats) as n
      `.execute(trx);
    } else {
      await sql`
        insert into seats (id, concert_id, date, number, price)
        select gen_random_uuid(), ${concertId}, ${d.date}, n, ${d.price} from generate_series(1, ${d.seatCount}) as n
      `.execute(trx);
    }
  }
  return concertId;
}

/** The layout's rows in seat order, each with the number of its first seat. */
function rowsOfLayout(layout: SeatLayout) {
  let next = 1;
  return layout.sections.flatMap((section) =>
    section.rows.map((row) => {
      const first = next;
      next += row.seats;
      return { first, seats: row.seats, price: section.price, section: section.name, row: row.name };
    }),
  );
}

export function findConcerts(db: Kysely<DB>) {
  return db.selectFrom('concerts').select(['id', 'title', 'venue', 'time_zone', 'stage', 'sections']).orderBy('created_at').orderBy('id').execute();
}

export async function concertExists(db: Kysely<DB>, concertId: string): Promise<boolean> {
  return (await db.selectFrom('concerts').select('id').where('id', '=', concertId).executeTakeFirst()) !== undefined;
}

/**
 * Every date of a concert with its seats left, counting holds that lapsed but are not swept yet, and
 * when the next live hold of that date lapses (null if none), after which the count grows by itself.
 */
export function findDatesWithAvailability(db: Kysely<DB>, concertId: string) {
  return db
    .selectFrom('concert_dates as d')
    .select([
      'd.date',
      'd.starts_at',
      'd.total_seats',
      'd.min_price',
      'd.max_price',
      sql<number>`d.available_seats + (
        select count(*) from seats s
        where s.concert_id = d.concert_id and s.date = d.date and s.status = 'HELD' and s.held_until <= now()
      )`.as('available_seats'),
      sql<Date | null>`(
        select min(s.held_until) from seats s
        where s.concert_id = d.concert_id and s.date = d.date and s.status = 'HELD' and s.held_until > now()
      )`.as('next_lapse'),
    ])
    .where('d.concert_id', '=', concertId)
    .orderBy('d.date')
    .execute();
}

/** Every seat of a date with whether it is free now (by the database's clock), by number. */
export function findSeatsOfDate(db: Kysely<DB>, concertId: string, date: string) {
  return db
    .selectFrom('seats')
    .select(['id', 'number', 'price', 'section', 'row', 'seat_in_row', 'status', 'held_until', seatIsFree.as('free')])
    .where('concert_id', '=', concertId)
    .where('date', '=', date)
    .orderBy('number')
    .execute();
}

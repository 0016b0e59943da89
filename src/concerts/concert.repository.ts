// Concerts, their dates and seats. A hold that has lapsed counts as free at read time, before the
// sweeper has given it back, so listings are right to the second.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/schema.js';

export interface NewConcertDate {
  date: string;
  startsAt: string;
  seatCount: number;
  price: number;
}

/** SQL for "this seat row is not held or sold right now". */
export const seatIsFree = sql<boolean>`(seats.status = 'FREE' or (seats.status = 'HELD' and seats.held_until <= now()))`;

export async function insertConcert(trx: Transaction<DB>, concert: { title: string; venue: string; dates: NewConcertDate[] }): Promise<string> {
  const concertId = randomUUID();
  await trx.insertInto('concerts').values({ id: concertId, title: concert.title, venue: concert.venue }).execute();
  for (const d of concert.dates) {
    await trx
      .insertInto('concert_dates')
      .values({ concert_id: concertId, date: d.date, starts_at: d.startsAt, total_seats: d.seatCount, available_seats: d.seatCount })
      .execute();
    await sql`
      insert into seats (id, concert_id, date, number, price)
      select gen_random_uuid(), ${concertId}, ${d.date}, n, ${d.price} from generate_series(1, ${d.seatCount}) as n
    `.execute(trx);
  }
  return concertId;
}

export function findConcerts(db: Kysely<DB>) {
  return db.selectFrom('concerts').select(['id', 'title', 'venue']).orderBy('created_at').orderBy('id').execute();
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
    .select(['id', 'number', 'price', 'status', 'held_until', seatIsFree.as('free')])
    .where('concert_id', '=', concertId)
    .where('date', '=', date)
    .orderBy('number')
    .execute();
}

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

export async function insertConcert(
  trx: Transaction<DB>,
  concert: { title: string; venue: string; dates: NewConcertDate[] },
): Promise<string> {
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

export async function dateExists(db: Kysely<DB>, concertId: string, date: string): Promise<boolean> {
  const row = await db
    .selectFrom('concert_dates')
    .select('date')
    .where('concert_id', '=', concertId)
    .where('date', '=', date)
    .executeTakeFirst();
  return row !== undefined;
}

/** Every date of a concert with its seats left, counting holds that lapsed but are not swept yet. */
export function findDatesWithAvailability(db: Kysely<DB>, concertId: string) {
  return db
    .selectFrom('concert_dates as d')
    .select((eb) => [
      'd.date',
      'd.starts_at',
      'd.total_seats',
      sql<number>`d.available_seats + ${eb
        .selectFrom('seats')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('seats.concert_id', '=', 'd.concert_id')
        .whereRef('seats.date', '=', 'd.date')
        .where('seats.status', '=', 'HELD')
        .where('seats.held_until', '<=', sql<Date>`now()`)}`.as('available_seats'),
    ])
    .where('d.concert_id', '=', concertId)
    .orderBy('d.date')
    .execute();
}

export function findFreeSeats(db: Kysely<DB>, concertId: string, date: string) {
  return db
    .selectFrom('seats')
    .select(['id', 'number', 'price'])
    .where('concert_id', '=', concertId)
    .where('date', '=', date)
    .where(seatIsFree)
    .orderBy('number')
    .execute();
}

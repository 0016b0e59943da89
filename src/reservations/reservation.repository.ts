// Seat holds. The seat row is the point of agreement: a hold is one conditional UPDATE of it, so
// exactly one of any number of concurrent holders wins. Lock order everywhere: seat, then
// reservation, then user or date, so holds, payments and sweeps never deadlock.
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, ReservationTable } from '../db/schema.js';
import { seatIsFree } from '../concerts/concert.repository.js';

export type ReservationRow = Selectable<ReservationTable>;

/**
 * Holds a seat, in one statement (one round trip, atomic on its own): takes the seat row if it is free
 * or its hold lapsed, ends the lapsed hold it replaces (if any), takes the seat from its date's count
 * (unless it replaced a lapsed hold, which was never given back), and writes the reservation.
 * Undefined when someone else has the seat, or there is no such seat.
 *
 * The insert reads `replaced` and `counted`, so both run before it: the lapsed reservation must be
 * EXPIRED before the new one enters the one-live-reservation-per-seat index.
 */
export async function holdSeatRow(
  db: Kysely<DB>,
  hold: {
    reservationId: string;
    userId: string;
    concertId: string;
    date: string;
    number: number;
    holdSeconds: number;
    /** The sale whose line the holder stands in; null for the general line. */
    saleId: string | null;
  },
): Promise<ReservationRow | undefined> {
  const { reservationId, userId, concertId, date, number, holdSeconds, saleId } = hold;
  // A concert on sale is held only through its sale's line, and a sale's line holds only its concert.
  const lineMayHold =
    saleId === null
      ? sql`not exists (select 1 from sales s where s.concert_id = ${concertId} and (s.closes_at is null or s.closes_at > now()))`
      : sql`exists (select 1 from sales s where s.id = ${saleId} and s.concert_id = ${concertId})`;
  const result = await sql<ReservationRow>`
    with taken as (
      update seats
      set status = 'HELD', reservation_id = ${reservationId}, held_until = now() + make_interval(secs => ${holdSeconds})
      where concert_id = ${concertId} and date = ${date} and number = ${number}
        and (status = 'FREE' or (status = 'HELD' and held_until <= now()))
        and ${lineMayHold}
      returning id, price, held_until
    ), replaced as (
      update reservations r set status = 'EXPIRED'
      from taken
      where r.seat_id = taken.id and r.status = 'HELD' and r.id <> ${reservationId}
      returning r.id
    ), counted as (
      update concert_dates set available_seats = available_seats - 1
      where concert_id = ${concertId} and date = ${date}
        and exists (select 1 from taken) and not exists (select 1 from replaced)
      returning 1
    )
    insert into reservations (id, user_id, seat_id, concert_id, date, seat_number, price, status, held_until)
    select ${reservationId}, ${userId}, taken.id, ${concertId}, ${date}, ${number}, taken.price, 'HELD', taken.held_until
    from taken
    where (select count(*) from replaced) >= 0 and (select count(*) from counted) >= 0
    returning *
  `.execute(db);
  return result.rows[0];
}

/** A seat's state (undefined if there is no such seat), with `free` judged by the database's clock. */
export function findSeatState(db: Kysely<DB>, seat: { concertId: string; date: string; number: number }) {
  return db
    .selectFrom('seats')
    .select(['status', 'held_until', seatIsFree.as('free')])
    .where('concert_id', '=', seat.concertId)
    .where('date', '=', seat.date)
    .where('number', '=', seat.number)
    .executeTakeFirst();
}

export function findReservation(db: Kysely<DB>, id: string) {
  return db.selectFrom('reservations').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Gives lapsed holds back: frees their seats, ends their reservations and returns them to their
 * dates' counts, in one statement. Rows another transaction has locked are left for the next sweep.
 * Returns the concerts whose seats it freed.
 */
/**
 * The sweeper leaves a lapsed hold alone this long, so a payment that arrived in time but is still
 * waiting for the database finds its seat. Listings and new holds treat the seat as free at once.
 */
export const SWEEP_GRACE_SECONDS = 2;

export async function sweepLapsedHolds(db: Kysely<DB>, limit = 500): Promise<string[]> {
  const result = await sql<{ concert_id: string }>`
    with lapsed as (
      select id, reservation_id from seats
      where status = 'HELD' and held_until <= now() - make_interval(secs => ${SWEEP_GRACE_SECONDS})
      order by held_until
      limit ${limit}
      for update skip locked
    ), freed as (
      update seats s set status = 'FREE', reservation_id = null, held_until = null
      from lapsed where s.id = lapsed.id
      returning s.concert_id, s.date, lapsed.reservation_id
    ), ended as (
      update reservations r set status = 'EXPIRED'
      from freed where r.id = freed.reservation_id and r.status = 'HELD'
    ), counted as (
      update concert_dates d set available_seats = d.available_seats + c.n
      from (select concert_id, date, count(*)::int as n from freed group by concert_id, date) c
      where d.concert_id = c.concert_id and d.date = c.date
    )
    select distinct concert_id from freed
  `.execute(db);
  return result.rows.map((r) => r.concert_id);
}

/**
 * Serialises one fan's holds of one concert (a transaction-scoped advisory lock on the pair), so the
 * seats-per-fan count read after it cannot be outdated by a concurrent hold of the same fan.
 */
export async function lockFanOfConcert(trx: Transaction<DB>, userId: string, concertId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`${userId}:${concertId}`}, 0))`.execute(trx);
}

/** Seats the fan holds (not lapsed, by the database's clock) or owns of this concert. */
export async function countFanSeats(trx: Transaction<DB>, userId: string, concertId: string): Promise<number> {
  const row = await trx
    .selectFrom('reservations')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('user_id', '=', userId)
    .where('concert_id', '=', concertId)
    .where((eb) => eb.or([eb('status', '=', 'CONFIRMED'), eb.and([eb('status', '=', 'HELD'), eb('held_until', '>', sql<Date>`now()`)])]))
    .executeTakeFirstOrThrow();
  return row.n;
}

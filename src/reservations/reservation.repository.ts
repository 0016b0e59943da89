// Seat holds. The seat row is the point of agreement: a hold is one conditional UPDATE of it, so
// exactly one of any number of concurrent holders wins. Lock order everywhere: seat, then
// reservation, then user or date, so holds, payments and sweeps never deadlock.
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, ReservationTable } from '../db/schema.js';
import { seatIsFree } from '../concerts/concert.repository.js';

export type ReservationRow = Selectable<ReservationTable>;

/** Takes the seat if it is free or its hold lapsed. Undefined when someone else has it (or no such seat). */
export async function takeSeat(
  trx: Transaction<DB>,
  seat: { concertId: string; date: string; number: number },
  reservationId: string,
  holdSeconds: number,
) {
  return trx
    .updateTable('seats')
    .set({
      status: 'HELD',
      reservation_id: reservationId,
      held_until: sql`now() + make_interval(secs => ${holdSeconds})`,
    })
    .where('concert_id', '=', seat.concertId)
    .where('date', '=', seat.date)
    .where('number', '=', seat.number)
    .where(seatIsFree)
    .returning(['id', 'price', 'held_until'])
    .executeTakeFirst();
}

/** Ends the lapsed hold a new hold replaced. True if there was one (the seat was not counted free). */
export async function expireReplacedHold(trx: Transaction<DB>, seatId: string, newReservationId: string): Promise<boolean> {
  const result = await trx
    .updateTable('reservations')
    .set({ status: 'EXPIRED' })
    .where('seat_id', '=', seatId)
    .where('status', '=', 'HELD')
    .where('id', '<>', newReservationId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function takeFromAvailableCount(trx: Transaction<DB>, concertId: string, date: string): Promise<void> {
  await trx
    .updateTable('concert_dates')
    .set({ available_seats: sql`available_seats - 1` })
    .where('concert_id', '=', concertId)
    .where('date', '=', date)
    .execute();
}

export async function insertReservation(trx: Transaction<DB>, row: Omit<ReservationRow, 'created_at'>): Promise<ReservationRow> {
  return trx.insertInto('reservations').values(row).returningAll().executeTakeFirstOrThrow();
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
export async function sweepLapsedHolds(db: Kysely<DB>, limit = 500): Promise<string[]> {
  const result = await sql<{ concert_id: string }>`
    with lapsed as (
      select id, reservation_id from seats
      where status = 'HELD' and held_until <= now()
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

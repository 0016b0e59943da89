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
 * The hold lasts `holdSeconds`, but never past `turnEndsAt`, the end of the holder's turn (its ACTIVE
 * token's expiresAt): nobody holds a seat they could no longer pay for. `tokenId` names that token on
 * the reservation, so its live hold and its holds to release are found by it.
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
    /** The queue token that holds (null: none recorded). */
    tokenId?: string | null;
    /** When the holder's turn ends: the hold ends then at the latest (null: no cap). */
    turnEndsAt?: Date | null;
  },
): Promise<ReservationRow | undefined> {
  const { reservationId, userId, concertId, date, number, holdSeconds, saleId, tokenId = null, turnEndsAt = null } = hold;
  // A concert on sale is held only through its sale's line while the sale runs, and a sale's line holds only its concert.
  const lineMayHold =
    saleId === null
      ? sql`not exists (select 1 from sales s where s.concert_id = ${concertId} and (s.closes_at is null or s.closes_at > now()))`
      : sql`exists (select 1 from sales s where s.id = ${saleId} and s.concert_id = ${concertId} and (s.closes_at is null or s.closes_at > now()))`;
  const holdEnds = sql`now() + make_interval(secs => ${holdSeconds})`;
  const heldUntil = turnEndsAt === null ? holdEnds : sql`least(${holdEnds}, ${turnEndsAt.toISOString()}::timestamptz)`;
  const result = await sql<ReservationRow>`
    with taken as (
      update seats
      set status = 'HELD', reservation_id = ${reservationId}, held_until = ${heldUntil}
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
    insert into reservations (id, user_id, seat_id, concert_id, date, seat_number, price, status, held_until, queue_token_id)
    select ${reservationId}, ${userId}, taken.id, ${concertId}, ${date}, ${number}, taken.price, 'HELD', taken.held_until, ${tokenId}::text
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
 * What every give-back of held seats does after its `freed` CTE (each freed seat's concert_id, date and
 * reservation_id): ends their reservations and returns the seats to their dates' counts.
 */
const endFreedHolds = sql`ended as (
      update reservations r set status = 'EXPIRED'
      from freed where r.id = freed.reservation_id and r.status = 'HELD'
    ), counted as (
      update concert_dates d set available_seats = d.available_seats + c.n
      from (select concert_id, date, count(*)::int as n from freed group by concert_id, date) c
      where d.concert_id = c.concert_id and d.date = c.date
    )`;

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
    ), ${endFreedHolds}
    select distinct concert_id from freed
  `.execute(db);
  return result.rows.map((r) => r.concert_id);
}

/**
 * Gives back every hold a queue token still has (its token ended: it paid, or its sale closed), at
 * once: frees the seats, ends the reservations and returns the seats to their dates' counts, in one
 * statement, under the token's lock, so a hold of the token in flight either commits first and is
 * released here, or comes after and sees the token's end (findTokenHolds). Lapsed holds not swept yet
 * go too (the sweeper would return them the same way). Returns the seats it freed.
 */
export async function releaseTokenHolds(trx: Transaction<DB>, tokenId: string): Promise<FreedSeat[]> {
  await lockToken(trx, tokenId);
  return releaseHolds(trx, sql`r.queue_token_id = ${tokenId}`);
}

/**
 * Gives back the holds made through a sale's line once it closed (its tokens ended): every hold of its
 * concert made before `closesAt`, since while the sale ran only its line could hold the concert's seats.
 * Holds the general line makes after the close are left alone. Returns the seats it freed.
 */
export function releaseSaleHolds(db: Kysely<DB>, concertId: string, closesAt: Date): Promise<FreedSeat[]> {
  return releaseHolds(db, sql`s.concert_id = ${concertId} and r.created_at < ${closesAt.toISOString()}::timestamptz`);
}

export interface FreedSeat {
  concert_id: string;
  date: string;
  number: number;
}

/** Frees the held seats whose reservation matches `which` (r: the reservation, s: the seat), like the sweeper does lapsed ones. */
async function releaseHolds(db: Kysely<DB>, which: ReturnType<typeof sql>): Promise<FreedSeat[]> {
  // Seats are locked in one order (by id), so two releases never wait on each other in a circle; a seat
  // a payment sold or a takeover re-held meanwhile no longer matches when its lock is granted.
  const result = await sql<FreedSeat>`
    with target as (
      select s.id, s.reservation_id from seats s join reservations r on r.id = s.reservation_id
      where s.status = 'HELD' and r.status = 'HELD' and ${which}
      order by s.id
      for update of s
    ), freed as (
      update seats s set status = 'FREE', reservation_id = null, held_until = null
      from target where s.id = target.id and s.status = 'HELD' and s.reservation_id = target.reservation_id
      returning s.concert_id, s.date, s.number, target.reservation_id
    ), ${endFreedHolds}
    select concert_id, date, number from freed
  `.execute(db);
  return result.rows;
}

/**
 * Serialises one token's holds (a transaction-scoped advisory lock on it), so its live hold read after
 * it cannot be outdated by a concurrent hold of the same token: one live hold per token.
 */
export async function lockToken(trx: Transaction<DB>, tokenId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`token:${tokenId}`}, 0))`.execute(trx);
}

/**
 * What stands in the way of a token's next hold, read under its lock: its live hold (held and not
 * lapsed, by the database's clock), if any, and whether it paid already (a paid token has ended; a hold
 * that passed the token check just before is refused here rather than outliving the payment).
 */
export async function findTokenHolds(trx: Transaction<DB>, tokenId: string): Promise<{ liveHold: string | null; paid: boolean }> {
  const result = await sql<{ live_hold: string | null; paid: boolean }>`
    select
      (select id from reservations where queue_token_id = ${tokenId} and status = 'HELD' and held_until > now() limit 1) as live_hold,
      exists (select 1 from payments where queue_token_id = ${tokenId}) as paid
  `.execute(trx);
  const row = result.rows[0]!;
  return { liveHold: row.live_hold, paid: row.paid };
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

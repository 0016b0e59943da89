// Payments: selling a held seat, in one statement. The seat is claimed with one conditional UPDATE (still
// held by this reservation and not lapsed), so a payment races a lapse or another payment with exactly
// one winner.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { violates } from '../errors.js';
import type { KeyToStore } from '../idempotency/idempotency.js';

/**
 * Why a payment did not go through, read in one statement: the reservation, its concert's sale that
 * is not closed (or null), whether the seat is still held by it and not lapsed at `arrivedAt`, and the
 * paying user's balance.
 */
export async function findPaymentObstacles(db: Kysely<DB>, reservationId: string, userId: string, arrivedAt: Date) {
  const result = await sql<{
    user_id: string;
    status: string;
    price: number;
    open_sale_id: string | null;
    hold_live: boolean;
    balance: number | null;
  }>`
    select r.user_id, r.status, r.price,
      (select s.id from sales s where s.concert_id = r.concert_id and (s.closes_at is null or s.closes_at > now()) limit 1) as open_sale_id,
      coalesce(seat.status = 'HELD' and seat.reservation_id = r.id and seat.held_until > least(now(), ${arrivedAt}::timestamptz), false) as hold_live,
      (select balance from users where id = ${userId}) as balance
    from reservations r left join seats seat on seat.id = r.seat_id
    where r.id = ${reservationId}
  `.execute(db);
  return result.rows[0];
}

export interface HoldPayment {
  paymentId: string;
  reservationId: string;
  userId: string;
  tokenId: string;
  /** The sale whose line the paying token stands in; null: the general line. */
  saleId: string | null;
  /** When the fan asked to pay: the hold is judged then (see below). */
  arrivedAt: Date;
  /** With an Idempotency-Key: the answer is stored under it by the same statement. */
  key?: KeyToStore;
}

/** A payment as the API answers it (and as its Idempotency-Key stores it). */
export interface Payment {
  paymentId: string;
  reservationId: string;
  userId: string;
  amount: number;
  balance: number;
  paidAt: string;
}

/** The balance check's violation: a concurrent spend left less than the price (see payForHold). */
export function isBalanceShort(err: unknown): boolean {
  return violates(err, '23514', 'users_balance_check');
}

/**
 * A whole payment in one statement, so it holds nothing between round trips: only if the reservation
 * is this user's, still HELD, its concert's open sale is the paying token's (null for both: the
 * general line), the balance covers the price, and (with a key) the key is not stored yet, the seat is
 * claimed with a conditional update (still held by this reservation and not lapsed), and only if it
 * was, the reservation is confirmed, the payment written, the balance debited with its ledger row (a
 * free seat writes none) and the key stored with the answer. Undefined when nothing was written; the
 * caller then reads why (findPaymentObstacles).
 *
 * Races end in one winner or in no write at all: a second payment of the hold waits on the seat's row
 * and then finds it SOLD; the same key's retry finds the seat SOLD the same way (or, arriving later,
 * the key stored); a spend of the balance between the check and the debit makes the debit break the
 * balance's check constraint, which undoes the whole statement (isBalanceShort).
 *
 * The hold is judged at `arrivedAt`, when the fan asked to pay, not when the payment's turn at the
 * database came: under load a payment made in time may wait. (A takeover of the lapsed seat that
 * commits first still wins: it changes the seat's reservation_id.) paid_at is cut to milliseconds, as
 * the answer shows it, so a replay's stored answer and the first one are the same.
 */
export async function payForHold(db: Kysely<DB>, p: HoldPayment): Promise<(Payment & { concertId: string }) | undefined> {
  const keyFree = p.key
    ? sql`and not exists (select 1 from idempotency_keys where user_id = ${p.userId} and endpoint = ${p.key.endpoint} and key = ${p.key.key})`
    : sql``;
  const storeKey = p.key
    ? sql`, stored as (
        insert into idempotency_keys (user_id, endpoint, key, request_hash, response_status, response_body)
        select ${p.userId}::uuid, ${p.key.endpoint}, ${p.key.key}, ${p.key.requestHash}, 201, to_jsonb(answer) from answer
      )`
    : sql``;
  const result = await sql<Payment & { concertId: string }>`
    with target as (
      select r.id, r.seat_id, r.price, r.concert_id from reservations r
      where r.id = ${p.reservationId} and r.user_id = ${p.userId} and r.status = 'HELD'
        and (select s.id from sales s where s.concert_id = r.concert_id and (s.closes_at is null or s.closes_at > now()) limit 1)
          is not distinct from ${p.saleId}::uuid
        and exists (select 1 from users u where u.id = ${p.userId} and u.balance >= r.price)
        ${keyFree}
    ), sold as (
      update seats set status = 'SOLD', held_until = null from target
      where seats.id = target.seat_id and seats.reservation_id = target.id and seats.status = 'HELD'
        and seats.held_until > least(now(), ${p.arrivedAt}::timestamptz)
      returning target.id, target.price
    ), confirmed as (
      update reservations set status = 'CONFIRMED' where id in (select id from sold)
    ), paid as (
      insert into payments (id, reservation_id, user_id, amount, paid_at, queue_token_id, queue_sale_id)
      select ${p.paymentId}::uuid, sold.id, ${p.userId}::uuid, sold.price, date_trunc('milliseconds', now()), ${p.tokenId}::text, ${p.saleId}::uuid
      from sold
      returning amount, paid_at
    ), debited as (
      update users set balance = balance - sold.price from sold where users.id = ${p.userId}
      returning users.balance
    ), ledger as (
      insert into point_ledger (user_id, amount, kind, payment_id)
      select ${p.userId}::uuid, -sold.price, 'PAYMENT', ${p.paymentId}::uuid from sold where sold.price > 0
    ), answer as (
      select ${p.paymentId}::text as "paymentId", ${p.reservationId}::text as "reservationId", ${p.userId}::text as "userId",
        paid.amount as "amount", debited.balance as "balance",
        to_char(paid.paid_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "paidAt"
      from paid, debited
    )${storeKey}
    select answer.*, (select concert_id from target) as "concertId" from answer
  `.execute(db);
  return result.rows[0];
}

/** The token that paid, and the sale whose line it stood in (null: the general line). */
export async function findPayingToken(db: Kysely<DB>, paymentId: string): Promise<{ tokenId: string | null; saleId: string | null } | undefined> {
  const row = await db.selectFrom('payments').select(['queue_token_id', 'queue_sale_id']).where('id', '=', paymentId).executeTakeFirst();
  return row && { tokenId: row.queue_token_id, saleId: row.queue_sale_id };
}

// Payments: selling a held seat. The seat is claimed with one conditional UPDATE (still held by this
// reservation and not lapsed), so a payment races a lapse or another payment with exactly one winner.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/schema.js';

/** The reservation to pay, and in the same read the id of its concert's sale that is not closed (or null). */
export function findReservationToPay(trx: Transaction<DB>, reservationId: string) {
  return trx
    .selectFrom('reservations as r')
    .selectAll('r')
    .select((eb) =>
      eb
        .selectFrom('sales')
        .select('sales.id')
        .whereRef('sales.concert_id', '=', 'r.concert_id')
        .where((w) => w.or([w('sales.closes_at', 'is', null), w('sales.closes_at', '>', sql<Date>`now()`)]))
        .limit(1)
        .as('open_sale_id'),
    )
    .where('r.id', '=', reservationId)
    .executeTakeFirst();
}

export interface HoldPayment {
  paymentId: string;
  reservationId: string;
  seatId: string;
  userId: string;
  amount: number;
  tokenId: string;
  saleId: string | null;
  /** When the fan asked to pay: the hold is judged then (see below). */
  arrivedAt: Date;
}

/**
 * Sells a held seat in one statement: the seat is claimed with a conditional update (still held by
 * this reservation and not lapsed), and only if it was, the reservation is confirmed, the payment
 * written, the balance debited if it covers the price and the debit's ledger row written (a free seat
 * changes no balance and writes no ledger row). One statement is one round trip to the database
 * instead of four; the caller's transaction is what undoes it all when the balance falls short.
 *
 * The hold is judged at `arrivedAt`, when the fan asked to pay, not when the payment's turn at the
 * database came: under load a payment made in time may wait. (A takeover of the lapsed seat that
 * commits first still wins: it changes the seat's reservation_id.)
 *
 * `sold` is false when the seat was not this hold's to sell; `balance` is undefined when it was sold but
 * the balance did not cover it.
 */
export async function payForHold(trx: Transaction<DB>, p: HoldPayment): Promise<{ sold: boolean; balance?: number; paidAt?: Date }> {
  const result = await sql<{ sold: boolean; balance: number | null; paid_at: Date | null }>`
    with sold as (
      update seats set status = 'SOLD', held_until = null
      where id = ${p.seatId} and reservation_id = ${p.reservationId} and status = 'HELD'
        and held_until > least(now(), ${p.arrivedAt}::timestamptz)
      returning id
    ), confirmed as (
      update reservations set status = 'CONFIRMED' where id = ${p.reservationId} and exists (select 1 from sold)
    ), paid as (
      insert into payments (id, reservation_id, user_id, amount, paid_at, queue_token_id, queue_sale_id)
      select ${p.paymentId}::uuid, ${p.reservationId}::uuid, ${p.userId}::uuid, ${p.amount}::bigint, now(), ${p.tokenId}::text, ${p.saleId}::uuid
      from sold
      returning paid_at
    ), debited as (
      update users set balance = balance - ${p.amount}
      where id = ${p.userId} and balance >= ${p.amount} and exists (select 1 from sold)
      returning balance
    ), ledger as (
      insert into point_ledger (user_id, amount, kind, payment_id)
      select ${p.userId}::uuid, ${-p.amount}::bigint, 'PAYMENT', ${p.paymentId}::uuid from debited where ${p.amount}::bigint > 0
    )
    select exists (select 1 from sold) as sold, (select balance from debited) as balance, (select paid_at from paid) as paid_at
  `.execute(trx);
  const row = result.rows[0]!;
  return { sold: row.sold, ...(row.balance !== null ? { balance: Number(row.balance) } : {}), ...(row.paid_at ? { paidAt: new Date(row.paid_at) } : {}) };
}

/** The token that paid, and the sale whose line it stood in (null: the general line). */
export async function findPayingToken(db: Kysely<DB>, paymentId: string): Promise<{ tokenId: string | null; saleId: string | null } | undefined> {
  const row = await db.selectFrom('payments').select(['queue_token_id', 'queue_sale_id']).where('id', '=', paymentId).executeTakeFirst();
  return row && { tokenId: row.queue_token_id, saleId: row.queue_sale_id };
}

// Payments: selling a held seat. The seat is claimed with one conditional UPDATE (still held by this
// reservation and not lapsed), so a payment races a lapse or another payment with exactly one winner.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/schema.js';

/**
 * The hold is judged at `arrivedAt`, when the fan asked to pay, not when the payment's turn at the
 * database came: under load a payment made in time may wait. (A takeover of the lapsed seat that
 * commits first still wins: it changes the seat's reservation_id.)
 */
export async function sellHeldSeat(trx: Transaction<DB>, seatId: string, reservationId: string, arrivedAt: Date): Promise<boolean> {
  const row = await trx
    .updateTable('seats')
    .set({ status: 'SOLD', held_until: null })
    .where('id', '=', seatId)
    .where('reservation_id', '=', reservationId)
    .where('status', '=', 'HELD')
    .where('held_until', '>', sql<Date>`least(now(), ${arrivedAt}::timestamptz)`)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function confirmReservation(trx: Transaction<DB>, reservationId: string): Promise<void> {
  await trx.updateTable('reservations').set({ status: 'CONFIRMED' }).where('id', '=', reservationId).execute();
}

export async function insertPayment(
  trx: Transaction<DB>,
  payment: { id: string; reservationId: string; userId: string; amount: number; tokenId: string; saleId: string | null },
) {
  return trx
    .insertInto('payments')
    .values({
      id: payment.id,
      reservation_id: payment.reservationId,
      user_id: payment.userId,
      amount: payment.amount,
      paid_at: sql<Date>`now()`,
      queue_token_id: payment.tokenId,
      queue_sale_id: payment.saleId,
    })
    .returning('paid_at')
    .executeTakeFirstOrThrow();
}

/** The token that paid, and the sale whose line it stood in (null: the general line). */
export async function findPayingToken(db: Kysely<DB>, paymentId: string): Promise<{ tokenId: string | null; saleId: string | null } | undefined> {
  const row = await db.selectFrom('payments').select(['queue_token_id', 'queue_sale_id']).where('id', '=', paymentId).executeTakeFirst();
  return row && { tokenId: row.queue_token_id, saleId: row.queue_sale_id };
}

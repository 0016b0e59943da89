// Payments: selling a held seat. The seat is claimed with one conditional UPDATE (still held by this
// reservation and not lapsed), so a payment races a lapse or another payment with exactly one winner.
import { sql, type Transaction } from 'kysely';
import type { DB } from '../db/schema.js';

export async function sellHeldSeat(trx: Transaction<DB>, seatId: string, reservationId: string): Promise<boolean> {
  const row = await trx
    .updateTable('seats')
    .set({ status: 'SOLD', held_until: null })
    .where('id', '=', seatId)
    .where('reservation_id', '=', reservationId)
    .where('status', '=', 'HELD')
    .where('held_until', '>', sql<Date>`now()`)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function confirmReservation(trx: Transaction<DB>, reservationId: string): Promise<void> {
  await trx.updateTable('reservations').set({ status: 'CONFIRMED' }).where('id', '=', reservationId).execute();
}

export async function insertPayment(trx: Transaction<DB>, payment: { id: string; reservationId: string; userId: string; amount: number }) {
  return trx
    .insertInto('payments')
    .values({
      id: payment.id,
      reservation_id: payment.reservationId,
      user_id: payment.userId,
      amount: payment.amount,
      paid_at: sql<Date>`now()`,
    })
    .returning('paid_at')
    .executeTakeFirstOrThrow();
}

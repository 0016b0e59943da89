// Balances and the point ledger. Every balance change goes through here and writes its ledger row in
// the caller's transaction, so the balance always equals the ledger sum.
import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { DB } from '../db/schema.js';

export async function findBalance(db: Kysely<DB>, userId: string): Promise<number | undefined> {
  const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
  return row?.balance;
}

export async function creditPoints(trx: Transaction<DB>, userId: string, amount: number): Promise<number | undefined> {
  const row = await trx
    .updateTable('users')
    .set({ balance: sql`balance + ${amount}` })
    .where('id', '=', userId)
    .returning('balance')
    .executeTakeFirst();
  if (!row) return undefined;
  await trx.insertInto('point_ledger').values({ user_id: userId, amount, kind: 'CHARGE', payment_id: null }).execute();
  return row.balance;
}

/** Debits only if the balance covers it; undefined when it does not. */
export async function debitForPayment(trx: Transaction<DB>, userId: string, amount: number, paymentId: string): Promise<number | undefined> {
  const row = await trx
    .updateTable('users')
    .set({ balance: sql`balance - ${amount}` })
    .where('id', '=', userId)
    .where('balance', '>=', amount)
    .returning('balance')
    .executeTakeFirst();
  if (!row) return undefined;
  if (amount > 0) {
    await trx.insertInto('point_ledger').values({ user_id: userId, amount: -amount, kind: 'PAYMENT', payment_id: paymentId }).execute();
  }
  return row.balance;
}

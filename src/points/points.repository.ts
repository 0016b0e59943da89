// Balances and the point ledger. Every balance change goes through here and writes its ledger row in
// the caller's transaction, so the balance always equals the ledger sum.
import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { DB } from '../db/schema.js';

export async function findBalance(db: Kysely<DB>, userId: string): Promise<number | undefined> {
  const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
  return row?.balance;
}

/** The balance change and its ledger row are one statement, so they cannot part (and cost one round trip). */
export async function creditPoints(trx: Transaction<DB>, userId: string, amount: number): Promise<number | undefined> {
  const result = await sql<{ balance: number }>`
    with credited as (
      update users set balance = balance + ${amount} where id = ${userId} returning balance
    ), ledger as (
      insert into point_ledger (user_id, amount, kind, payment_id) select ${userId}::uuid, ${amount}::bigint, 'CHARGE', null from credited
    )
    select balance from credited
  `.execute(trx);
  return result.rows[0]?.balance;
}

/** Debits only if the balance covers it; undefined when it does not. */
export async function debitForPayment(trx: Transaction<DB>, userId: string, amount: number, paymentId: string): Promise<number | undefined> {
  // A free seat changes no balance and so writes no ledger row.
  const ledger =
    amount > 0
      ? sql`insert into point_ledger (user_id, amount, kind, payment_id) select ${userId}::uuid, ${-amount}::bigint, 'PAYMENT', ${paymentId}::uuid from debited`
      : sql`select 1`;
  const result = await sql<{ balance: number }>`
    with debited as (
      update users set balance = balance - ${amount} where id = ${userId} and balance >= ${amount} returning balance
    ), ledger as (${ledger})
    select balance from debited
  `.execute(trx);
  return result.rows[0]?.balance;
}

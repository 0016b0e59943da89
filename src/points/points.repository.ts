// Balances and the point ledger. Every balance change writes its ledger row in the same statement, so
// the balance always equals the ledger sum: top-ups here, a payment's debit in payForHold (payments),
// the statement that sells the seat.
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DB } from '../db/schema.js';
import type { KeyToStore } from '../idempotency/idempotency.js';

export async function findBalance(db: Kysely<DB>, userId: string): Promise<number | undefined> {
  const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
  return row?.balance;
}

/**
 * The balance change and its ledger row are one statement, so they cannot part (and cost one round trip).
 * Outside a transaction the statement is its own.
 */
export async function creditPoints(db: Kysely<DB>, userId: string, amount: number): Promise<number | undefined> {
  const result = await sql<{ balance: number }>`
    with credited as (
      update users set balance = balance + ${amount} where id = ${userId} returning balance
    ), ledger as (
      insert into point_ledger (user_id, amount, kind, payment_id) select ${userId}::uuid, ${amount}::bigint, 'CHARGE', null from credited
    )
    select balance from credited
  `.execute(db);
  return result.rows[0]?.balance;
}

/**
 * A top-up under an Idempotency-Key as one statement: unless the key is already stored, the balance,
 * its ledger row and the key with its answer ({ userId, balance }) are written together. Undefined when
 * nothing was written: the key was there already, or the user does not exist.
 *
 * Two of the same key at once cannot both credit: the second waits on the first's lock on the user's
 * row, and its insert of the key then violates the key's primary key once the first has committed
 * (idempotency_keys_pk), which undoes the whole statement; the caller replays the stored answer.
 */
export async function creditPointsOnce(db: Kysely<DB>, userId: string, amount: number, key: KeyToStore): Promise<number | undefined> {
  const result = await sql<{ balance: number }>`
    with credited as (
      update users set balance = balance + ${amount}
      where id = ${userId}
        and not exists (select 1 from idempotency_keys where user_id = ${userId} and endpoint = ${key.endpoint} and key = ${key.key})
      returning balance
    ), ledger as (
      insert into point_ledger (user_id, amount, kind, payment_id) select ${userId}::uuid, ${amount}::bigint, 'CHARGE', null from credited
    ), stored as (
      insert into idempotency_keys (user_id, endpoint, key, request_hash, response_status, response_body)
      select ${userId}::uuid, ${key.endpoint}, ${key.key}, ${key.requestHash}, 200, jsonb_build_object('userId', ${userId}::uuid, 'balance', balance)
      from credited
    )
    select balance from credited
  `.execute(db);
  return result.rows[0]?.balance;
}

// The fan's side tells the truth: a hold names the queue token that made it, so "this token's live
// hold" is one SQL condition (one live hold per token; a token's end releases its holds), and each
// line keeps the operator's message beside its pause, in PostgreSQL, the source of truth of both.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Null for holds made before this migration: they belong to no token and lapse as they always did.
  await db.schema.alterTable('reservations').addColumn('queue_token_id', 'text').execute();
  // The live holds of one token: read under the token's lock by every hold, and by every release.
  await db.schema.createIndex('reservations_token_held_idx').on('reservations').column('queue_token_id').where(sql.ref('status'), '=', 'HELD').execute();
  // Whether a token has paid: a hold checks it under the token's lock, so no hold outlives the payment
  // that ended its token.
  await db.schema.createIndex('payments_queue_token_idx').on('payments').column('queue_token_id').execute();
  await db.schema.alterTable('queue_lines').addColumn('message', 'text').execute();
  await db.schema.alterTable('sales').addColumn('message', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sales').dropColumn('message').execute();
  await db.schema.alterTable('queue_lines').dropColumn('message').execute();
  await db.schema.dropIndex('payments_queue_token_idx').execute();
  await db.schema.dropIndex('reservations_token_held_idx').execute();
  await db.schema.alterTable('reservations').dropColumn('queue_token_id').execute();
}

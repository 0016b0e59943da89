// Remembers which queue token paid, so a retried payment can end that token if the first attempt's
// instance died between the commit and ending it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('payments').addColumn('queue_token_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('payments').dropColumn('queue_token_id').execute();
}

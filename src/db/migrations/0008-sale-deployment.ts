// A sale belongs to the deployment that created it (its REDIS_PREFIX), as a waiting line does: only
// that deployment's instances run its line (the draw, admission, the close). Several deployments (or
// test runs) sharing one database otherwise each ran every sale, and one with an empty copy of the
// line could record an empty draw. Sales made before this belong to the default prefix.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('sales')
    .addColumn('deployment', 'text', (c) => c.notNull().defaultTo('boxoffice:'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sales').dropColumn('deployment').execute();
}

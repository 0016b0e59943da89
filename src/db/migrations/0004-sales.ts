// Sales: a concert put on sale at a set time through a line of its own. The draw's seed is kept here,
// secret until the sale opens; only its SHA-256 commitment is public before. `drawn_at` is set exactly
// once, by one conditional update, together with the entries that took part in the draw.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sales')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('concert_id', 'uuid', (c) => c.notNull().references('concerts.id'))
    .addColumn('queue_opens_at', 'timestamptz', (c) => c.notNull())
    .addColumn('opens_at', 'timestamptz', (c) => c.notNull())
    .addColumn('closes_at', 'timestamptz')
    .addColumn('active_limit', 'integer', (c) => c.notNull().check(sql`active_limit between 0 and 1000000`))
    .addColumn('paused', 'boolean', (c) => c.notNull().defaultTo(false))
    // Bumped by every change of the line's settings or schedule, so a copy only takes a newer one.
    .addColumn('settings_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('max_seats_per_user', 'integer', (c) => c.notNull().defaultTo(4).check(sql`max_seats_per_user between 1 and 200`))
    .addColumn('seed', 'text', (c) => c.notNull())
    .addColumn('commitment', 'text', (c) => c.notNull())
    .addColumn('drawn_at', 'timestamptz')
    // A JSON array of the entry ids that took part in the draw: written once, read by GET /draw.
    .addColumn('draw_entries', 'text')
    .addColumn('sold_out_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('sales_schedule_ordered', sql`queue_opens_at <= opens_at and (closes_at is null or opens_at < closes_at)`)
    .addCheckConstraint('sales_drawn_with_entries', sql`(drawn_at is null) = (draw_entries is null)`)
    .execute();
  await db.schema.createIndex('sales_concert_idx').on('sales').column('concert_id').execute();
  // The line of the token that paid, so a retried payment ends the token in the right line.
  await db.schema.alterTable('payments').addColumn('queue_sale_id', 'uuid').execute();
  // Reservations per user and concert: the seats-per-fan rule counts them under a lock.
  await db.schema.createIndex('reservations_user_concert_idx').on('reservations').columns(['user_id', 'concert_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('reservations_user_concert_idx').execute();
  await db.schema.alterTable('payments').dropColumn('queue_sale_id').execute();
  await db.schema.dropTable('sales').execute();
}

// The first schema. Constraints carry the invariants even where code is wrong: one live hold or sale
// per seat, no negative balance, counts within bounds, one payment per reservation.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`balance >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('concerts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('venue', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('concert_dates')
    .addColumn('concert_id', 'uuid', (c) => c.notNull().references('concerts.id'))
    .addColumn('date', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'timestamptz', (c) => c.notNull())
    .addColumn('total_seats', 'integer', (c) => c.notNull().check(sql`total_seats between 1 and 200`))
    .addColumn('available_seats', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('concert_dates_pk', ['concert_id', 'date'])
    .addCheckConstraint('concert_dates_available_in_range', sql`available_seats between 0 and total_seats`)
    .execute();

  await db.schema
    .createTable('seats')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('concert_id', 'uuid', (c) => c.notNull())
    .addColumn('date', 'text', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull().check(sql`number >= 1`))
    .addColumn('price', 'bigint', (c) => c.notNull().check(sql`price >= 0`))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('FREE').check(sql`status in ('FREE', 'HELD', 'SOLD')`))
    .addColumn('reservation_id', 'uuid')
    .addColumn('held_until', 'timestamptz')
    .addForeignKeyConstraint('seats_date_fk', ['concert_id', 'date'], 'concert_dates', ['concert_id', 'date'])
    .addUniqueConstraint('seats_number_unique', ['concert_id', 'date', 'number'])
    // A free seat names no reservation; a held or sold one names exactly the reservation that has it.
    .addCheckConstraint(
      'seats_state_consistent',
      sql`(status = 'FREE' and reservation_id is null and held_until is null)
        or (status = 'HELD' and reservation_id is not null and held_until is not null)
        or (status = 'SOLD' and reservation_id is not null)`,
    )
    .execute();

  await db.schema
    .createTable('reservations')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id'))
    .addColumn('seat_id', 'uuid', (c) => c.notNull().references('seats.id'))
    .addColumn('concert_id', 'uuid', (c) => c.notNull())
    .addColumn('date', 'text', (c) => c.notNull())
    .addColumn('seat_number', 'integer', (c) => c.notNull())
    .addColumn('price', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('HELD', 'CONFIRMED', 'EXPIRED')`))
    .addColumn('held_until', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // At most one live (held or sold) reservation per seat, whatever the code does.
  await db.schema
    .createIndex('reservations_one_live_per_seat')
    .on('reservations')
    .column('seat_id')
    .unique()
    .where(sql.ref('status'), 'in', ['HELD', 'CONFIRMED'])
    .execute();
  await db.schema.createIndex('reservations_user_idx').on('reservations').column('user_id').execute();
  await db.schema.createIndex('seats_held_until_idx').on('seats').column('held_until').where(sql.ref('status'), '=', 'HELD').execute();

  await db.schema
    .createTable('payments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('reservation_id', 'uuid', (c) => c.notNull().unique().references('reservations.id'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id'))
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount >= 0`))
    .addColumn('paid_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('point_ledger')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id'))
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount <> 0`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('CHARGE', 'PAYMENT')`))
    .addColumn('payment_id', 'uuid', (c) => c.references('payments.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'point_ledger_kind_sign',
      sql`(kind = 'CHARGE' and amount > 0 and payment_id is null) or (kind = 'PAYMENT' and amount < 0 and payment_id is not null)`,
    )
    .execute();
  await db.schema.createIndex('point_ledger_user_idx').on('point_ledger').column('user_id').execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id'))
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer', (c) => c.notNull())
    .addColumn('response_body', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'endpoint', 'key'])
    .execute();
  await db.schema.createIndex('idempotency_keys_created_idx').on('idempotency_keys').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['idempotency_keys', 'point_ledger', 'payments', 'reservations', 'seats', 'concert_dates', 'concerts', 'users']) {
    await db.schema.dropTable(table).execute();
  }
}

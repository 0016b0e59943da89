// Seat layouts: a seat may name its section, its row and its place in that row; a concert names its
// venue's time zone, where its stage is drawn and its sections; a date keeps its price range. A date may now have up
// to 2,000 seats (a layout's most).
import { sql, type Kysely } from 'kysely';

/**
 * The zone concerts created before this migration get: the server's, the same default a concert created
 * without a timeZone gets from now on. It is filled in here and then required; there is no database
 * default, so every later concert states its zone (the service always does).
 */
function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('seats')
    .addColumn('section', 'text')
    .addColumn('row', 'text')
    // 1-based place of the seat in its row, counted from the row's first seat.
    .addColumn('seat_in_row', 'integer', (c) => c.check(sql`seat_in_row >= 1`))
    .execute();
  // A seat of a layout names all three; a numbered seat of a concert without one names none.
  await db.schema
    .alterTable('seats')
    .addCheckConstraint('seats_place_all_or_none', sql`(section is null) = ("row" is null) and ("row" is null) = (seat_in_row is null)`)
    .execute();

  await db.schema.alterTable('concerts').addColumn('time_zone', 'text').execute();
  await sql`update concerts set time_zone = ${serverTimeZone()}`.execute(db);
  await db.schema
    .alterTable('concerts')
    .alterColumn('time_zone', (c) => c.setNotNull())
    .execute();
  // Null: the concert has no layout (numbered seats, drawn as a plain grid). Its sections as the operator
  // gave them (names, prices, rows): the concerts listing reads them here rather than from the seats of
  // every concert, which would grow with every concert ever sold.
  await db.schema
    .alterTable('concerts')
    .addColumn('stage', 'text', (c) => c.check(sql`stage in ('top', 'bottom', 'left', 'right')`))
    .addColumn('sections', 'jsonb')
    .execute();
  await db.schema.alterTable('concerts').addCheckConstraint('concerts_layout_whole', sql`(stage is null) = (sections is null)`).execute();

  // A date's price range, fixed when it is created as its seats' prices are: the dates listing reads it
  // with the counts instead of scanning every seat of every date after each hold.
  await db.schema.alterTable('concert_dates').addColumn('min_price', 'bigint').addColumn('max_price', 'bigint').execute();
  await sql`
    update concert_dates d set min_price = s.min_price, max_price = s.max_price
    from (select concert_id, date, min(price) as min_price, max(price) as max_price from seats group by concert_id, date) s
    where s.concert_id = d.concert_id and s.date = d.date
  `.execute(db);
  // Every date has seats (total_seats >= 1), so none is left null; 0 is a safe floor if one ever were.
  await sql`update concert_dates set min_price = 0, max_price = 0 where min_price is null`.execute(db);
  await db.schema
    .alterTable('concert_dates')
    .alterColumn('min_price', (c) => c.setNotNull())
    .alterColumn('max_price', (c) => c.setNotNull())
    .execute();
  await db.schema.alterTable('concert_dates').addCheckConstraint('concert_dates_price_range', sql`0 <= min_price and min_price <= max_price`).execute();

  // PostgreSQL's name for 0001's inline check of total_seats.
  await db.schema.alterTable('concert_dates').dropConstraint('concert_dates_total_seats_check').execute();
  await db.schema.alterTable('concert_dates').addCheckConstraint('concert_dates_total_seats_check', sql`total_seats between 1 and 2000`).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('concert_dates').dropConstraint('concert_dates_total_seats_check').execute();
  await db.schema.alterTable('concert_dates').addCheckConstraint('concert_dates_total_seats_check', sql`total_seats between 1 and 200`).execute();
  await db.schema.alterTable('concert_dates').dropConstraint('concert_dates_price_range').execute();
  await db.schema.alterTable('concert_dates').dropColumn('max_price').dropColumn('min_price').execute();
  await db.schema.alterTable('concerts').dropConstraint('concerts_layout_whole').execute();
  await db.schema.alterTable('concerts').dropColumn('sections').dropColumn('stage').execute();
  await db.schema.alterTable('concerts').dropColumn('time_zone').execute();
  await db.schema.alterTable('seats').dropConstraint('seats_place_all_or_none').execute();
  await db.schema.alterTable('seats').dropColumn('seat_in_row').dropColumn('row').dropColumn('section').execute();
}

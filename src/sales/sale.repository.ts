// Sales in PostgreSQL, and the seat counts a sale's admission follows. The draw's moment is one
// conditional update: exactly one instance records it, with the entries that took part.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, SaleTable } from '../db/schema.js';

export type SaleRow = Selectable<SaleTable> & { title: string; venue: string };

function selectSales(db: Kysely<DB>) {
  return db.selectFrom('sales as s').innerJoin('concerts as c', 'c.id', 's.concert_id').selectAll('s').select(['c.title', 'c.venue']);
}

/** A sale of this deployment (REDIS_PREFIX); another deployment's is none of its business. */
export function findSale(db: Kysely<DB>, deployment: string, saleId: string): Promise<SaleRow | undefined> {
  return selectSales(db).where('s.id', '=', saleId).where('s.deployment', '=', deployment).executeTakeFirst();
}

/** Every sale of this deployment not closed by the database's clock, soonest opensAt first. */
export function findOpenSales(db: Kysely<DB>, deployment: string): Promise<SaleRow[]> {
  return selectSales(db)
    .where('s.deployment', '=', deployment)
    .where((eb) => eb.or([eb('s.closes_at', 'is', null), eb('s.closes_at', '>', sql<Date>`now()`)]))
    .orderBy('s.opens_at')
    .orderBy('s.id')
    .execute();
}

/**
 * Inserts a sale unless its concert already has one not closed. The concert row is locked first, so two
 * operators creating a sale for one concert at once cannot both pass the check.
 */
export async function insertSale(
  trx: Transaction<DB>,
  sale: {
    /** The deployment (REDIS_PREFIX) whose instances run the sale's line. */
    deployment: string;
    concertId: string;
    queueOpensAt: Date;
    opensAt: Date;
    closesAt: Date | null;
    activeLimit: number;
    maxSeatsPerUser: number;
    seed: string;
    commitment: string;
  },
): Promise<'created' | 'no-concert' | 'exists' | string> {
  const concert = await trx.selectFrom('concerts').select('id').where('id', '=', sale.concertId).forUpdate().executeTakeFirst();
  if (!concert) return 'no-concert';
  const existing = await trx
    .selectFrom('sales')
    .select('id')
    .where('concert_id', '=', sale.concertId)
    .where((eb) => eb.or([eb('closes_at', 'is', null), eb('closes_at', '>', sql<Date>`now()`)]))
    .executeTakeFirst();
  if (existing) return 'exists';
  const id = randomUUID();
  await trx
    .insertInto('sales')
    .values({
      id,
      deployment: sale.deployment,
      concert_id: sale.concertId,
      queue_opens_at: sale.queueOpensAt,
      opens_at: sale.opensAt,
      closes_at: sale.closesAt,
      active_limit: sale.activeLimit,
      max_seats_per_user: sale.maxSeatsPerUser,
      seed: sale.seed,
      commitment: sale.commitment,
    })
    .execute();
  return id;
}

export interface SaleUpdate {
  activeLimit?: number;
  paused?: boolean;
  queueOpensAt?: Date;
  opensAt?: Date;
  closesAt?: Date | null;
  /** The operator's message to the line (already trimmed; null clears it). */
  message?: string | null;
}

/** Applies a change and bumps the settings version, in one statement. Undefined if there is no such sale. */
export async function updateSale(db: Kysely<DB>, saleId: string, change: SaleUpdate): Promise<boolean> {
  const result = await db
    .updateTable('sales')
    .set({
      ...(change.activeLimit !== undefined ? { active_limit: change.activeLimit } : {}),
      ...(change.paused !== undefined ? { paused: change.paused } : {}),
      ...(change.queueOpensAt !== undefined ? { queue_opens_at: change.queueOpensAt } : {}),
      ...(change.opensAt !== undefined ? { opens_at: change.opensAt } : {}),
      ...(change.closesAt !== undefined ? { closes_at: change.closesAt } : {}),
      ...(change.message !== undefined ? { message: change.message } : {}),
      settings_version: sql<number>`settings_version + 1`,
    })
    .where('id', '=', saleId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Records the draw: the first caller at or after opens_at (by the database's clock) wins and stores the
 * entries; every later call changes nothing. True for the one call that recorded it.
 */
export async function recordDraw(db: Kysely<DB>, saleId: string, entryIds: string[]): Promise<boolean> {
  const result = await db
    .updateTable('sales')
    .set({ drawn_at: sql<Date>`now()`, draw_entries: JSON.stringify(entryIds) })
    .where('id', '=', saleId)
    .where('drawn_at', 'is', null)
    .where('opens_at', '<=', sql<Date>`now()`)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function findDrawEntries(db: Kysely<DB>, saleId: string): Promise<string[] | undefined> {
  const row = await db.selectFrom('sales').select('draw_entries').where('id', '=', saleId).executeTakeFirst();
  return row?.draw_entries ? (JSON.parse(row.draw_entries) as string[]) : undefined;
}

/** Marks the sale sold out, once. True for the call that marked it. */
export async function markSoldOut(db: Kysely<DB>, saleId: string): Promise<boolean> {
  const result = await db
    .updateTable('sales')
    .set({ sold_out_at: sql<Date>`now()` })
    .where('id', '=', saleId)
    .where('sold_out_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface SeatCounts {
  total: number;
  sold: number;
  /** Held and not lapsed (by the database's clock). */
  held: number;
  free: number;
}

/** The seat counts of several concerts in one query (by concert id; a concert without seats is absent). */
export async function countSeatsOfConcerts(db: Kysely<DB>, concertIds: string[]): Promise<Map<string, SeatCounts>> {
  const counts = new Map<string, SeatCounts>();
  if (concertIds.length === 0) return counts;
  const rows = await db
    .selectFrom('seats')
    .select([
      'concert_id',
      sql<number>`count(*)::int`.as('total'),
      sql<number>`(count(*) filter (where status = 'SOLD'))::int`.as('sold'),
      sql<number>`(count(*) filter (where status = 'HELD' and held_until > now()))::int`.as('held'),
    ])
    .where('concert_id', 'in', concertIds)
    .groupBy('concert_id')
    .execute();
  for (const r of rows) counts.set(r.concert_id, { total: r.total, sold: r.sold, held: r.held, free: r.total - r.sold - r.held });
  return counts;
}

export async function countSeats(db: Kysely<DB>, concertId: string): Promise<SeatCounts> {
  const row = await db
    .selectFrom('seats')
    .select([
      sql<number>`count(*)::int`.as('total'),
      sql<number>`(count(*) filter (where status = 'SOLD'))::int`.as('sold'),
      sql<number>`(count(*) filter (where status = 'HELD' and held_until > now()))::int`.as('held'),
    ])
    .where('concert_id', '=', concertId)
    .executeTakeFirstOrThrow();
  return { total: row.total, sold: row.sold, held: row.held, free: row.total - row.sold - row.held };
}

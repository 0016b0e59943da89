// A line's settings and the in-process store's snapshot, in PostgreSQL. Operator changes are written
// here first; the queue store's copy follows, and is re-seeded from here after Redis comes back empty.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import type { LineSettings, QueueSettings } from './queue.store.js';

function toSettings(row: { active_limit: number; paused: boolean; version: number }): LineSettings {
  return { activeLimit: row.active_limit, paused: row.paused, version: row.version };
}

/** The line's settings, created from `initial` if the line has none yet (its first start). */
export async function ensureLineSettings(db: Kysely<DB>, line: string, initial: QueueSettings): Promise<LineSettings> {
  await db
    .insertInto('queue_lines')
    .values({ line, active_limit: initial.activeLimit, paused: initial.paused })
    .onConflict((oc) => oc.column('line').doNothing())
    .execute();
  return loadLineSettings(db, line);
}

export async function loadLineSettings(db: Kysely<DB>, line: string): Promise<LineSettings> {
  const row = await db.selectFrom('queue_lines').select(['active_limit', 'paused', 'version']).where('line', '=', line).executeTakeFirstOrThrow();
  return toSettings(row);
}

/** One statement: the change and a new version, so concurrent operators' changes are ordered. */
export async function updateLineSettings(db: Kysely<DB>, line: string, change: Partial<QueueSettings>): Promise<LineSettings> {
  const row = await db
    .updateTable('queue_lines')
    .set({
      ...(change.activeLimit !== undefined ? { active_limit: change.activeLimit } : {}),
      ...(change.paused !== undefined ? { paused: change.paused } : {}),
      version: sql<number>`version + 1`,
      updated_at: sql<Date>`now()`,
    })
    .where('line', '=', line)
    .returning(['active_limit', 'paused', 'version'])
    .executeTakeFirstOrThrow();
  return toSettings(row);
}

export async function saveQueueSnapshot(db: Kysely<DB>, line: string, body: string, savedAt: Date): Promise<void> {
  await db
    .insertInto('queue_snapshots')
    .values({ line, body, saved_at: savedAt })
    .onConflict((oc) => oc.column('line').doUpdateSet({ body, saved_at: savedAt }))
    .execute();
}

/** Every snapshot whose line starts with `prefix` (one deployment's lines). */
export async function loadQueueSnapshots(db: Kysely<DB>, prefix: string): Promise<{ line: string; body: string; savedAt: Date }[]> {
  const rows = await db
    .selectFrom('queue_snapshots')
    .select(['line', 'body', 'saved_at'])
    .where(sql<boolean>`starts_with(line, ${prefix})`)
    .execute();
  return rows.map((r) => ({ line: r.line, body: r.body, savedAt: new Date(r.saved_at) }));
}

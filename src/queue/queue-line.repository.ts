// A line's settings and the in-process store's snapshot, in PostgreSQL. Operator changes are written
// here first; the queue store's copy follows, and is re-seeded from here after Redis comes back empty.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import type { LineSettings, QueueSettings } from './queue.store.js';

function toSettings(row: { active_limit: number; paused: boolean; version: number; message: string | null }): LineSettings {
  return { activeLimit: row.active_limit, paused: row.paused, version: row.version, message: row.message };
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
  const row = await db.selectFrom('queue_lines').select(['active_limit', 'paused', 'version', 'message']).where('line', '=', line).executeTakeFirstOrThrow();
  return toSettings(row);
}

/** One statement: the change and a new version, so concurrent operators' changes are ordered. */
export async function updateLineSettings(db: Kysely<DB>, line: string, change: Partial<QueueSettings>): Promise<LineSettings> {
  const row = await db
    .updateTable('queue_lines')
    .set({
      ...(change.activeLimit !== undefined ? { active_limit: change.activeLimit } : {}),
      ...(change.paused !== undefined ? { paused: change.paused } : {}),
      ...(change.message !== undefined ? { message: change.message } : {}),
      version: sql<number>`version + 1`,
      updated_at: sql<Date>`now()`,
    })
    .where('line', '=', line)
    .returning(['active_limit', 'paused', 'version', 'message'])
    .executeTakeFirstOrThrow();
  return toSettings(row);
}

/** Rows per statement when saving tokens: one statement stays well under PostgreSQL's parameter limit. */
const TOKEN_ROWS_PER_STATEMENT = 1_000;

/**
 * Saves a line's snapshot in one transaction: its state, the tokens given (all of them with `replace`,
 * which first drops the ones saved before; otherwise those that changed), and drops the forgotten ones.
 */
export async function saveQueueSnapshot(
  db: Kysely<DB>,
  snapshot: { line: string; state: string; tokens: [string, string][]; forgotten: string[]; replace: boolean; savedAt: Date },
): Promise<void> {
  const { line, state, tokens, forgotten, replace, savedAt } = snapshot;
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('queue_snapshots')
      .values({ line, body: state, saved_at: savedAt })
      .onConflict((oc) => oc.column('line').doUpdateSet({ body: state, saved_at: savedAt }))
      .execute();
    if (replace) await trx.deleteFrom('queue_snapshot_tokens').where('line', '=', line).execute();
    for (let i = 0; i < tokens.length; i += TOKEN_ROWS_PER_STATEMENT) {
      const rows = tokens.slice(i, i + TOKEN_ROWS_PER_STATEMENT).map(([tokenId, body]) => ({ line, token_id: tokenId, body }));
      await trx
        .insertInto('queue_snapshot_tokens')
        .values(rows)
        .onConflict((oc) => oc.columns(['line', 'token_id']).doUpdateSet({ body: sql<string>`excluded.body` }))
        .execute();
    }
    for (let i = 0; i < forgotten.length; i += TOKEN_ROWS_PER_STATEMENT) {
      await trx
        .deleteFrom('queue_snapshot_tokens')
        .where('line', '=', line)
        .where('token_id', 'in', forgotten.slice(i, i + TOKEN_ROWS_PER_STATEMENT))
        .execute();
    }
  });
}

/** Every snapshot whose line starts with `prefix` (one deployment's lines), with its tokens. */
export async function loadQueueSnapshots(db: Kysely<DB>, prefix: string): Promise<{ line: string; state: string; tokens: string[]; savedAt: Date }[]> {
  const rows = await db.selectFrom('queue_snapshots').select(['line', 'body', 'saved_at']).where(sql<boolean>`starts_with(line, ${prefix})`).execute();
  const lines = [];
  for (const row of rows) {
    const tokens = await db.selectFrom('queue_snapshot_tokens').select('body').where('line', '=', row.line).execute();
    lines.push({ line: row.line, state: row.body, tokens: tokens.map((t) => t.body), savedAt: new Date(row.saved_at) });
  }
  return lines;
}

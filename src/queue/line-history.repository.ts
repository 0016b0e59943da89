// The lines' history in PostgreSQL: one row per line and bucket. Every instance adds what its own
// admission passes did to the bucket's row, so the row is the sum over the deployment.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface HistoryRow {
  /** `<REDIS_PREFIX><lineId>`. */
  line: string;
  at: Date;
  waiting: number;
  active: number;
  admitted: number;
  abandoned: number;
  waitCounts: number[];
}

/**
 * Adds the rows to their buckets in one statement: the line's figures (the same shared line, read by
 * any instance) replace the bucket's, admissions and wait counts add to it.
 */
export async function addToHistory(db: Kysely<DB>, rows: readonly HistoryRow[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.map(
    (r) => sql`(${r.line}, ${r.at}, ${r.waiting}, ${r.active}, ${r.admitted}, ${r.abandoned}, ${`{${r.waitCounts.join(',')}}`}::integer[])`,
  );
  await sql`
    insert into queue_line_history as h (line, at, waiting, active, admitted, abandoned, wait_counts)
    values ${sql.join(values)}
    on conflict (line, at) do update set
      waiting = excluded.waiting,
      active = excluded.active,
      admitted = h.admitted + excluded.admitted,
      abandoned = h.abandoned + excluded.abandoned,
      wait_counts = array(
        select coalesce(a, 0) + coalesce(b, 0)
        from unnest(h.wait_counts, excluded.wait_counts) with ordinality as t(a, b, i)
        order by i
      )
  `.execute(db);
}

/** A line's rows from `from` on, oldest first. */
export async function readHistory(db: Kysely<DB>, line: string, from: Date): Promise<HistoryRow[]> {
  const rows = await db
    .selectFrom('queue_line_history')
    .select(['line', 'at', 'waiting', 'active', 'admitted', 'abandoned', 'wait_counts'])
    .where('line', '=', line)
    .where('at', '>=', from)
    .orderBy('at')
    .execute();
  return rows.map(({ wait_counts, ...row }) => ({ ...row, at: new Date(row.at), waitCounts: wait_counts }));
}

/** Forgets buckets older than `before`, every line's. */
export async function pruneHistory(db: Kysely<DB>, before: Date): Promise<void> {
  await db.deleteFrom('queue_line_history').where('at', '<', before).execute();
}

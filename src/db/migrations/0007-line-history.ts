// Each line's history for the operator page: one row per line and time bucket, written by every instance
// (figures of the shared line replace each other; admissions and their waits add up), so the charts
// cover every instance and outlive any one process.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('queue_line_history')
    // `<REDIS_PREFIX><lineId>`, like queue_lines: deployments sharing one database keep their own.
    .addColumn('line', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('waiting', 'integer', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('admitted', 'integer', (c) => c.notNull())
    .addColumn('abandoned', 'integer', (c) => c.notNull())
    // Admitted tokens' waits counted per bucket of the wait histogram (src/queue/line-history.ts).
    .addColumn('wait_counts', sql`integer[]`, (c) => c.notNull())
    .addPrimaryKeyConstraint('queue_line_history_pk', ['line', 'at'])
    .execute();
  await db.schema.createIndex('queue_line_history_at_idx').on('queue_line_history').column('at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('queue_line_history').execute();
}

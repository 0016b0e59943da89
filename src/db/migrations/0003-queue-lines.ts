// The waiting lines' settings live in PostgreSQL, their source of truth: Redis (or the in-process store)
// holds a copy that is re-seeded from here when it comes back empty. The in-process store also keeps a
// snapshot of its line here, so an embedded restart does not forget who was waiting.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('queue_lines')
    // `<REDIS_PREFIX>general`: deployments (and test runs) sharing one database keep lines of their own.
    .addColumn('line', 'text', (c) => c.primaryKey())
    .addColumn('active_limit', 'integer', (c) => c.notNull().check(sql`active_limit between 0 and 1000000`))
    .addColumn('paused', 'boolean', (c) => c.notNull().defaultTo(false))
    // Bumped by every change, so a copy is only ever replaced by a newer one.
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // The in-process store's lines: each line's own state (small, rewritten whole), and its tokens, of
  // which a snapshot rewrites only those that changed.
  await db.schema
    .createTable('queue_snapshots')
    .addColumn('line', 'text', (c) => c.primaryKey())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('saved_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('queue_snapshot_tokens')
    .addColumn('line', 'text', (c) => c.notNull())
    .addColumn('token_id', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('queue_snapshot_tokens_pk', ['line', 'token_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('queue_snapshot_tokens').execute();
  await db.schema.dropTable('queue_snapshots').execute();
  await db.schema.dropTable('queue_lines').execute();
}

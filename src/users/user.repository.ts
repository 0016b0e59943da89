// Users: created by operators (or the demo seed); the queue asks only whether one exists.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { isUuid } from '../ids.js';

export async function insertUser(db: Kysely<DB>, name: string | null): Promise<string> {
  const id = randomUUID();
  await db.insertInto('users').values({ id, name }).execute();
  return id;
}

/** Many users in one statement, for operators seeding a sale (and for load tests). */
export async function insertUsers(db: Kysely<DB>, count: number, namePrefix: string | null): Promise<string[]> {
  const result = await sql<{ id: string }>`
    insert into users (id, name)
    select gen_random_uuid(), case when ${namePrefix}::text is null then null else ${namePrefix}::text || n end
    from generate_series(1, ${count}::int) as n
    returning id
  `.execute(db);
  return result.rows.map((r) => r.id);
}

const MAX_BATCH = 500;
type Batch = Map<string, Array<{ resolve: (found: boolean) => void; reject: (err: unknown) => void }>>;

/**
 * Whether a user exists, for many callers at once: the lookups asked for in one turn of the event
 * loop go to the database as one statement. A burst of joins then costs a statement per batch rather
 * than one per fan, which on the embedded database (one session, its CPU shared with the server) is
 * what keeps everything else answering during the burst.
 */
export function batchedUserExists(db: Kysely<DB>): (id: string) => Promise<boolean> {
  let batch: Batch | undefined;

  async function flush(ids: Batch): Promise<void> {
    try {
      const rows = await db
        .selectFrom('users')
        .select('id')
        .where('id', 'in', [...ids.keys()])
        .execute();
      const found = new Set(rows.map((r) => r.id));
      for (const [id, waiters] of ids) for (const w of waiters) w.resolve(found.has(id));
    } catch (err) {
      for (const waiters of ids.values()) for (const w of waiters) w.reject(err);
    }
  }

  return (given) =>
    new Promise<boolean>((resolve, reject) => {
      // One malformed id must not fail its batch-mates' statement: it names nobody.
      if (!isUuid(given)) return resolve(false);
      // As PostgreSQL prints uuids, to match the rows' ids.
      const id = given.toLowerCase();
      if (!batch || batch.size >= MAX_BATCH) {
        const current: Batch = new Map();
        batch = current;
        setImmediate(() => {
          if (batch === current) batch = undefined;
          void flush(current);
        });
      }
      const waiters = batch.get(id) ?? [];
      waiters.push({ resolve, reject });
      batch.set(id, waiters);
    });
}

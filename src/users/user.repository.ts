// Users: created by operators (or the demo seed); the queue asks only whether one exists.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

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

export async function userExists(db: Kysely<DB>, id: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

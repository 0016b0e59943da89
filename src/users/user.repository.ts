// Users: created by operators (or the demo seed); the queue asks only whether one exists.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export async function insertUser(db: Kysely<DB>, name: string | null): Promise<string> {
  const id = randomUUID();
  await db.insertInto('users').values({ id, name }).execute();
  return id;
}

export async function userExists(db: Kysely<DB>, id: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

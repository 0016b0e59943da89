// Transactions through the embedded dialect, where `begin` travels with the first statement: a
// failing first statement leaves nothing behind, a later failure undoes the first, an empty
// transaction sends nothing, and parameters keep their types on the worker's own query path.
import { readFile } from 'node:fs/promises';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { PGliteDialect } from '../../src/db/pglite-dialect.js';
import { PGliteThread } from '../../src/db/pglite-thread.js';

describe('transactions on the embedded database thread', () => {
  let thread: PGliteThread;
  let db: Kysely<any>;

  beforeAll(async () => {
    const template = inject('pgliteTemplate');
    thread = template ? await PGliteThread.open({ template: new Blob([await readFile(template)]) }) : await PGliteThread.open({ dataDir: 'memory://' });
    db = new Kysely<any>({ dialect: new PGliteDialect(thread) });
    await sql`create table tx_probe (id int primary key, note text, body jsonb, at timestamptz)`.execute(db);
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('when a later statement fails, the first statement (sent with begin) is rolled back too', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('tx_probe').values({ id: 1, note: 'first' }).execute();
        await trx.insertInto('tx_probe').values({ id: 1, note: 'duplicate' }).execute();
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await db.selectFrom('tx_probe').selectAll().where('id', '=', 1).execute()).toEqual([]);
    // The session is out of the failed transaction: the next one commits.
    await db.transaction().execute((trx) => trx.insertInto('tx_probe').values({ id: 1, note: 'after' }).execute());
    expect(await db.selectFrom('tx_probe').select('note').where('id', '=', 1).execute()).toEqual([{ note: 'after' }]);
  });

  it('when the first statement fails, nothing is left open and the next transaction runs', async () => {
    await expect(db.transaction().execute((trx) => sql`select 1 / 0`.execute(trx))).rejects.toMatchObject({ code: '22012' });
    await db.transaction().execute((trx) => trx.insertInto('tx_probe').values({ id: 2, note: 'ok' }).execute());
    expect(await db.selectFrom('tx_probe').select('note').where('id', '=', 2).execute()).toEqual([{ note: 'ok' }]);
  });

  it('a transaction that runs nothing, or throws before its first statement, sends nothing and frees the session', async () => {
    await db.transaction().execute(async () => undefined);
    await expect(db.transaction().execute(async () => Promise.reject(new Error('refused early')))).rejects.toThrow('refused early');
    expect((await sql<{ n: number }>`select 1::int as n`.execute(db)).rows).toEqual([{ n: 1 }]);
  });

  it('parameters keep their types: json text, dates, nulls and numbers round-trip', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    await db
      .insertInto('tx_probe')
      .values({ id: 3, note: null, body: JSON.stringify({ a: [1, 'x'] }), at })
      .execute();
    const row = await db.selectFrom('tx_probe').selectAll().where('id', '=', 3).executeTakeFirstOrThrow();
    expect(row).toEqual({ id: 3, note: null, body: { a: [1, 'x'] }, at });
  });
});

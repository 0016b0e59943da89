// The embedded database on its worker thread, through the dialect the app uses: answers, rollbacks,
// transactions that never interleave, PostgreSQL's error fields, and a main thread that keeps running.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { PGliteDialect } from '../../src/db/pglite-dialect.js';
import { EmbeddedDatabaseError, PGliteThread } from '../../src/db/pglite-thread.js';

const HEAVY_QUERY = 'select count(*)::int8 as n from generate_series(1, 3000000)';

/** The migrated template when the run built one (quicker than an empty database's initdb). */
async function templateBlob(): Promise<Blob | undefined> {
  const template = inject('pgliteTemplate');
  return template ? new Blob([await readFile(template)]) : undefined;
}

async function openThread(): Promise<PGliteThread> {
  const template = await templateBlob();
  return template ? PGliteThread.open({ template }) : PGliteThread.open({ dataDir: 'memory://' });
}

/** Runs `work` while a 5 ms interval ticks; returns how long it took and the longest gap between ticks. */
async function measureLag(work: () => Promise<unknown>): Promise<{ durationMs: number; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const end = performance.now();
  // A stall that lasted to the end of the work shows only here, after the last tick.
  maxGapMs = Math.max(maxGapMs, end - last);
  return { durationMs: end - started, maxGapMs };
}

let thread: PGliteThread;
let db: Kysely<any>;
let table: string;

beforeAll(async () => {
  thread = await openThread();
  db = new Kysely<any>({ dialect: new PGliteDialect(thread) });
});
afterAll(() => db?.destroy());

async function freshTable(): Promise<string> {
  table = `t_${randomUUID().replaceAll('-', '')}`;
  await sql`create table ${sql.table(table)} (id int8 primary key, n int8 not null, at timestamptz not null default now(), doc jsonb)`.execute(db);
  return table;
}

describe('the embedded database on a worker thread', () => {
  it('answers with rows, affected-row counts, int8 as numbers, timestamps as Dates and jsonb as objects', async () => {
    const t = await freshTable();
    const inserted = await db
      .insertInto(t)
      .values([
        { id: 1, n: 10, doc: JSON.stringify({ a: [1, 2] }) },
        { id: 2, n: 20 },
      ])
      .returning(['id', 'n', 'at', 'doc'])
      .execute();
    expect(inserted).toHaveLength(2);
    expect(inserted[0]).toMatchObject({ id: 1, n: 10, doc: { a: [1, 2] } });
    expect(inserted[0]?.at).toBeInstanceOf(Date);

    const updated = await db.updateTable(t).set({ n: sql`n + 1` }).where('id', 'in', [1, 2]).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(2n);
    const rows = await db.selectFrom(t).select(['id', 'n']).orderBy('id').execute();
    expect(rows).toEqual([
      { id: 1, n: 11 },
      { id: 2, n: 21 },
    ]);
    const deleted = await db.deleteFrom(t).where('id', '=', 2).executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(1n);
  });

  it('refuses an int8 outside the safe integer range instead of rounding it', async () => {
    await expect(sql`select 9007199254740993::int8 as big`.execute(db)).rejects.toThrow(/outside the safe integer range/);
    // The session is still usable afterwards.
    expect((await sql<{ n: number }>`select 9007199254740991::int8 as n`.execute(db)).rows).toEqual([{ n: 9007199254740991 }]);
  });

  it('rolls a transaction back when it throws: its writes are gone', async () => {
    const t = await freshTable();
    await db.insertInto(t).values({ id: 1, n: 1 }).execute();
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.updateTable(t).set({ n: 100 }).where('id', '=', 1).execute();
        await trx.insertInto(t).values({ id: 2, n: 2 }).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.selectFrom(t).select(['id', 'n']).execute()).toEqual([{ id: 1, n: 1 }]);
  });

  it('when 20 transactions read, increment and write one row at once, none of the increments is lost', async () => {
    const t = await freshTable();
    await db.insertInto(t).values({ id: 1, n: 0 }).execute();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction().execute(async (trx) => {
          const { n } = await trx.selectFrom(t).select('n').where('id', '=', 1).executeTakeFirstOrThrow();
          // A pause between the read and the write: anything interleaving would read the same n.
          await new Promise((r) => setTimeout(r, i % 3));
          await trx
            .updateTable(t)
            .set({ n: n + 1 })
            .where('id', '=', 1)
            .execute();
        }),
      ),
    );
    expect(await db.selectFrom(t).select('n').where('id', '=', 1).executeTakeFirstOrThrow()).toEqual({ n: 20 });
  });

  it('statements sent without waiting for answers never land inside a transaction: rolled-back transactions take none of them along', async () => {
    const t = await freshTable();
    await db
      .insertInto(t)
      .values([
        { id: 1, n: 0 },
        { id: 2, n: 0 },
      ])
      .execute();
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      // A transaction that writes, pauses, writes again and then fails: all of it is undone.
      work.push(
        db
          .transaction()
          .execute(async (trx) => {
            await trx.updateTable(t).set({ n: sql`n + 1000` }).where('id', '=', 1).execute();
            await new Promise((r) => setTimeout(r, i % 3));
            await trx.updateTable(t).set({ n: sql`n + 1000` }).where('id', '=', 2).execute();
            throw new Error('undo');
          })
          .catch(() => undefined),
      );
      // Statements of their own between them, each sent as soon as its turn comes.
      for (let j = 0; j < 5; j++)
        work.push(
          db
            .updateTable(t)
            .set({ n: sql`n + 1` })
            .where('id', '=', 1 + (j % 2))
            .execute(),
        );
    }
    await Promise.all(work);
    expect(await db.selectFrom(t).select(['id', 'n']).orderBy('id').execute()).toEqual([
      { id: 1, n: 60 },
      { id: 2, n: 40 },
    ]);
  });

  it('a unique violation arrives as a real Error carrying SQLSTATE 23505, the constraint and the detail', async () => {
    const t = await freshTable();
    await db.insertInto(t).values({ id: 1, n: 1 }).execute();
    const err = await db
      .transaction()
      .execute((trx) => trx.insertInto(t).values({ id: 1, n: 2 }).execute())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(EmbeddedDatabaseError);
    expect(err).toMatchObject({ code: '23505', constraint: `${t}_pkey`, severity: 'ERROR' });
    expect((err as EmbeddedDatabaseError).message).toMatch(/duplicate key value violates unique constraint/);
    expect((err as EmbeddedDatabaseError).detail).toMatch(/already exists/);
    // The failed transaction was rolled back and the session goes on.
    expect(await db.selectFrom(t).select(['id', 'n']).execute()).toEqual([{ id: 1, n: 1 }]);
  });

  it('keeps the event loop ticking while the worker runs a heavy query', async () => {
    const { durationMs, maxGapMs } = await measureLag(() => sql.raw(HEAVY_QUERY).execute(db));
    // The query must take long enough for a stall to be told apart from scheduling noise.
    expect(durationMs).toBeGreaterThan(250);
    // On the main thread the loop would stand still for the whole query (see the control below); a
    // loaded machine may still deschedule it now and then, so the bound is a share of the duration.
    expect(maxGapMs).toBeLessThan(durationMs / 4);
  });

  it('(the control) the same query on an in-thread PGlite stalls the loop for about its whole duration', async () => {
    const template = await templateBlob();
    const pglite = template ? await PGlite.create({ loadDataDir: template }) : await PGlite.create('memory://');
    try {
      const { durationMs, maxGapMs } = await measureLag(() => pglite.query(HEAVY_QUERY));
      expect(maxGapMs).toBeGreaterThan(durationMs * 0.7);
    } finally {
      await pglite.close();
    }
  });
});

describe('opening and closing the thread', () => {
  it('DATA_DIR=memory:// opens an empty in-memory database in the worker, and destroy ends it', async () => {
    const memory = await openDatabase({ databaseUrl: undefined, dataDir: 'memory://' });
    const { rows } = await sql<{ tables: number }>`select count(*)::int8 as tables from pg_tables where schemaname = 'public'`.execute(memory);
    expect(rows).toEqual([{ tables: 0 }]);
    await memory.destroy();
    await expect(sql`select 1`.execute(memory)).rejects.toThrow();
  });

  it('close ends the thread: the session reports closed and refuses further statements', async () => {
    const own = await openThread();
    expect((await own.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await own.close();
    expect(own.closed).toBe(true);
    await expect(own.query('select 1')).rejects.toThrow(/closed|exited/);
    await own.close();
  });
});

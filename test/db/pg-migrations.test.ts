// Instances starting together race through the migrations: one runs them, the others wait and find
// nothing to do. On PostgreSQL only (DATABASE_URL), directly or through a pooler in transaction mode,
// where a session-level lock could be taken on one server session and released on another.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type Database, migrateDatabase, openDatabase } from '../../src/db/database.js';

const databaseUrl = process.env.DATABASE_URL;

async function onServer(query: string): Promise<void> {
  const maintenance = new URL(databaseUrl!);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

describe.skipIf(!databaseUrl)('migrations on PostgreSQL', () => {
  it('when three instances migrate a new database at once, each finishes, every migration runs once, and no lock outlives them', async () => {
    const name = `boxoffice_migrate_${randomBytes(4).toString('hex')}`;
    await onServer(`create database ${name}`);
    const url = new URL(databaseUrl!);
    url.pathname = `/${name}`;
    const config = {
      databaseUrl: url.toString(),
      dataDir: 'memory://',
      databaseTransactionPooling: process.env.DATABASE_TRANSACTION_POOLING === 'true',
    };
    const dbs: Database[] = [];
    const unexpected: Error[] = [];
    // Other instances' requests meanwhile: through a pooler they keep server sessions changing hands.
    const others = new pg.Pool({ connectionString: url.toString(), max: 4 });
    // The drop at the end terminates this database's sessions (57P01), and pg.Pool's end() resolves
    // before its clients' sockets have closed: one still closing then reports the termination as an
    // idle client's error, which a pool without a listener throws out of the test run.
    others.on('error', (error) => {
      if ((error as { code?: string }).code !== '57P01') unexpected.push(error);
    });
    let busy = true;
    const traffic = (async () => {
      while (busy) await Promise.all([1, 2, 3, 4].map(() => others.query('select pg_sleep(0.02)')));
    })();
    try {
      for (let i = 0; i < 3; i++) dbs.push(await openDatabase(config));
      const migrated = Promise.all(dbs.map((db) => migrateDatabase(config, db)));
      const deadline = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 20_000).unref());
      expect(await Promise.race([migrated.then(() => 'done' as const), deadline])).toBe('done');
      busy = false;
      await traffic;

      const db = dbs[0]!;
      const runs = await sql<{ name: string; n: number }>`select name, count(*)::int as n from kysely_migration group by name`.execute(db);
      expect(runs.rows.length).toBeGreaterThanOrEqual(8);
      expect(runs.rows.filter((r) => r.n !== 1)).toEqual([]);
      const locks = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks
        where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())
      `.execute(db);
      expect(locks.rows[0]!.n).toBe(0);
      expect(unexpected).toEqual([]);
    } finally {
      busy = false;
      await traffic.catch(() => undefined);
      await others.end();
      await Promise.all(dbs.map((db) => db.destroy().catch(() => undefined)));
      await onServer(`drop database if exists ${name} with (force)`);
    }
  });
});

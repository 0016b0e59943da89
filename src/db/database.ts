// Opens the source of truth: real PostgreSQL through pg when DATABASE_URL is set, embedded PGlite
// otherwise. Both speak the same SQL, run the same migrations and are used through one Kysely type.
import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import * as initial from './migrations/0001-initial.js';
import * as paymentToken from './migrations/0002-payment-token.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { DB } from './schema.js';

export type Database = Kysely<DB>;

const INT8_OID = 20;

/** Migrations are imported, not read from a folder, so they travel inside the build. */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-payment-token': paymentToken,
};

const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};

function readInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} is outside the safe integer range`);
  return n;
}

export interface OpenOptions {
  /** A dumped, migrated embedded database to start from instead of `dataDir` (tests clone one). */
  pgliteTemplate?: Blob;
}

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'databasePoolMax'>>,
  options: OpenOptions = {},
): Promise<Database> {
  if (config.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      // Transactions are short, so a small pool per process beats a large one (and every instance has one).
      max: config.databasePoolMax ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? readInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const parsers = { [INT8_OID]: readInt8 };
  const pglite = options.pgliteTemplate
    ? await PGlite.create({ loadDataDir: options.pgliteTemplate, parsers })
    : await PGlite.create(config.dataDir, { parsers });
  return new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
}

export async function migrateToLatest(db: Database): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}

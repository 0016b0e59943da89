// Opens the source of truth: real PostgreSQL through pg when DATABASE_URL is set, embedded PGlite
// otherwise (on a worker thread, holding DATA_DIR's lock). Both speak the same SQL, run the same
// migrations and are used through one Kysely type.
import { Kysely, Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Config } from '../config.js';
import * as initial from './migrations/0001-initial.js';
import * as paymentToken from './migrations/0002-payment-token.js';
import * as queueLines from './migrations/0003-queue-lines.js';
import * as sales from './migrations/0004-sales.js';
import * as seatLayout from './migrations/0005-seat-layout.js';
import * as turnAndHold from './migrations/0006-turn-and-hold.js';
import * as lineHistory from './migrations/0007-line-history.js';
import * as saleDeployment from './migrations/0008-sale-deployment.js';
import { PGliteDialect } from './pglite-dialect.js';
import { PGliteThread } from './pglite-thread.js';
import { SessionlessPostgresDialect } from './pg-dialect.js';
import { createPgPool, DEFAULT_POOL_TIMEOUTS, sessionSettings, type PoolTimeouts } from './pg-pool.js';
import type { DB } from './schema.js';

export type Database = Kysely<DB>;

/** Connections of the pool in use, and callers waiting for one (the embedded database: its one session). */
export interface PoolUsage {
  inUse: number;
  waiting: number;
}

const usageOf = new WeakMap<Database, () => PoolUsage>();

/** How busy a database opened by openDatabase is now; undefined for one opened elsewhere. */
export function poolUsage(db: Database): PoolUsage | undefined {
  return usageOf.get(db)?.();
}

/** Migrations are imported, not read from a folder, so they travel inside the build. */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-payment-token': paymentToken,
  '0003-queue-lines': queueLines,
  '0004-sales': sales,
  '0005-seat-layout': seatLayout,
  '0006-turn-and-hold': turnAndHold,
  '0007-line-history': lineHistory,
  '0008-sale-deployment': saleDeployment,
};

const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};

export interface OpenOptions {
  /** A dumped, migrated embedded database to start from instead of `dataDir` (tests clone one). */
  pgliteTemplate?: Blob;
  /** Told of connection errors the pool recovers from by itself (a server restart drops every connection). */
  onError?: (error: Error) => void;
  /** PostgreSQL only: overrides the fail-fast timeouts (migrations wait on each other's lock). */
  timeouts?: PoolTimeouts;
  /** PostgreSQL only: the connections run migrations, each transaction holding the migration lock. */
  migrations?: boolean;
}

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'databasePoolMax' | 'databaseTransactionPooling'>>,
  options: OpenOptions = {},
): Promise<Database> {
  if (config.databaseUrl) {
    const timeouts = options.timeouts ?? DEFAULT_POOL_TIMEOUTS;
    const pooled = config.databaseTransactionPooling ?? false;
    const pool = createPgPool(config.databaseUrl, config.databasePoolMax ?? 10, options.onError ?? (() => undefined), timeouts, pooled);
    // Through a pooler in transaction mode the connection's settings hold for one transaction: each sets its own.
    const dialect = new SessionlessPostgresDialect(
      { pool },
      { transactionSettings: pooled ? sessionSettings(timeouts) : {}, migrationLock: options.migrations ?? false },
    );
    const db = new Kysely<DB>({ dialect });
    usageOf.set(db, () => ({ inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount }));
    return db;
  }
  const session = await PGliteThread.open(options.pgliteTemplate ? { template: options.pgliteTemplate } : { dataDir: config.dataDir });
  const dialect = new PGliteDialect(session);
  const db = new Kysely<DB>({ dialect });
  usageOf.set(db, () => ({ inUse: dialect.usage.inUse, waiting: dialect.usage.waiting }));
  return db;
}

/**
 * Brings the database to the latest schema. On PostgreSQL, on connections of its own without the
 * request timeouts: instances starting together wait on each other's migration lock, longer than any request may.
 */
export async function migrateDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'databaseTransactionPooling'>>,
  db: Database,
): Promise<void> {
  if (!config.databaseUrl) return migrateToLatest(db);
  const patient = await openDatabase(
    { ...config, databasePoolMax: 1 },
    {
      timeouts: { connectMs: 10_000, statementMs: 0, queryMs: 0 },
      migrations: true,
    },
  );
  try {
    await migrateToLatest(patient);
  } finally {
    await patient.destroy();
  }
}

export async function migrateToLatest(db: Database): Promise<void> {
  // Migrations are independent of each other's order: one written on a branch may land after a later-numbered one
  // a database already ran, and still runs.
  const migrator = new Migrator({ db, provider: migrationProvider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}

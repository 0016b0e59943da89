// Kysely's PostgreSQL dialect, made safe behind a pooler in transaction mode (PgBouncer): there, two
// statements share a server session only inside one transaction, so nothing may rely on session state.
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  PostgresAdapter,
  PostgresDialect,
  type PostgresDialectConfig,
  PostgresDriver,
  type TransactionSettings,
} from 'kysely';

/** Kysely's own migration lock id, so a database migrated by an older build is serialised with this one. */
const MIGRATION_LOCK_ID = '3853314791062309107';

export interface SessionlessOptions {
  /**
   * Server settings for every transaction (SET LOCAL), where a pooler would refuse them at connect:
   * name → value, e.g. statement_timeout → 1200. Empty: the connection's own settings apply.
   */
  transactionSettings?: Readonly<Record<string, string | number>>;
  /** Migrations only: each transaction first takes the migration lock, held until it ends. */
  migrationLock?: boolean;
}

/**
 * Kysely 0.28's migrator serialises instances with a session-level advisory lock taken and released
 * by statements outside its transaction; behind a pooler in transaction mode those can run on different
 * server sessions, leaving the lock held by a session nobody releases. This dialect instead takes a
 * transaction-scoped lock as the migration transaction's first statement (the migrator's own lock calls do
 * nothing), which serialises the same way on a direct connection and through a pooler.
 */
export class SessionlessPostgresDialect extends PostgresDialect {
  readonly #config: PostgresDialectConfig;
  readonly #options: SessionlessOptions;

  constructor(config: PostgresDialectConfig, options: SessionlessOptions = {}) {
    super(config);
    this.#config = config;
    this.#options = options;
  }

  override createDriver(): Driver {
    return new SessionlessPostgresDriver(this.#config, this.#options);
  }

  override createAdapter(): DialectAdapter {
    return this.#options.migrationLock ? new TransactionLockAdapter() : new PostgresAdapter();
  }
}

class SessionlessPostgresDriver extends PostgresDriver {
  readonly #first: CompiledQuery[] = [];

  constructor(config: PostgresDialectConfig, options: SessionlessOptions) {
    super(config);
    // One round trip after BEGIN: set_config(name, value, is_local = true) is SET LOCAL as a function.
    const settings = Object.entries(options.transactionSettings ?? {}).map(
      ([name, value]) => `set_config('${name.replaceAll("'", "''")}', '${String(value).replaceAll("'", "''")}', true)`,
    );
    if (settings.length > 0) this.#first.push(CompiledQuery.raw(`select ${settings.join(', ')}`));
    // A statement of its own, so the wait for the lock runs under the timeout just set.
    if (options.migrationLock) this.#first.push(CompiledQuery.raw(`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`));
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await super.beginTransaction(connection, settings);
    for (const query of this.#first) await connection.executeQuery(query);
  }
}

/** The migration lock is the transaction's own (see SessionlessPostgresDriver): nothing to take or release outside it. */
class TransactionLockAdapter extends PostgresAdapter {
  override async acquireMigrationLock(): Promise<void> {}

  override async releaseMigrationLock(): Promise<void> {}
}

// A Kysely dialect over embedded PGlite. PGlite is one session, so connections are handed out one at a
// time: a transaction owns the session until it ends, and nothing else's statements interleave with it.
// The session is a PGliteThread (PGlite on a worker thread) in the app, or a PGlite object in this
// thread where blocking does not matter (building the test template, which also dumps it).
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/** What the dialect needs of a session; PGlite and PGliteThread both have it. */
export interface EmbeddedSession {
  query<R>(sql: string, params: unknown[]): Promise<{ rows: R[]; affectedRows?: number; command?: string }>;
  readonly closed: boolean;
  close(): Promise<void>;
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly session: EmbeddedSession) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.session.query<R>(compiled.sql, compiled.parameters as unknown[]);
    const changed = ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].some((c) => result.command?.toUpperCase().startsWith(c));
    return {
      rows: result.rows,
      ...(changed ? { numAffectedRows: BigInt(result.affectedRows ?? 0) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on the embedded database');
  }
}

/** A FIFO mutex: acquire() resolves in call order, each after the previous holder released. */
class SessionLock {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => released);
    return acquired;
  }
}

class PGliteDriver implements Driver {
  private readonly lock = new SessionLock();
  private readonly releases = new WeakMap<DatabaseConnection, () => void>();
  private readonly connection: PGliteConnection;

  constructor(private readonly session: EmbeddedSession) {
    this.connection = new PGliteConnection(session);
  }

  async init(): Promise<void> {
    // Both kinds of session are open by the time they reach the dialect (PGlite.create, PGliteThread.open).
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.lock.acquire();
    // One PGlite session means one connection object; the lock makes sure it has one user at a time.
    this.releases.set(this.connection, release);
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = this.releases.get(connection);
    this.releases.delete(connection);
    release?.();
  }

  async destroy(): Promise<void> {
    const release = await this.lock.acquire();
    try {
      if (!this.session.closed) await this.session.close();
    } finally {
      release();
    }
  }
}

export class PGliteDialect implements Dialect {
  constructor(private readonly session: EmbeddedSession) {}

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.session);
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

// A Kysely dialect over embedded PGlite. PGlite is one session, so its use is taken in turns: a
// transaction owns the session until it ends, and nothing else's statements interleave with it.
// The session is a PGliteThread (PGlite on a worker thread) in the app, or a PGlite object in this
// thread where blocking does not matter (building the test template, which also dumps it).
import type { PGlite } from '@electric-sql/pglite';
import {
  type CompiledQuery,
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

/** What the dialect needs of a session; PGliteThread has it, and inThisThread() makes one of a PGlite. */
export interface EmbeddedSession {
  /** Runs `sql`; with `begin`, runs that statement first and `sql` only if it succeeded, in one turn. */
  query<R>(sql: string, params: unknown[], options?: { begin?: string }): Promise<{ rows: R[]; affectedRows?: number; command?: string }>;
  /**
   * True when statements run in the order query() was called, each to its end before the next starts,
   * so a caller may send the next statement before the last one's answer is back.
   */
  readonly ordered?: boolean;
  readonly closed: boolean;
  close(): Promise<void>;
}

/** A PGlite in this thread as a session (where blocking does not matter: building the test template). */
export function inThisThread(pglite: PGlite): EmbeddedSession {
  return {
    async query<R>(text: string, params: unknown[], options?: { begin?: string }) {
      if (options?.begin) await pglite.query(options.begin);
      return pglite.query<R>(text, params);
    },
    get closed() {
      return pglite.closed;
    },
    close: () => pglite.close(),
  };
}

/** How busy the one session is: the embedded database's counterpart of a pool's in-use and waiting counts. */
export interface SessionUsage {
  /** 1 while a statement or transaction holds the session, else 0. */
  inUse: number;
  /** Turns asked for and not given yet. */
  waiting: number;
}

/** A FIFO mutex: acquire() resolves in call order, each after the previous holder released. */
class SessionLock {
  private tail: Promise<void> = Promise.resolve();
  readonly usage: SessionUsage = { inUse: 0, waiting: 0 };

  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      let done = false;
      release = () => {
        if (done) return;
        done = true;
        this.usage.inUse--;
        resolve();
      };
    });
    this.usage.waiting++;
    const acquired = this.tail.then(() => {
      this.usage.waiting--;
      this.usage.inUse++;
      return release;
    });
    this.tail = this.tail.then(() => released);
    return acquired;
  }
}

/**
 * One user's turn on the session. A transaction holds the session from its first statement until its
 * commit or rollback is sent; nobody else's statement can land inside it.
 *
 * Two round trips are saved per transaction, because the one session is what a burst waits for and
 * each round trip also waits for this thread's event loop to read the answer:
 * - `begin` is not sent alone: it travels with the transaction's first statement (and a transaction
 *   that runs no statement sends nothing).
 * - on an ordered session the turn ends as soon as a statement outside a transaction, or a commit or
 *   rollback, has been sent, not when its answer is back: the next statement queues behind it on the
 *   database's side, where it runs after it in any case.
 */
class PGliteConnection implements DatabaseConnection {
  private pendingBegin: string | undefined;
  private inTransaction = false;

  constructor(
    private readonly session: EmbeddedSession,
    private readonly lock: SessionLock,
    private release: (() => void) | undefined,
  ) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    await this.hold();
    const begin = this.pendingBegin;
    this.pendingBegin = undefined;
    const answer = this.session.query<R>(compiled.sql, compiled.parameters as unknown[], begin ? { begin } : undefined);
    if (!this.inTransaction) this.sent();
    const result = await answer;
    const changed = ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].some((c) => result.command?.toUpperCase().startsWith(c));
    return {
      rows: result.rows,
      ...(changed ? { numAffectedRows: BigInt(result.affectedRows ?? 0) } : {}),
    };
  }

  async begin(statement: string): Promise<void> {
    await this.hold();
    this.pendingBegin = statement;
    this.inTransaction = true;
  }

  /** Sends commit or rollback, unless the transaction never sent its begin. */
  async end(statement: 'commit' | 'rollback'): Promise<void> {
    this.inTransaction = false;
    if (this.pendingBegin !== undefined) {
      this.pendingBegin = undefined;
      return;
    }
    const answer = this.session.query(statement, []);
    this.sent();
    await answer;
  }

  /** Gives the session up (once; later calls do nothing). */
  releaseSession(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  // biome-ignore lint/correctness/useYield: the interface asks for a generator; the embedded database cannot stream
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on the embedded database');
  }

  /** A connection that gave its turn up early takes a new one before its next statement. */
  private async hold(): Promise<void> {
    this.release ??= await this.lock.acquire();
  }

  private sent(): void {
    if (this.session.ordered) this.releaseSession();
  }
}

class PGliteDriver implements Driver {
  constructor(
    private readonly session: EmbeddedSession,
    private readonly lock: SessionLock,
  ) {}

  async init(): Promise<void> {
    // Both kinds of session are open by the time they reach the dialect (PGlite.create, PGliteThread.open).
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // One PGlite session; each user gets a connection object of its own that holds the session's turn.
    return new PGliteConnection(this.session, this.lock, await this.lock.acquire());
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await (connection as PGliteConnection).begin(`begin${isolation}`);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end('commit');
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end('rollback');
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PGliteConnection).releaseSession();
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
  private readonly lock = new SessionLock();

  constructor(private readonly session: EmbeddedSession) {}

  /** The session's use now (read by the metrics; the object is live, not a copy). */
  get usage(): Readonly<SessionUsage> {
    return this.lock.usage;
  }

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.session, this.lock);
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

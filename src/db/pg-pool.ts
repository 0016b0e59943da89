// The connection pool to a real PostgreSQL server, set up to fail fast and recover by itself: a request
// never waits long for a server that is down or stuck, a connection the server drops (a restart, a
// failover, an administrator) is logged and replaced, and nothing of it can crash the process.
import pg from 'pg';
import { INT8_OID, readInt8 } from './int8.js';

export interface PoolTimeouts {
  /** Opening a connection, or waiting for a free one from the pool. */
  connectMs: number;
  /** The server cancels a statement running longer (statement_timeout, also bounding lock waits). */
  statementMs: number;
  /** The client gives up on a query the server has not answered (a server that stopped responding). */
  queryMs: number;
}

/**
 * Short enough that a request refused for a missing database still answers within the contract's 2 s,
 * long enough for the slowest legitimate statement (creating 10,000 users in one insert). The connect
 * timeout also bounds the wait for a free pooled connection, so it leaves room for a burst of a
 * hundred requests on a busy machine: a server that is down refuses connections at once anyway.
 */
export const DEFAULT_POOL_TIMEOUTS: PoolTimeouts = { connectMs: 1_500, statementMs: 1_200, queryMs: 1_500 };

/** A transaction left open by a stuck caller must not hold its locks for long. */
export const IDLE_IN_TRANSACTION_MS = 10_000;

/**
 * The server settings a connection starts with, by their PostgreSQL names. A 0 is left out, as pg leaves
 * it out of the connection's start: the server's own setting (none, unless the role or database has one) applies.
 */
export function sessionSettings(timeouts: PoolTimeouts): { statement_timeout?: number; idle_in_transaction_session_timeout: number } {
  return {
    ...(timeouts.statementMs > 0 ? { statement_timeout: timeouts.statementMs } : {}),
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
  };
}

/**
 * `transactionPooling`: the URL is a pooler in transaction mode (PgBouncer), which refuses settings sent
 * at connect and would share them between clients anyway; the caller sets them per transaction instead.
 */
export function createPgPool(
  connectionString: string,
  max: number,
  onError: (error: Error) => void,
  timeouts: PoolTimeouts = DEFAULT_POOL_TIMEOUTS,
  transactionPooling = false,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    // Transactions are short, so a small pool per process beats a large one (and every instance has one).
    max,
    connectionTimeoutMillis: timeouts.connectMs,
    ...(transactionPooling ? {} : sessionSettings(timeouts)),
    // The client's own deadline: it holds through a pooler too, and bounds statements outside a transaction there.
    query_timeout: timeouts.queryMs,
    keepAlive: true,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? readInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection the server closed is reported here; without a listener it would crash the process.
  pool.on('error', onError);
  // A connection in use gets no pool listener, and the server may drop it between two queries of a
  // transaction: every client gets one of its own, so the error reaches the waiting query, not the process.
  pool.on('connect', (client) => {
    client.on('error', onError);
    dropOnQueryTimeout(client);
  });
  return pool;
}

/**
 * A query the server did not answer in time leaves its connection busy: the ROLLBACK that follows
 * would wait a whole timeout more behind it. Dropping the connection at once makes everything queued
 * on it fail now (so the request is refused within its deadline) and the pool opens a fresh one.
 */
function dropOnQueryTimeout(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (error instanceof Error && error.message === 'Query read timeout') {
          (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        }
      });
    }
    return result;
  };
}

// Idempotency-Key support: a retry with the same key gets the first successful answer and changes
// nothing. An operation under a key is one statement that writes the key with its answer, last, and
// only if the key is not stored yet (points' creditPointsOnce, payments' payForHold), so:
//  - a failed operation stores nothing (only successes are stored);
//  - a duplicate arriving mid-flight either finds the operation's rows taken and writes nothing, or
//    breaks the key's primary key and is undone whole (isKeyTaken); either way it then replays the
//    stored answer.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DomainError, violates } from '../errors.js';

export interface IdempotencyScope {
  userId: string;
  endpoint: string;
  key: string;
  /** The request as the client sent it; the same key with another request is refused. */
  request: unknown;
}

export interface StoredAnswer<T> {
  status: number;
  body: T;
  replayed: boolean;
}

/** Keys are kept at least this long (the contract says 24 h). */
export const IDEMPOTENCY_RETENTION_MS = 25 * 60 * 60 * 1000;

function hashRequest(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('base64url');
}

function replay<T>(row: { request_hash: string; response_status: number; response_body: unknown }, requestHash: string): StoredAnswer<T> {
  if (row.request_hash !== requestHash) {
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
  }
  return { status: row.response_status, body: row.response_body as T, replayed: true };
}

function selectKey(db: Kysely<DB>, scope: IdempotencyScope) {
  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('user_id', '=', scope.userId)
    .where('endpoint', '=', scope.endpoint)
    .where('key', '=', scope.key)
    .executeTakeFirst();
}

/** The error of writing a key that another request stored first (a primary key violation on it). */
export function isKeyTaken(err: unknown): boolean {
  return violates(err, '23505', 'idempotency_keys_pk');
}

/** What a statement that stores its own answer needs of a key (its user is the operation's). */
export interface KeyToStore {
  endpoint: string;
  key: string;
  requestHash: string;
}

export function keyToStore(scope: IdempotencyScope): KeyToStore {
  return { endpoint: scope.endpoint, key: scope.key, requestHash: hashRequest(scope.request) };
}

/** The stored answer for a key, without taking part in any transaction (a read-only early look). */
export async function findStoredAnswer<T>(db: Kysely<DB>, scope: IdempotencyScope): Promise<StoredAnswer<T> | undefined> {
  const row = await selectKey(db, scope);
  return row ? replay<T>(row, hashRequest(scope.request)) : undefined;
}

export async function deleteOldKeys(db: Kysely<DB>, now: Date): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', new Date(now.getTime() - IDEMPOTENCY_RETENTION_MS))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

// Builds the real app for a test against a real database: an in-memory PGlite by default, the
// PostgreSQL at DATABASE_URL (and the Redis at REDIS_URL) when set. Every test makes its own users
// and concerts with unique values, so files run in parallel without truncating anything.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect, inject } from 'vitest';
import { buildApp, type AppDeps } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { deleteRedisKeys } from './redis-keys.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

type Overrides = Parameters<typeof testConfig>[0];

export interface TestApp {
  app: FastifyInstance;
  db: Database;
  config: Readonly<Config>;
  close: () => Promise<void>;
}

export async function createTestApp(overrides: Overrides = {}, deps: AppDeps = {}): Promise<TestApp> {
  const config = testConfig({
    databaseUrl: process.env.DATABASE_URL || undefined,
    databaseTransactionPooling: process.env.DATABASE_TRANSACTION_POOLING === 'true',
    redisUrl: process.env.REDIS_URL || undefined,
    redisCluster: process.env.REDIS_CLUSTER === 'true',
    redisPrefix: `test:${randomUUID()}:`,
    adminKey: ADMIN_KEY,
    ...overrides,
  });
  const template = inject('pgliteTemplate');
  // A copy of the migrated template, owned (and destroyed) here; PostgreSQL's database is the app's own.
  const ownDb = config.databaseUrl || !template ? undefined : await openDatabase(config, { pgliteTemplate: new Blob([await readFile(template)]) });
  const { app, db } = await buildApp(config, ownDb ? { ...deps, db: ownDb } : deps);
  await app.ready();
  const release = holdRedisPrefix(config);
  return {
    app,
    db,
    config,
    close: async () => {
      await app.close();
      await ownDb?.destroy();
      await release();
    },
  };
}

/** Test apps open on each Redis prefix: several instances of one deployment may share one. */
const appsOnPrefix = new Map<string, number>();

/** Counts an app on its Redis prefix; the returned release deletes the prefix's keys when the last app on it closes. */
function holdRedisPrefix(config: Readonly<Config>): () => Promise<void> {
  const { redisUrl, redisPrefix } = config;
  if (!redisUrl) return async () => undefined;
  appsOnPrefix.set(redisPrefix, (appsOnPrefix.get(redisPrefix) ?? 0) + 1);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const left = (appsOnPrefix.get(redisPrefix) ?? 1) - 1;
    if (left > 0) return void appsOnPrefix.set(redisPrefix, left);
    appsOnPrefix.delete(redisPrefix);
    await deleteRedisKeys(redisUrl, redisPrefix);
  };
}

export function json<T = any>(res: LightMyRequestResponse): T {
  return res.json() as T;
}

export function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

export async function createUser(app: FastifyInstance, name = 'fan'): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/admin/v1/users', headers: { 'x-admin-key': ADMIN_KEY }, payload: { name } });
  expect(res.statusCode).toBe(201);
  return json(res).userId;
}

export interface TestConcert {
  concertId: string;
  dates: string[];
}

let dateCounter = 0;
/** Unique far-future dates, so two concerts in one test never share one by accident. */
export function uniqueDate(): string {
  const day = new Date(Date.UTC(2027, 0, 1) + (dateCounter++ + Math.floor(Math.random() * 5000)) * 86_400_000);
  return day.toISOString().slice(0, 10);
}

export async function createConcert(app: FastifyInstance, options: { dates?: number; seatCount?: number; price?: number } = {}): Promise<TestConcert> {
  const dates = Array.from({ length: options.dates ?? 1 }, () => uniqueDate()).sort();
  const res = await app.inject({
    method: 'POST',
    url: '/admin/v1/concerts',
    headers: { 'x-admin-key': ADMIN_KEY },
    payload: {
      title: `Concert ${randomUUID().slice(0, 8)}`,
      venue: 'Test Hall',
      dates: [...new Set(dates)].map((date) => ({
        date,
        startsAt: `${date}T10:00:00.000Z`,
        seatCount: options.seatCount ?? 50,
        price: options.price ?? 50_000,
      })),
    },
  });
  expect(res.statusCode).toBe(201);
  return { concertId: json(res).concertId, dates: [...new Set(dates)] };
}

export async function joinQueue(app: FastifyInstance, userId: string) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId } });
  expect([200, 201]).toContain(res.statusCode);
  return json<{ token: string; status: string; position: number; expiresAt: string }>(res);
}

/** Polls until `check` passes or the deadline runs out (then fails with the last error). */
export async function waitFor<T>(check: () => Promise<T>, timeoutMs = 5_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/** A new user with an ACTIVE token (the app under test must have free slots). */
export async function activeUser(app: FastifyInstance, points = 0): Promise<{ userId: string; token: string }> {
  const userId = await createUser(app);
  const { token } = await joinQueue(app, userId);
  await waitFor(async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
    expect(json(res).status).toBe('ACTIVE');
  });
  if (points > 0) await charge(app, userId, token, points);
  return { userId, token };
}

export async function charge(app: FastifyInstance, userId: string, token: string, amount: number) {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/users/${userId}/points/charge`,
    headers: bearer(token),
    payload: { amount },
  });
  expect(res.statusCode).toBe(200);
  return json<{ balance: number }>(res).balance;
}

export async function hold(app: FastifyInstance, who: { userId: string; token: string }, concert: TestConcert, seatNumber: number, date = concert.dates[0]!) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/reservations',
    headers: bearer(who.token),
    payload: { userId: who.userId, concertId: concert.concertId, date, seatNumber },
  });
}

export async function pay(app: FastifyInstance, who: { userId: string; token: string }, reservationId: string, idempotencyKey?: string) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/payments',
    headers: { ...bearer(who.token), ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    payload: { userId: who.userId, reservationId },
  });
}

/** The money invariant: every balance equals the sum of its ledger rows. */
export async function expectLedgerMatchesBalances(db: Database, userIds: string[]): Promise<void> {
  const rows = await db
    .selectFrom('users as u')
    .leftJoin(
      db
        .selectFrom('point_ledger')
        .select(['user_id', sql<number>`sum(amount)::bigint`.as('total')])
        .groupBy('user_id')
        .as('l'),
      'l.user_id',
      'u.id',
    )
    .select(['u.id', 'u.balance', 'l.total'])
    .where('u.id', 'in', userIds)
    .execute();
  expect(rows).toHaveLength(userIds.length);
  for (const row of rows) expect({ id: row.id, balance: row.balance }).toEqual({ id: row.id, balance: Number(row.total ?? 0) });
}

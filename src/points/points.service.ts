// Point balances: read and top up. A top-up is one statement: balance, ledger row and any
// Idempotency-Key's answer together.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { PointsMetrics } from '../metrics/metrics.js';
import { findStoredAnswer, isKeyTaken, keyToStore, type StoredAnswer } from '../idempotency/idempotency.js';
import { creditPoints, creditPointsOnce, findBalance } from './points.repository.js';

export interface Balance {
  userId: string;
  balance: number;
}

export const MAX_CHARGE = 10_000_000;

export interface PointsServiceDeps {
  db: Kysely<DB>;
  /** Told of every top-up made and every one answered from its Idempotency-Key. */
  metrics?: PointsMetrics;
}

export function createPointsService({ db, metrics }: PointsServiceDeps) {
  return {
    async getBalance(userId: string): Promise<Balance> {
      const balance = await findBalance(db, userId);
      if (balance === undefined) throw new DomainError('INVALID_USER', `no user ${userId}`);
      return { userId, balance };
    },

    async charge(userId: string, amount: number, idempotencyKey?: string): Promise<StoredAnswer<Balance>> {
      if (!Number.isSafeInteger(amount) || amount < 1 || amount > MAX_CHARGE) {
        throw new DomainError('INVALID_AMOUNT', `amount must be an integer from 1 to ${MAX_CHARGE}`);
      }
      if (!idempotencyKey) {
        const balance = await creditPoints(db, userId, amount);
        if (balance === undefined) throw new DomainError('INVALID_USER', `no user ${userId}`);
        metrics?.charged(amount);
        return { status: 200, body: { userId, balance }, replayed: false };
      }
      // One statement rather than a transaction of four: a burst of top-ups as fans wait is the
      // embedded database's heaviest load, and each round trip to it is a turn the others wait.
      const scope = { userId, endpoint: 'points.charge', key: idempotencyKey, request: { amount } };
      let balance: number | undefined;
      try {
        balance = await creditPointsOnce(db, userId, amount, keyToStore(scope));
      } catch (err) {
        if (!isKeyTaken(err)) throw err;
      }
      if (balance !== undefined) {
        metrics?.charged(amount);
        return { status: 200, body: { userId, balance }, replayed: false };
      }
      // Nothing written: the key was stored already (by an earlier request or one running alongside),
      // or there is no such user.
      const stored = await findStoredAnswer<Balance>(db, scope);
      if (stored) {
        metrics?.replayed('points.charge');
        return stored;
      }
      throw new DomainError('INVALID_USER', `no user ${userId}`);
    },
  };
}

export type PointsService = ReturnType<typeof createPointsService>;

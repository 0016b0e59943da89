// Point balances: read and top up. A top-up is one transaction: balance and ledger row together.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { runIdempotent, type StoredAnswer } from '../idempotency/idempotency.js';
import { creditPoints, findBalance } from './points.repository.js';

export interface Balance {
  userId: string;
  balance: number;
}

export const MAX_CHARGE = 10_000_000;

export function createPointsService({ db }: { db: Kysely<DB> }) {
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
      const scope = idempotencyKey ? { userId, endpoint: 'points.charge', key: idempotencyKey, request: { amount } } : undefined;
      return runIdempotent(db, scope, 200, async (trx) => {
        const balance = await creditPoints(trx, userId, amount);
        if (balance === undefined) throw new DomainError('INVALID_USER', `no user ${userId}`);
        return { userId, balance };
      });
    },
  };
}

export type PointsService = ReturnType<typeof createPointsService>;

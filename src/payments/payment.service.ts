// Paying for a held seat from the balance: seat sold, reservation confirmed, payment and ledger row
// written and balance debited in one transaction; the queue token ends right after it commits.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DependencyUnavailableError, DomainError } from '../errors.js';
import { findStoredAnswer, isKeyTaken, keyToStore, type IdempotencyScope, type StoredAnswer } from '../idempotency/idempotency.js';
import type { PaymentMetrics } from '../metrics/metrics.js';
import type { QueueService } from '../queue/queue.service.js';
import { GENERAL_LINE, saleLineId } from '../queue/queue.store.js';
import type { ReservationService } from '../reservations/reservation.service.js';
import { findPayingToken, findPaymentObstacles, isBalanceShort, payForHold, type Payment } from './payment.repository.js';

export type { Payment };

export interface PaymentRequest {
  userId: string;
  reservationId: string;
  idempotencyKey?: string | undefined;
  /** When the request arrived: a hold still live then is paid for, however long the queue to the database. */
  arrivedAt?: Date;
}

export interface PaymentServiceDeps {
  db: Kysely<DB>;
  queue: Pick<QueueService, 'endToken'>;
  /** Gives back what the paying token still holds besides the seat it paid for. */
  holds: Pick<ReservationService, 'releaseTokenHolds'>;
  /** Told after a seat of this concert was sold (the last one ends its sale at once). */
  afterSale?: (concertId: string) => Promise<void>;
  log?: { error: (obj: unknown, msg: string) => void };
  /** Told of every payment made and every one answered from its Idempotency-Key. */
  metrics?: PaymentMetrics;
}

/** The token that pays: its id, and the sale whose line it stands in (undefined: the general line). */
export interface PayingToken {
  tokenId: string;
  saleId?: string | undefined;
}

function scopeOf(request: PaymentRequest): IdempotencyScope | undefined {
  if (!request.idempotencyKey) return undefined;
  return {
    userId: request.userId,
    endpoint: 'payments',
    key: request.idempotencyKey,
    request: { userId: request.userId, reservationId: request.reservationId },
  };
}

export function createPaymentService({ db, queue, holds, afterSale, log, metrics }: PaymentServiceDeps) {
  /**
   * After commit: the token ends, and any other hold it has is given back at once. The payment stands
   * even if either fails: the token then lapses by its TTL, and its holds with it (a hold never
   * outlives its token's turn), and a retry of the payment does both again.
   */
  async function endToken(tokenId: string, saleId?: string | null): Promise<void> {
    await queue
      .endToken(tokenId, saleId ? saleLineId(saleId) : GENERAL_LINE)
      .catch((err: unknown) => log?.error({ err, tokenId }, 'could not end a paid token'));
    await holds.releaseTokenHolds(tokenId).catch((err: unknown) => log?.error({ err, tokenId }, "could not give back a paid token's other holds"));
  }

  /**
   * A replayed payment ends the token that paid, again: if the first attempt's instance died between
   * its commit and ending the token, the retry finishes the job (ending is idempotent).
   */
  async function replayed(answer: StoredAnswer<Payment>): Promise<StoredAnswer<Payment>> {
    metrics?.replayed('payments');
    const paying = await findPayingToken(db, answer.body.paymentId);
    if (paying?.tokenId) await endToken(paying.tokenId, paying.saleId);
    return answer;
  }

  function insufficient(price?: number): DomainError {
    return new DomainError(
      'INSUFFICIENT_BALANCE',
      price === undefined ? 'your balance does not cover this seat; top up your points first' : `the seat costs ${price} won; top up your points first`,
    );
  }

  return {
    /** A retry's first answer, looked up before the token's state (a paid token has ended). */
    async findRetry(request: PaymentRequest): Promise<StoredAnswer<Payment> | undefined> {
      const scope = scopeOf(request);
      const answer = scope ? await findStoredAnswer<Payment>(db, scope) : undefined;
      return answer && replayed(answer);
    },

    async pay(request: PaymentRequest, token: PayingToken): Promise<StoredAnswer<Payment>> {
      const { userId, reservationId } = request;
      const scope = scopeOf(request);
      const arrivedAt = request.arrivedAt ?? new Date();
      const saleId = token.saleId ?? null;
      for (let attempt = 0; ; attempt++) {
        let paid: Awaited<ReturnType<typeof payForHold>>;
        try {
          paid = await payForHold(db, {
            paymentId: randomUUID(),
            reservationId,
            userId,
            tokenId: token.tokenId,
            saleId,
            arrivedAt,
            ...(scope ? { key: keyToStore(scope) } : {}),
          });
        } catch (err) {
          if (isBalanceShort(err)) throw insufficient();
          if (!isKeyTaken(err)) throw err;
          paid = undefined;
        }
        if (paid) {
          const { concertId, ...body } = paid;
          metrics?.paid(body.amount);
          await endToken(token.tokenId, token.saleId);
          if (afterSale) await afterSale(concertId).catch((err: unknown) => log?.error({ err, concertId }, 'could not check whether the sale sold out'));
          return { status: 201, body, replayed: false };
        }
        // Nothing written: say why, in the order a fan should hear it.
        const stored = scope ? await findStoredAnswer<Payment>(db, scope) : undefined;
        if (stored) return replayed(stored);
        const obstacles = await findPaymentObstacles(db, reservationId, userId, arrivedAt);
        if (!obstacles) throw new DomainError('RESERVATION_NOT_FOUND', `no reservation ${reservationId}`);
        if (obstacles.user_id !== userId) throw new DomainError('USER_MISMATCH', 'this reservation belongs to another user');
        // A concert on sale is paid for only through its sale's line, as it is held.
        if (obstacles.open_sale_id !== saleId) throw new DomainError('SALE_MISMATCH', 'this seat is not sold through the line of this queue token');
        if (obstacles.status === 'CONFIRMED') throw new DomainError('ALREADY_PAID', 'this reservation is already paid');
        if (obstacles.status !== 'HELD' || !obstacles.hold_live) {
          throw new DomainError('RESERVATION_EXPIRED', 'the hold on this seat has lapsed; reserve it again');
        }
        if ((obstacles.balance ?? 0) < obstacles.price) throw insufficient(obstacles.price);
        // Nothing in the way now: something changed between the payment and this look (a top-up came
        // in, a race ended). Pay again; a state that keeps moving is a moment to retry, not a refusal.
        if (attempt >= 2) throw new DependencyUnavailableError('the seat or balance changed while paying; try again');
      }
    },
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;

// Paying for a held seat from the balance: seat sold, reservation confirmed, payment and ledger row
// written and balance debited in one transaction; the queue token ends right after it commits.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { findStoredAnswer, runIdempotent, type IdempotencyScope, type StoredAnswer } from '../idempotency/idempotency.js';
import type { QueueService } from '../queue/queue.service.js';
import { GENERAL_LINE, saleLineId } from '../queue/queue.store.js';
import { findReservation } from '../reservations/reservation.repository.js';
import { findPayingToken, findReservationToPay, payForHold } from './payment.repository.js';

export interface Payment {
  paymentId: string;
  reservationId: string;
  userId: string;
  amount: number;
  balance: number;
  paidAt: string;
}

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
  /** Told after a seat of this concert was sold (the last one ends its sale at once). */
  afterSale?: (concertId: string) => Promise<void>;
  log?: { error: (obj: unknown, msg: string) => void };
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

export function createPaymentService({ db, queue, afterSale, log }: PaymentServiceDeps) {
  /** After commit: the payment stands even if ending the token fails (it then lapses by its TTL). */
  async function endToken(tokenId: string, saleId?: string | null): Promise<void> {
    await queue.endToken(tokenId, saleId ? saleLineId(saleId) : GENERAL_LINE).catch((err: unknown) => log?.error({ err, tokenId }, 'could not end a paid token'));
  }

  /**
   * A replayed payment ends the token that paid, again: if the first attempt's instance died between
   * its commit and ending the token, the retry finishes the job (ending is idempotent).
   */
  async function replayed(answer: StoredAnswer<Payment>): Promise<StoredAnswer<Payment>> {
    const paying = await findPayingToken(db, answer.body.paymentId);
    if (paying?.tokenId) await endToken(paying.tokenId, paying.saleId);
    return answer;
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
      const { tokenId } = token;
      let concertId = '';
      const answer = await runIdempotent(db, scopeOf(request), 201, async (trx) => {
        const reservation = await findReservationToPay(trx, reservationId);
        if (!reservation) throw new DomainError('RESERVATION_NOT_FOUND', `no reservation ${reservationId}`);
        if (reservation.user_id !== userId) throw new DomainError('USER_MISMATCH', 'this reservation belongs to another user');
        concertId = reservation.concert_id;
        // A concert on sale is paid for only through its sale's line, as it is held.
        if ((reservation.open_sale_id ?? null) !== (token.saleId ?? null)) {
          throw new DomainError('SALE_MISMATCH', 'this seat is not sold through the line of this queue token');
        }
        if (reservation.status === 'CONFIRMED') throw new DomainError('ALREADY_PAID', 'this reservation is already paid');
        const paymentId = randomUUID();
        const sale = await payForHold(trx, {
          paymentId,
          reservationId,
          seatId: reservation.seat_id,
          userId,
          amount: reservation.price,
          tokenId,
          saleId: token.saleId ?? null,
          arrivedAt: request.arrivedAt ?? new Date(),
        });
        if (!sale.sold) {
          // Lost a race with another payment of the same hold, or the hold lapsed: say which.
          const now = await findReservation(trx, reservationId);
          if (now?.status === 'CONFIRMED') throw new DomainError('ALREADY_PAID', 'this reservation is already paid');
          throw new DomainError('RESERVATION_EXPIRED', 'the hold on this seat has lapsed; reserve it again');
        }
        const { balance, paidAt } = sale;
        if (balance === undefined || !paidAt) {
          throw new DomainError('INSUFFICIENT_BALANCE', `the seat costs ${reservation.price} won; top up your points first`);
        }
        return { paymentId, reservationId, userId, amount: reservation.price, balance, paidAt: paidAt.toISOString() };
      });
      if (answer.replayed) return replayed(answer);
      await endToken(tokenId, token.saleId);
      if (afterSale) await afterSale(concertId).catch((err: unknown) => log?.error({ err, concertId }, 'could not check whether the sale sold out'));
      return answer;
    },
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;

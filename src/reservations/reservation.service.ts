// Holding seats: one short transaction per hold, one winner per seat, one live hold per queue token,
// and no hold past the end of its holder's turn; lapsed holds come back by themselves (at read time at
// once, and in the counts by the sweeper), and a token's end gives back its holds at once.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { reliableUntil } from '../db/database-clock.js';
import type { DB } from '../db/schema.js';
import type { ListingVersions } from '../concerts/listing-versions.js';
import { SeatClaims } from './seat-claims.js';
import { DomainError } from '../errors.js';
import type { HoldMetrics } from '../metrics/metrics.js';
import {
  countFanSeats,
  findReservation,
  findSeatState,
  findTokenHolds,
  holdSeatRow,
  lockFanOfConcert,
  lockToken,
  releaseSaleHolds,
  releaseTokenHolds,
  sweepLapsedHolds,
  type FreedSeat,
  type ReservationRow,
} from './reservation.repository.js';

export interface Reservation {
  reservationId: string;
  userId: string;
  concertId: string;
  date: string;
  seatNumber: number;
  price: number;
  status: ReservationRow['status'];
  heldUntil: string;
}

export function toReservation(row: ReservationRow, now: Date = new Date()): Reservation {
  const heldUntil = new Date(row.held_until);
  const lapsed = row.status === 'HELD' && heldUntil <= now;
  return {
    reservationId: row.id,
    userId: row.user_id,
    concertId: row.concert_id,
    date: row.date,
    seatNumber: row.seat_number,
    price: row.price,
    status: lapsed ? 'EXPIRED' : row.status,
    heldUntil: heldUntil.toISOString(),
  };
}

type SeatRef = { concertId: string; date: string; number: number };

/** The line a hold comes through: the general line, or a sale's, with its seats-per-fan limit. */
export type HoldLine = { saleId: null } | { saleId: string; maxSeatsPerUser: number };

/** The ACTIVE queue token a hold comes with: it holds at most one live seat, and only until its turn ends. */
export interface HoldingToken {
  tokenId: string;
  /** Epoch ms: the token's expiresAt, when its turn ends. */
  turnEndsAt: number;
}

/**
 * How long this instance trusts that a seat it saw held stays held. A hold is given back before its
 * heldUntil when its token ends (see releaseTokenHolds), possibly on another instance, so a held seat
 * is asked of the database again after this; a sold seat is trusted for good.
 */
const HELD_CLAIM_MS = 1_000;

export interface ReservationServiceDeps {
  db: Kysely<DB>;
  holdSeconds: number;
  /** Told after every commit that changes which seats of a concert are free. */
  versions: Pick<ListingVersions, 'bump'>;
  now?: () => number;
  /** Told of every hold won, and every one refused because the seat was held or sold. */
  metrics?: HoldMetrics;
}

export function createReservationService({ db, holdSeconds, versions, now = Date.now, metrics }: ReservationServiceDeps) {
  const claims = new SeatClaims();

  function unavailable(seat: SeatRef): DomainError {
    return new DomainError('SEAT_UNAVAILABLE', `seat ${seat.number} on ${seat.date} is held or sold`);
  }

  /** This instance's memory of a seat it saw held until `heldUntil` (database time). */
  function claimHeld(key: string, heldUntil: Date | string): void {
    claims.markTaken(key, Math.min(reliableUntil(heldUntil), now() + HELD_CLAIM_MS));
  }

  /**
   * One hold in one transaction, under a lock on the token: its live hold (or its payment) is read and
   * the seat taken after it, so however many holds one token sends at once, at most one is live. A
   * sale's hold also counts the fan's seats under a lock on the fan and the concert (always taken after
   * the token's, so two holds never wait on each other in a circle): at most the limit succeed.
   */
  function holdInTransaction(userId: string, seat: SeatRef, line: HoldLine, token: HoldingToken) {
    return db.transaction().execute(async (trx) => {
      await lockToken(trx, token.tokenId);
      const { liveHold, paid } = await findTokenHolds(trx, token.tokenId);
      if (paid) throw new DomainError('TOKEN_EXPIRED', 'the queue token has expired; join the queue again', { reason: 'PAID' });
      if (liveHold) {
        throw new DomainError('HOLD_EXISTS', `this queue token already holds a seat (reservation ${liveHold}): pay for it or let it lapse first`, {
          reservationId: liveHold,
        });
      }
      if (line.saleId !== null) {
        await lockFanOfConcert(trx, userId, seat.concertId);
        if ((await countFanSeats(trx, userId, seat.concertId)) >= line.maxSeatsPerUser) {
          throw new DomainError('SEAT_LIMIT_REACHED', `a fan may hold or own at most ${line.maxSeatsPerUser} seats of this sale`);
        }
      }
      return holdSeatRow(trx, {
        reservationId: randomUUID(),
        userId,
        ...seat,
        holdSeconds,
        saleId: line.saleId,
        tokenId: token.tokenId,
        turnEndsAt: new Date(token.turnEndsAt),
      });
    });
  }

  /** One database attempt: the seat's single conditional UPDATE decides, across every instance. */
  async function attemptHold(userId: string, seat: SeatRef, key: string, line: HoldLine, token: HoldingToken, retried = false): Promise<Reservation> {
    const row = await holdInTransaction(userId, seat, line, token);
    if (row) {
      claimHeld(key, row.held_until);
      await versions.bump([seat.concertId]);
      return toReservation(row);
    }
    const state = await findSeatState(db, seat);
    if (!state) throw new DomainError('SEAT_NOT_FOUND', `no seat ${seat.number} on ${seat.date} for concert ${seat.concertId}`);
    if (state.status === 'SOLD') claims.markTaken(key, Infinity);
    else if (state.status === 'HELD' && !state.free && state.held_until) claimHeld(key, state.held_until);
    else if (state.free) {
      // A hold judges a lapse by its transaction's start, which can precede the statement by a wait on
      // the token's (or the fan's) lock: a hold that lapsed in between is free now, so try once more.
      if (!retried) return attemptHold(userId, seat, key, line, token, true);
      // Free, and refused to the general line: the concert is on sale through a line of its own.
      if (line.saleId === null) throw new DomainError('SALE_MISMATCH', `seat ${seat.number} on ${seat.date} is not sold through this line`);
    }
    throw unavailable(seat);
  }

  /** After a release: the seats are free on every instance's listings, and held in no memory here. */
  async function released(seats: FreedSeat[]): Promise<number> {
    if (seats.length === 0) return 0;
    for (const seat of seats) claims.forget(SeatClaims.key({ concertId: seat.concert_id, date: seat.date, number: seat.number }));
    await versions.bump(new Set(seats.map((seat) => seat.concert_id)));
    return seats.length;
  }

  return {
    /**
     * Holds a seat for the user's ACTIVE token: until `holdSeconds` from now, or the end of the token's
     * turn if that comes first; 409 HOLD_EXISTS while the token holds another seat. A seat this instance
     * knows is taken is refused without asking the database, and concurrent attempts on one seat wait
     * for the one already in flight.
     */
    async holdSeat(userId: string, seat: SeatRef, line: HoldLine, token: HoldingToken): Promise<Reservation> {
      if (token.turnEndsAt <= now()) throw new DomainError('TOKEN_EXPIRED', 'the queue token has expired; join the queue again', { reason: 'TURN_OVER' });
      const key = SeatClaims.key(seat);
      try {
        for (;;) {
          if (claims.isTaken(key, now())) throw unavailable(seat);
          const outcome = await claims.once(key, () => attemptHold(userId, seat, key, line, token));
          if (outcome.ran) {
            metrics?.holdDecided('won');
            return outcome.value;
          }
        }
      } catch (err) {
        if (err instanceof DomainError && err.code === 'SEAT_UNAVAILABLE') metrics?.holdDecided('refused');
        throw err;
      }
    },

    async getReservation(userId: string, reservationId: string): Promise<Reservation> {
      const row = await findReservation(db, reservationId);
      if (!row) throw new DomainError('RESERVATION_NOT_FOUND', `no reservation ${reservationId}`);
      if (row.user_id !== userId) throw new DomainError('USER_MISMATCH', 'this reservation belongs to another user');
      return toReservation(row);
    },

    /**
     * The token ended (it paid): whatever it still holds is free at once, on every listing. Safe to
     * repeat (a retried payment does). Returns how many seats it freed.
     */
    async releaseTokenHolds(tokenId: string): Promise<number> {
      return released(await db.transaction().execute((trx) => releaseTokenHolds(trx, tokenId)));
    },

    /** The sale closed and its tokens ended: the holds made through its line are free at once. Safe to repeat. */
    async releaseSaleHolds(concertId: string, closesAt: Date): Promise<number> {
      return released(await releaseSaleHolds(db, concertId, closesAt));
    },

    /** Gives lapsed holds back and tells the listings. Returns how many concerts changed. */
    async sweepLapsedHolds(): Promise<number> {
      const concerts = await sweepLapsedHolds(db);
      if (concerts.length > 0) await versions.bump(concerts);
      return concerts.length;
    },
  };
}

export type ReservationService = ReturnType<typeof createReservationService>;

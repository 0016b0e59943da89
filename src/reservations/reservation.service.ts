// Holding seats: one short transaction per hold, one winner per seat; lapsed holds come back by
// themselves (at read time at once, and in the counts by the sweeper).
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
  holdSeatRow,
  lockFanOfConcert,
  sweepLapsedHolds,
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

  /**
   * A sale's hold: under a lock on the fan and the concert, the fan's seats are counted and the seat
   * taken in one transaction, so however many holds one fan sends at once, at most the limit succeed.
   */
  function holdForSale(userId: string, seat: SeatRef, line: { saleId: string; maxSeatsPerUser: number }) {
    return db.transaction().execute(async (trx) => {
      await lockFanOfConcert(trx, userId, seat.concertId);
      if ((await countFanSeats(trx, userId, seat.concertId)) >= line.maxSeatsPerUser) {
        throw new DomainError('SEAT_LIMIT_REACHED', `a fan may hold or own at most ${line.maxSeatsPerUser} seats of this sale`);
      }
      return holdSeatRow(trx, { reservationId: randomUUID(), userId, ...seat, holdSeconds, saleId: line.saleId });
    });
  }

  /** One database attempt: the seat's single conditional UPDATE decides, across every instance. */
  async function attemptHold(userId: string, seat: SeatRef, key: string, line: HoldLine, retried = false): Promise<Reservation> {
    const row =
      line.saleId === null
        ? await holdSeatRow(db, { reservationId: randomUUID(), userId, ...seat, holdSeconds, saleId: null })
        : await holdForSale(userId, seat, line);
    if (row) {
      claims.markTaken(key, reliableUntil(row.held_until));
      await versions.bump([seat.concertId]);
      return toReservation(row);
    }
    const state = await findSeatState(db, seat);
    if (!state) throw new DomainError('SEAT_NOT_FOUND', `no seat ${seat.number} on ${seat.date} for concert ${seat.concertId}`);
    if (state.status === 'SOLD') claims.markTaken(key, Infinity);
    else if (state.status === 'HELD' && !state.free && state.held_until) claims.markTaken(key, reliableUntil(state.held_until));
    else if (state.free) {
      // A sale's hold judges a lapse by its transaction's start, which can precede the statement by a
      // wait on the fan's lock: a hold that lapsed in between is free now, so try once more.
      if (line.saleId !== null) {
        if (!retried) return attemptHold(userId, seat, key, line, true);
      } else {
        // Free, and refused to the general line: the concert is on sale through a line of its own.
        throw new DomainError('SALE_MISMATCH', `seat ${seat.number} on ${seat.date} is not sold through this line`);
      }
    }
    throw unavailable(seat);
  }

  return {
    /**
     * Holds a seat for the user. A seat this instance knows is taken is refused without asking the
     * database, and concurrent attempts on one seat wait for the one already in flight.
     */
    async holdSeat(userId: string, seat: SeatRef, line: HoldLine = { saleId: null }): Promise<Reservation> {
      const key = SeatClaims.key(seat);
      try {
        for (;;) {
          if (claims.isTaken(key, now())) throw unavailable(seat);
          const outcome = await claims.once(key, () => attemptHold(userId, seat, key, line));
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

    /** Gives lapsed holds back and tells the listings. Returns how many concerts changed. */
    async sweepLapsedHolds(): Promise<number> {
      const concerts = await sweepLapsedHolds(db);
      if (concerts.length > 0) await versions.bump(concerts);
      return concerts.length;
    },
  };
}

export type ReservationService = ReturnType<typeof createReservationService>;

// Holding seats: one short transaction per hold, one winner per seat; lapsed holds come back by
// themselves (at read time at once, and in the counts by the sweeper).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import {
  expireReplacedHold,
  findReservation,
  insertReservation,
  seatExists,
  sweepLapsedHolds,
  takeFromAvailableCount,
  takeSeat,
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

export function createReservationService({ db, holdSeconds }: { db: Kysely<DB>; holdSeconds: number }) {
  return {
    async holdSeat(userId: string, seat: { concertId: string; date: string; number: number }): Promise<Reservation> {
      const reservationId = randomUUID();
      const row = await db.transaction().execute(async (trx) => {
        const taken = await takeSeat(trx, seat, reservationId, holdSeconds);
        if (!taken) return undefined;
        const replacedLapsedHold = await expireReplacedHold(trx, taken.id, reservationId);
        if (!replacedLapsedHold) await takeFromAvailableCount(trx, seat.concertId, seat.date);
        return insertReservation(trx, {
          id: reservationId,
          user_id: userId,
          seat_id: taken.id,
          concert_id: seat.concertId,
          date: seat.date,
          seat_number: seat.number,
          price: taken.price,
          status: 'HELD',
          held_until: taken.held_until!,
        });
      });
      if (row) return toReservation(row);
      if (!(await seatExists(db, seat))) {
        throw new DomainError('SEAT_NOT_FOUND', `no seat ${seat.number} on ${seat.date} for concert ${seat.concertId}`);
      }
      throw new DomainError('SEAT_UNAVAILABLE', `seat ${seat.number} on ${seat.date} is held or sold`);
    },

    async getReservation(userId: string, reservationId: string): Promise<Reservation> {
      const row = await findReservation(db, reservationId);
      if (!row) throw new DomainError('RESERVATION_NOT_FOUND', `no reservation ${reservationId}`);
      if (row.user_id !== userId) throw new DomainError('USER_MISMATCH', 'this reservation belongs to another user');
      return toReservation(row);
    },

    sweepLapsedHolds: () => sweepLapsedHolds(db),
  };
}

export type ReservationService = ReturnType<typeof createReservationService>;

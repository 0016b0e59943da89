// What a fan browses (concerts, dates with seats left, free seats) and what an operator creates.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import {
  concertExists,
  dateExists,
  findConcerts,
  findDatesWithAvailability,
  findFreeSeats,
  insertConcert,
  type NewConcertDate,
} from './concert.repository.js';

export function createConcertService({ db }: { db: Kysely<DB> }) {
  return {
    async listConcerts() {
      const rows = await findConcerts(db);
      return rows.map((r) => ({ concertId: r.id, title: r.title, venue: r.venue }));
    },

    async listDatesWithSeats(concertId: string) {
      const rows = await findDatesWithAvailability(db, concertId);
      if (rows.length === 0 && !(await concertExists(db, concertId))) {
        throw new DomainError('CONCERT_NOT_FOUND', `no concert ${concertId}`);
      }
      return rows
        .map((r) => ({
          date: r.date,
          startsAt: new Date(r.starts_at).toISOString(),
          totalSeats: r.total_seats,
          availableSeats: Number(r.available_seats),
        }))
        .filter((d) => d.availableSeats > 0);
    },

    async listFreeSeats(concertId: string, date: string) {
      const rows = await findFreeSeats(db, concertId, date);
      if (rows.length === 0 && !(await dateExists(db, concertId, date))) {
        if (!(await concertExists(db, concertId))) throw new DomainError('CONCERT_NOT_FOUND', `no concert ${concertId}`);
        throw new DomainError('DATE_NOT_FOUND', `concert ${concertId} has no date ${date}`);
      }
      return rows.map((r) => ({ seatId: r.id, number: r.number, price: r.price }));
    },

    async createConcert(concert: { title: string; venue: string; dates: NewConcertDate[] }): Promise<string> {
      const seen = new Set<string>();
      for (const d of concert.dates) {
        if (seen.has(d.date)) throw new DomainError('INVALID_CONCERT', `date ${d.date} is listed twice`);
        seen.add(d.date);
      }
      return db.transaction().execute((trx) => insertConcert(trx, concert));
    },
  };
}

export type ConcertService = ReturnType<typeof createConcertService>;

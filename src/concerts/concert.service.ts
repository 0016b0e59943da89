// What a fan browses (concerts, dates with seats left, free seats) and what an operator creates.
// Listings are cached per concert and kept exact: see listing-cache.ts and listing-versions.ts.
import type { Kysely } from 'kysely';
import { reliableUntil } from '../db/database-clock.js';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { concertExists, findConcerts, findDatesWithAvailability, findSeatsOfDate, insertConcert, type NewConcertDate } from './concert.repository.js';
import { ListingCache } from './listing-cache.js';
import type { ListingVersions } from './listing-versions.js';

/** The counter that changes when a concert is added. */
const ALL_CONCERTS = 'all-concerts';

export interface ConcertServiceDeps {
  db: Kysely<DB>;
  versions: ListingVersions;
  now?: () => number;
}

export function createConcertService({ db, versions, now = Date.now }: ConcertServiceDeps) {
  const cache = new ListingCache(now);

  async function notFound(concertId: string, date?: string): Promise<never> {
    if (!(await concertExists(db, concertId))) throw new DomainError('CONCERT_NOT_FOUND', `no concert ${concertId}`);
    throw new DomainError('DATE_NOT_FOUND', `concert ${concertId} has no date ${date}`);
  }

  return {
    /** After Redis lost the change counters: nothing cached may be trusted against the new ones. */
    forgetCachedListings(): void {
      cache.clear();
    },

    async listConcerts() {
      return cache.get('concerts', await versions.current(ALL_CONCERTS), async () => {
        const rows = await findConcerts(db);
        return { value: rows.map((r) => ({ concertId: r.id, title: r.title, venue: r.venue })), validUntil: Infinity };
      });
    },

    async listDatesWithSeats(concertId: string) {
      const dates = await cache.get(`dates|${concertId}`, await versions.current(concertId), async () => {
        const rows = await findDatesWithAvailability(db, concertId);
        const value = rows.map((r) => ({
          date: r.date,
          startsAt: new Date(r.starts_at).toISOString(),
          totalSeats: r.total_seats,
          availableSeats: Number(r.available_seats),
        }));
        return { value, validUntil: Math.min(...rows.map((r) => reliableUntil(r.next_lapse))) };
      });
      if (dates.length === 0) await notFound(concertId);
      return dates.filter((d) => d.availableSeats > 0);
    },

    async listFreeSeats(concertId: string, date: string) {
      const seats = await cache.get(`seats|${concertId}|${date}`, await versions.current(concertId), async () => {
        const rows = await findSeatsOfDate(db, concertId, date);
        const stillHeld = rows.filter((r) => r.status === 'HELD' && !r.free).map((r) => reliableUntil(r.held_until));
        return { value: rows, validUntil: Math.min(...stillHeld) };
      });
      if (seats.length === 0) await notFound(concertId, date);
      return seats.filter((s) => s.free).map((s) => ({ seatId: s.id, number: s.number, price: s.price }));
    },

    async createConcert(concert: { title: string; venue: string; dates: NewConcertDate[] }): Promise<string> {
      const seen = new Set<string>();
      for (const d of concert.dates) {
        if (seen.has(d.date)) throw new DomainError('INVALID_CONCERT', `date ${d.date} is listed twice`);
        seen.add(d.date);
      }
      const concertId = await db.transaction().execute((trx) => insertConcert(trx, concert));
      await versions.bump([ALL_CONCERTS]);
      return concertId;
    },
  };
}

export type ConcertService = ReturnType<typeof createConcertService>;

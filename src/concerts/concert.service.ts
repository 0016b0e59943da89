// What a fan browses (concerts, dates with seats left, free seats) and what an operator creates.
// Listings are cached per concert and kept exact: see listing-cache.ts and listing-versions.ts.
import type { Kysely } from 'kysely';
import { reliableUntil } from '../db/database-clock.js';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { concertExists, findConcerts, findDatesWithAvailability, findSeatsOfDate, insertConcert } from './concert.repository.js';
import type { ConcertListing, DateListing, NewConcert, SeatListing } from './concert.schemas.js';
import { ListingCache } from './listing-cache.js';
import type { ListingVersions } from './listing-versions.js';
import { resolveNewConcert, serverTimeZone } from './seat-layout.js';

/** The counter that changes when a concert is added. */
const ALL_CONCERTS = 'all-concerts';

export interface ConcertServiceDeps {
  db: Kysely<DB>;
  versions: ListingVersions;
  now?: () => number;
  /** The zone of a concert created without one (default: this process's). */
  defaultTimeZone?: string;
}

export function createConcertService({ db, versions, now = Date.now, defaultTimeZone = serverTimeZone() }: ConcertServiceDeps) {
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

    async listConcerts(): Promise<ConcertListing[]> {
      return cache.get('concerts', await versions.current(ALL_CONCERTS), async () => {
        const rows = await findConcerts(db);
        const value = rows.map((r): ConcertListing => {
          const listing: ConcertListing = { concertId: r.id, title: r.title, venue: r.venue, timeZone: r.time_zone };
          if (r.stage && r.sections) listing.layout = { stage: r.stage, sections: r.sections };
          return listing;
        });
        const layoutRows = value.reduce((n, c) => n + (c.layout?.sections.reduce((m, s) => m + s.rows.length, 0) ?? 0), 0);
        return { value, validUntil: Infinity, weight: rows.length + layoutRows };
      });
    },

    async listDatesWithSeats(concertId: string): Promise<DateListing[]> {
      const dates = await cache.get(`dates|${concertId}`, await versions.current(concertId), async () => {
        const rows = await findDatesWithAvailability(db, concertId);
        const value = rows.map((r) => ({
          date: r.date,
          startsAt: new Date(r.starts_at).toISOString(),
          totalSeats: r.total_seats,
          availableSeats: Number(r.available_seats),
          minPrice: r.min_price,
          maxPrice: r.max_price,
        }));
        return { value, validUntil: Math.min(...rows.map((r) => reliableUntil(r.next_lapse))) };
      });
      if (dates.length === 0) await notFound(concertId);
      return dates.filter((d) => d.availableSeats > 0);
    },

    async listFreeSeats(concertId: string, date: string): Promise<SeatListing[]> {
      const seats = await cache.get(`seats|${concertId}|${date}`, await versions.current(concertId), async () => {
        const rows = await findSeatsOfDate(db, concertId, date);
        const stillHeld = rows.filter((r) => r.status === 'HELD' && !r.free).map((r) => reliableUntil(r.held_until));
        return { value: rows, validUntil: Math.min(...stillHeld), weight: rows.length };
      });
      if (seats.length === 0) await notFound(concertId, date);
      // A seat of a concert without a layout is listed exactly as before layouts existed.
      return seats
        .filter((s) => s.free)
        .map((s) =>
          s.section === null
            ? { seatId: s.id, number: s.number, price: s.price }
            : { seatId: s.id, number: s.number, price: s.price, section: s.section, row: s.row ?? '', seatInRow: s.seat_in_row ?? 0 },
        );
    },

    /** Checks the concert's layout, dates and zone (seat-layout.ts), then stores it in one transaction. */
    async createConcert(concert: NewConcert): Promise<string> {
      const resolved = resolveNewConcert(concert, defaultTimeZone);
      const concertId = await db.transaction().execute((trx) => insertConcert(trx, resolved));
      await versions.bump([ALL_CONCERTS]);
      return concertId;
    },
  };
}

export type ConcertService = ReturnType<typeof createConcertService>;

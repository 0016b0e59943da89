// What a fan browses (concerts, dates with seats left, free seats) and what an operator creates.
// Listings are cached per concert, as the JSON bytes a GET sends with their ETag, and kept exact: see
// listing-cache.ts and listing-versions.ts.
import type { Kysely } from 'kysely';
import { reliableUntil } from '../db/database-clock.js';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { renderJson, renderJsonText, type RenderedBody } from '../http/conditional-get.js';
import { concertExists, findConcerts, findDatesWithAvailability, findSeatsOfDate, insertConcert } from './concert.repository.js';
import type { ConcertListing, DateListing, NewConcert, SeatListing } from './concert.schemas.js';
import { ListingCache } from './listing-cache.js';
import type { ListingVersions } from './listing-versions.js';
import { resolveNewConcert, serverTimeZone } from './seat-layout.js';

/** The counter that changes when a concert is added. */
const ALL_CONCERTS = 'all-concerts';

/** A date or seat listing as sent; `known` false when the concert (or date) does not exist. */
interface Listing {
  known: boolean;
  rendered: RenderedBody;
}

/** Every concert, each rendered alone, and the bodies last sent to each line with what they picked. */
interface ConcertList {
  concerts: ConcertListing[];
  fragments: string[];
  byLine: Map<string, { picked: number[]; rendered: RenderedBody }>;
}

function renderFragments(field: string, fragments: string[]): RenderedBody {
  return renderJsonText(`{${JSON.stringify(field)}:[${fragments.join(',')}]}`);
}

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

    /**
     * The concerts for which `inLine` holds (the requesting token's line), rendered. Each concert is
     * rendered once per change of the list; the whole body once per line while its selection holds.
     */
    async renderConcerts(line: string, inLine: (concertId: string) => boolean): Promise<RenderedBody> {
      const all = await cache.get('concerts', await versions.current(ALL_CONCERTS), async () => {
        const rows = await findConcerts(db);
        const concerts = rows.map((r): ConcertListing => {
          const listing: ConcertListing = { concertId: r.id, title: r.title, venue: r.venue, timeZone: r.time_zone };
          if (r.stage && r.sections) listing.layout = { stage: r.stage, sections: r.sections };
          return listing;
        });
        const value: ConcertList = { concerts, fragments: concerts.map((c) => JSON.stringify(c)), byLine: new Map() };
        const layoutRows = concerts.reduce((n, c) => n + (c.layout?.sections.reduce((m, s) => m + s.rows.length, 0) ?? 0), 0);
        return { value, validUntil: Infinity, weight: rows.length + layoutRows };
      });
      // Which concerts a line sells may change without a change of the list (a sale is created).
      const picked = all.concerts.flatMap((c, i) => (inLine(c.concertId) ? [i] : []));
      const kept = all.byLine.get(line);
      if (kept && kept.picked.length === picked.length && kept.picked.every((i, n) => i === picked[n])) return kept.rendered;
      const rendered = renderFragments(
        'concerts',
        picked.map((i) => all.fragments[i]!),
      );
      all.byLine.set(line, { picked, rendered });
      return rendered;
    },

    /** A concert's dates that still have seats, rendered; 404 CONCERT_NOT_FOUND for an unknown one. */
    async renderDatesWithSeats(concertId: string): Promise<RenderedBody> {
      const dates = await cache.get(`dates|${concertId}`, await versions.current(concertId), async () => {
        const rows = await findDatesWithAvailability(db, concertId);
        const listed = rows
          .map(
            (r): DateListing => ({
              date: r.date,
              startsAt: new Date(r.starts_at).toISOString(),
              totalSeats: r.total_seats,
              availableSeats: Number(r.available_seats),
              minPrice: r.min_price,
              maxPrice: r.max_price,
            }),
          )
          .filter((d) => d.availableSeats > 0);
        const value: Listing = { known: rows.length > 0, rendered: renderJson({ dates: listed }) };
        return { value, validUntil: Math.min(...rows.map((r) => reliableUntil(r.next_lapse))) };
      });
      if (!dates.known) await notFound(concertId);
      return dates.rendered;
    },

    /** A date's seats neither held nor sold, by number, rendered; 404 for an unknown concert or date. */
    async renderFreeSeats(concertId: string, date: string): Promise<RenderedBody> {
      const seats = await cache.get(`seats|${concertId}|${date}`, await versions.current(concertId), async () => {
        const rows = await findSeatsOfDate(db, concertId, date);
        const stillHeld = rows.filter((r) => r.status === 'HELD' && !r.free).map((r) => reliableUntil(r.held_until));
        // A seat of a concert without a layout is listed exactly as before layouts existed.
        const listed = rows
          .filter((s) => s.free)
          .map(
            (s): SeatListing =>
              s.section === null
                ? { seatId: s.id, number: s.number, price: s.price }
                : { seatId: s.id, number: s.number, price: s.price, section: s.section, row: s.row ?? '', seatInRow: s.seat_in_row ?? 0 },
          );
        const value: Listing = { known: rows.length > 0, rendered: renderJson({ seats: listed }) };
        return { value, validUntil: Math.min(...stillHeld), weight: rows.length };
      });
      if (!seats.known) await notFound(concertId, date);
      return seats.rendered;
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

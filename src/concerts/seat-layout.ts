// The rules of a new concert's seats: a layout's names and size, what a date may say beside a layout,
// and the venue's time zone. Pure functions; the service throws what they find.
import { DomainError } from '../errors.js';
import type { DateToInsert } from './concert.repository.js';
import { MAX_CONCERT_SEATS, MAX_LAYOUT_SEATS, type NewConcert, type SeatLayout } from './concert.schemas.js';

/** Seats a date gets when neither a layout nor a seatCount says otherwise (the contract's default). */
export const DEFAULT_SEAT_COUNT = 50;

/** The zone of this process: what a concert created without a timeZone is shown in. */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The canonical IANA name of a zone this runtime knows (`asia/seoul` → `Asia/Seoul`), or undefined. */
export function canonicalTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export function layoutSeatCount(layout: SeatLayout): number {
  return layout.sections.reduce((sum, section) => sum + section.rows.reduce((n, row) => n + row.seats, 0), 0);
}

function invalid(message: string): never {
  throw new DomainError('INVALID_CONCERT', message);
}

/**
 * A new concert as it will be stored, or an INVALID_CONCERT (VALIDATION_ERROR for a date missing the
 * price it needs without a layout, as the schema said before layouts existed). With a layout a date's
 * seatCount and price may be left out; given, they must agree with it.
 */
export function resolveNewConcert(
  concert: NewConcert,
  defaultTimeZone: string,
): { title: string; venue: string; timeZone: string; layout: SeatLayout | null; dates: DateToInsert[] } {
  const seen = new Set<string>();
  for (const d of concert.dates) {
    if (seen.has(d.date)) invalid(`date ${d.date} is listed twice`);
    seen.add(d.date);
  }
  const timeZone = concert.timeZone === undefined ? defaultTimeZone : canonicalTimeZone(concert.timeZone);
  if (timeZone === undefined) invalid(`unknown time zone ${JSON.stringify(concert.timeZone)}: use an IANA name such as Asia/Seoul`);

  const layout = concert.layout ?? null;
  if (!layout) {
    const dates = concert.dates.map((d, i) => {
      if (d.price === undefined) throw new DomainError('VALIDATION_ERROR', `dates/${i}/price is required when the concert has no layout`);
      return { date: d.date, startsAt: d.startsAt, seatCount: d.seatCount ?? DEFAULT_SEAT_COUNT, price: d.price };
    });
    return { title: concert.title, venue: concert.venue, timeZone, layout, dates };
  }

  const sectionNames = new Set<string>();
  for (const section of layout.sections) {
    if (sectionNames.has(section.name)) invalid(`layout section ${JSON.stringify(section.name)} is listed twice`);
    sectionNames.add(section.name);
    const rowNames = new Set<string>();
    for (const row of section.rows) {
      if (rowNames.has(row.name)) invalid(`row ${JSON.stringify(row.name)} is listed twice in section ${JSON.stringify(section.name)}`);
      rowNames.add(row.name);
    }
  }
  const seats = layoutSeatCount(layout);
  if (seats > MAX_LAYOUT_SEATS) invalid(`the layout has ${seats} seats; at most ${MAX_LAYOUT_SEATS}`);
  if (seats * concert.dates.length > MAX_CONCERT_SEATS) {
    invalid(`${concert.dates.length} dates of ${seats} seats make ${seats * concert.dates.length} seats; at most ${MAX_CONCERT_SEATS} per concert`);
  }
  const prices = new Set(layout.sections.map((s) => s.price));
  const dates = concert.dates.map((d) => {
    if (d.seatCount !== undefined && d.seatCount !== seats) {
      invalid(`date ${d.date} has seatCount ${d.seatCount} but the layout has ${seats} seats: leave seatCount out`);
    }
    if (d.price !== undefined && (prices.size !== 1 || !prices.has(d.price))) {
      invalid(`date ${d.date} has price ${d.price} but its seats take their sections' prices: leave price out`);
    }
    return { date: d.date, startsAt: d.startsAt, seatCount: seats, price: Math.min(...prices) };
  });
  return { title: concert.title, venue: concert.venue, timeZone, layout, dates };
}

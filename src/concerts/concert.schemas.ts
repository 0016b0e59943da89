// The shapes of concerts, their layouts, dates and seats: written once here, checked by the routes,
// published in the OpenAPI document and used as types by the service.
import { Type, type Static } from 'typebox';
import { DateOnly, DateTime, Strict, Uuid, Won } from '../http/schemas.js';

/** The most seats one date of a layout may have (a numbered date keeps the contract's 200). */
export const MAX_LAYOUT_SEATS = 2_000;
/** The most seats one concert may have over all its dates, so creating one stays one short transaction. */
export const MAX_CONCERT_SEATS = 100_000;

export const Stage = Type.Union([Type.Literal('top'), Type.Literal('bottom'), Type.Literal('left'), Type.Literal('right')], {
  description: 'where the stage is drawn, relative to the seats',
});

export const TimeZone = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+)*$',
  description: "an IANA time zone name; one this server's Intl does not know is 400 INVALID_CONCERT",
  examples: ['Asia/Seoul'],
});

const LayoutRow = Strict({
  name: Type.String({ minLength: 1, maxLength: 8, description: 'unique within its section', examples: ['A'] }),
  seats: Type.Integer({ minimum: 1, maximum: 60, description: 'seats in this row: rows may differ (a curved or uneven hall)' }),
});

const LayoutSection = Strict({
  name: Type.String({ minLength: 1, maxLength: 40, description: 'unique within the layout', examples: ['VIP'] }),
  price: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'every seat of the section costs this (won)' }),
  rows: Type.Array(LayoutRow, { minItems: 1, maxItems: 100, description: 'from the stage outward' }),
});

export const SeatLayout = Strict(
  {
    stage: Stage,
    sections: Type.Array(LayoutSection, { minItems: 1, maxItems: 20, description: 'from the stage outward, an aisle between each two' }),
  },
  {
    description: `Seats are numbered 1..N in section, row and seat order; at most ${MAX_LAYOUT_SEATS} seats. Every date of the concert gets these seats.`,
  },
);
export type SeatLayout = Static<typeof SeatLayout>;

export const NewConcertDate = Strict({
  date: DateOnly,
  startsAt: DateTime,
  seatCount: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 200,
      description:
        "without a layout: this date's seats, numbered 1..seatCount (default 50). With one: may be left out; if given it must equal the layout's seats",
    }),
  ),
  price: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 100_000_000,
      description: "without a layout: every seat's price (required). With one: may be left out; if given, every section must cost exactly this",
    }),
  ),
});
export type NewConcertDate = Static<typeof NewConcertDate>;

export const NewConcert = Strict({
  title: Type.String({ minLength: 1, maxLength: 200 }),
  venue: Type.String({ minLength: 1, maxLength: 200 }),
  timeZone: Type.Optional(TimeZone),
  layout: Type.Optional(SeatLayout),
  dates: Type.Array(NewConcertDate, { minItems: 1, maxItems: 366 }),
});
export type NewConcert = Static<typeof NewConcert>;

/** A layout as listed: exactly what the operator gave. */
export const ConcertLayout = Type.Object({
  stage: Stage,
  sections: Type.Array(Type.Object({ name: Type.String(), price: Won, rows: Type.Array(Type.Object({ name: Type.String(), seats: Type.Integer() })) })),
});
export type ConcertLayout = Static<typeof ConcertLayout>;

export const ConcertListing = Type.Object({
  concertId: Uuid,
  title: Type.String(),
  venue: Type.String(),
  timeZone: Type.String({ description: "the venue's IANA time zone: show the concert's times in it" }),
  layout: Type.Optional(ConcertLayout),
});
export type ConcertListing = Static<typeof ConcertListing>;

export const DateListing = Type.Object({
  date: DateOnly,
  startsAt: DateTime,
  totalSeats: Type.Integer(),
  availableSeats: Type.Integer(),
  minPrice: Type.Integer({ minimum: 0, description: "the lowest price of the date's seats, taken or not" }),
  maxPrice: Type.Integer({ minimum: 0, description: "the highest price of the date's seats, taken or not" }),
});
export type DateListing = Static<typeof DateListing>;

export const SeatListing = Type.Object({
  seatId: Uuid,
  number: Type.Integer(),
  price: Won,
  section: Type.Optional(Type.String({ description: "the seat's section (only a concert with a layout)" })),
  row: Type.Optional(Type.String({ description: "the seat's row in its section (only with a layout)" })),
  seatInRow: Type.Optional(Type.Integer({ minimum: 1, description: 'its 1-based place in the row (only with a layout)' })),
});
export type SeatListing = Static<typeof SeatListing>;

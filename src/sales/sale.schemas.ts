// The shapes of sales, written once: the route schemas (and so the OpenAPI document) and the types the
// service returns are both derived from these.
import { Type, type Static } from 'typebox';
import { DateTime, Strict, Uuid } from '../http/schemas.js';
import { LineMessage, OperatorMessage } from '../queue/queue.schemas.js';

export const SalePhase = Type.Union(
  [Type.Literal('SCHEDULED'), Type.Literal('PREQUEUE'), Type.Literal('OPEN'), Type.Literal('SOLD_OUT'), Type.Literal('CLOSED')],
  { description: 'SCHEDULED before queueOpensAt; PREQUEUE until opensAt; OPEN; SOLD_OUT once every seat is sold; CLOSED after closesAt' },
);
export type SalePhase = Static<typeof SalePhase>;

const Hex = (description: string) => Type.String({ pattern: '^[0-9a-f]{64}$', description });

export const Sale = Type.Object({
  saleId: Uuid,
  concertId: Uuid,
  title: Type.String(),
  venue: Type.String(),
  queueOpensAt: DateTime,
  opensAt: DateTime,
  closesAt: Type.Union([DateTime, Type.Null()]),
  phase: SalePhase,
  seatsLeft: Type.Integer({ minimum: 0, description: 'seats neither held nor sold' }),
  maxSeatsPerUser: Type.Integer({ minimum: 1 }),
  draw: Type.Object({
    commitment: Hex('SHA-256 of the secret seed, public from the start'),
    seed: Type.Union([Hex('the seed, published at opensAt'), Type.Null()]),
  }),
});
export type Sale = Static<typeof Sale>;

export const AdminSale = Type.Object({
  ...Sale.properties,
  waiting: Type.Integer({ description: 'in line, not yet admitted (and, before the draw, in the pre-queue)' }),
  active: Type.Integer(),
  activeLimit: Type.Integer(),
  admittedPerMinute: Type.Integer({ description: 'admissions measured over the last 60 s' }),
  paused: Type.Boolean(),
  message: LineMessage,
  sold: Type.Integer(),
  held: Type.Integer(),
  free: Type.Integer(),
});
export type AdminSale = Static<typeof AdminSale>;

export const Draw = Type.Object({
  saleId: Uuid,
  commitment: Hex('SHA-256 of the seed'),
  seed: Hex('the seed: key of the HMAC-SHA256 that orders the entries'),
  entries: Type.Array(Uuid, { description: 'the entry ids that took part in the draw' }),
});
export type Draw = Static<typeof Draw>;

export const NewSale = Strict({
  concertId: Uuid,
  queueOpensAt: DateTime,
  opensAt: DateTime,
  closesAt: Type.Optional(Type.Union([DateTime, Type.Null()])),
  activeLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  maxSeatsPerUser: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
});
export type NewSale = Static<typeof NewSale>;

export const SaleChange = Strict({
  activeLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  paused: Type.Optional(Type.Boolean()),
  queueOpensAt: Type.Optional(DateTime),
  opensAt: Type.Optional(DateTime),
  closesAt: Type.Optional(Type.Union([DateTime, Type.Null()])),
  message: Type.Optional(OperatorMessage),
});
export type SaleChange = Static<typeof SaleChange>;

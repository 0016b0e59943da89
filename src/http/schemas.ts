// Schema pieces every feature's routes share: ids, dates, the error body, strict objects.
import { Type, type TProperties } from 'typebox';
import { errorStatus } from '../errors.js';

export const Uuid = Type.String({ format: 'uuid', description: 'a uuid' });
export const DateOnly = Type.String({ format: 'date', description: 'YYYY-MM-DD', examples: ['2026-12-24'] });
export const DateTime = Type.String({ format: 'date-time', description: 'ISO-8601 UTC' });
export const Won = Type.Integer({ minimum: 0, description: 'an amount in won' });

/** An object that refuses unknown fields, as the contract asks of every JSON body. */
export function Strict<T extends TProperties>(properties: T, options: { description?: string } = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** Why a queue token ended: in the token's views once it has, and in a TOKEN_EXPIRED error. */
export const TokenEndReason = Type.Union(
  [Type.Literal('PAID'), Type.Literal('TURN_OVER'), Type.Literal('IDLE'), Type.Literal('SOLD_OUT'), Type.Literal('SALE_CLOSED')],
  {
    description:
      'why the token ended: PAID (its fan paid), TURN_OVER (its ACTIVE time ran out), IDLE (abandoned WAITING: silent past the idle limit), SOLD_OUT (its sale sold out), SALE_CLOSED (its sale closed)',
  },
);

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({
        examples: ['SEAT_UNAVAILABLE'],
        description: `stable; the status follows from it: ${Object.entries(errorStatus)
          .map(([code, status]) => `${code} ${status}`)
          .join(
            ', ',
          )}. LINE_RESET: the token's line was lost (Redis came back empty); join again. HOLD_EXISTS: this token already holds a seat (see reservationId); pay for it or let it lapse.`,
      }),
      message: Type.String(),
      reservationId: Type.Optional(Type.String({ format: 'uuid', description: "HOLD_EXISTS only: the token's live hold" })),
      reason: Type.Optional(TokenEndReason),
    }),
  },
  { $id: 'ErrorResponse', description: 'every error has this shape' },
);

export const errorResponses = {
  '4xx': Type.Ref('ErrorResponse'),
  '5xx': Type.Ref('ErrorResponse'),
} as const;

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\x20-\\x7E]+$',
      description: 'a retry with the same key charges or pays once and returns the first answer',
    }),
  ),
});

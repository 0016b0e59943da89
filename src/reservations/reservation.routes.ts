// Reservation endpoints: hold a seat, read a hold. ACTIVE tokens only.
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { assertTokenUser, claimsOf, tokenGuard } from '../http/auth.js';
import { DateOnly, DateTime, errorResponses, Strict, Uuid, Won } from '../http/schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import type { SaleService } from '../sales/sale.service.js';
import type { ReservationService } from './reservation.service.js';

const ReservationResponse = Type.Object({
  reservationId: Uuid,
  userId: Uuid,
  concertId: Uuid,
  date: DateOnly,
  seatNumber: Type.Integer(),
  price: Won,
  status: Type.Union([Type.Literal('HELD'), Type.Literal('CONFIRMED'), Type.Literal('EXPIRED')]),
  heldUntil: DateTime,
});

export async function reservationRoutes(
  app: FastifyInstance,
  {
    reservations,
    queue,
    sales,
    holdLimit,
  }: {
    reservations: ReservationService;
    queue: QueueService;
    sales: Pick<SaleService, 'assertConcertAccess' | 'maxSeatsPerUser'>;
    /** Per token, counted once the token is known to be genuine and ACTIVE. */
    holdLimit: preHandlerAsyncHookHandler;
  },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const active = tokenGuard(queue, 'active');

  api.post(
    '/api/v1/reservations',
    {
      schema: {
        tags: ['reservations'],
        summary: 'Hold a seat for a few minutes (one at a time per token, never past the end of its turn)',
        description:
          "A hold lasts RESERVATION_HOLD_SECONDS, but never past the token's expiresAt (the end of its ACTIVE turn): heldUntil is the earlier of the two, so every hold can be paid for until its heldUntil. A token holds one live seat at a time: another hold while it has one is 409 HOLD_EXISTS, naming it in `reservationId`.",
        security: [{ queueToken: [] }],
        body: Strict({ userId: Uuid, concertId: Uuid, date: DateOnly, seatNumber: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }),
        response: { 201: ReservationResponse, ...errorResponses },
      },
      preHandler: [active, holdLimit],
    },
    async (request, reply) => {
      const { userId, concertId, date, seatNumber } = request.body;
      assertTokenUser(request, userId);
      const { saleId, tokenId } = claimsOf(request);
      await sales.assertConcertAccess(saleId, concertId);
      const line = saleId ? { saleId, maxSeatsPerUser: sales.maxSeatsPerUser(saleId) } : { saleId: null };
      const token = { tokenId, turnEndsAt: request.queueState!.expiresAt };
      const reservation = await reservations.holdSeat(userId, { concertId, date, number: seatNumber }, line, token);
      return reply.code(201).send(reservation);
    },
  );

  api.get(
    '/api/v1/reservations/:reservationId',
    {
      schema: {
        tags: ['reservations'],
        summary: 'One of your reservations',
        security: [{ queueToken: [] }],
        params: Strict({ reservationId: Uuid }),
        response: { 200: ReservationResponse, ...errorResponses },
      },
      preHandler: active,
    },
    async (request) => reservations.getReservation(claimsOf(request).userId, request.params.reservationId),
  );
}

// Concert browsing endpoints: ACTIVE tokens only.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { claimsOf, tokenGuard } from '../http/auth.js';
import { DateOnly, errorResponses, Strict, Uuid } from '../http/schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import type { SaleService } from '../sales/sale.service.js';
import { ConcertListing, DateListing, SeatListing } from './concert.schemas.js';
import type { ConcertService } from './concert.service.js';

export async function concertRoutes(
  app: FastifyInstance,
  { concerts, queue, sales }: { concerts: ConcertService; queue: QueueService; sales: Pick<SaleService, 'assertConcertAccess' | 'saleOfConcert'> },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const active = tokenGuard(queue, 'active');

  api.get(
    '/api/v1/concerts',
    {
      schema: {
        tags: ['concerts'],
        summary: "The concerts this token's line sells: a sale's concert, or every concert without a sale",
        security: [{ queueToken: [] }],
        response: {
          200: Type.Object({ concerts: Type.Array(ConcertListing) }),
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request) => {
      const saleId = claimsOf(request).saleId;
      const all = await concerts.listConcerts();
      return { concerts: all.filter((c) => (sales.saleOfConcert(c.concertId) ?? null) === (saleId ?? null)) };
    },
  );

  api.get(
    '/api/v1/concerts/:concertId/dates',
    {
      schema: {
        tags: ['concerts'],
        summary: "A concert's dates that still have seats, ascending",
        security: [{ queueToken: [] }],
        params: Strict({ concertId: Uuid }),
        response: {
          200: Type.Object({ dates: Type.Array(DateListing) }),
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request) => {
      sales.assertConcertAccess(claimsOf(request).saleId, request.params.concertId);
      return { dates: await concerts.listDatesWithSeats(request.params.concertId) };
    },
  );

  api.get(
    '/api/v1/concerts/:concertId/dates/:date/seats',
    {
      schema: {
        tags: ['concerts'],
        summary: 'Seats of a date that are neither held nor sold, by number',
        security: [{ queueToken: [] }],
        params: Strict({ concertId: Uuid, date: DateOnly }),
        response: {
          200: Type.Object({ seats: Type.Array(SeatListing) }),
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request) => {
      sales.assertConcertAccess(claimsOf(request).saleId, request.params.concertId);
      return { seats: await concerts.listFreeSeats(request.params.concertId, request.params.date) };
    },
  );
}

// Concert browsing endpoints: ACTIVE tokens only. Each list is sent as the bytes the service keeps
// for the current listing, with its ETag; a client that holds them gets 304 (conditional-get.ts).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { claimsOf, tokenGuard } from '../http/auth.js';
import { ConditionalHeaders, NotModified, sendRendered, withListingHeaders } from '../http/conditional-get.js';
import { DateOnly, errorResponses, Strict, Uuid } from '../http/schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import type { SaleService } from '../sales/sale.service.js';
import { ConcertListing, DateListing, SeatListing } from './concert.schemas.js';
import type { ConcertService } from './concert.service.js';

export async function concertRoutes(
  app: FastifyInstance,
  {
    concerts,
    queue,
    sales,
  }: { concerts: ConcertService; queue: QueueService; sales: Pick<SaleService, 'assertConcertAccess' | 'saleOfConcert' | 'learnSale'> },
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
        headers: ConditionalHeaders,
        response: {
          200: withListingHeaders(Type.Object({ concerts: Type.Array(ConcertListing) })),
          304: NotModified,
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request, reply) => {
      const claimed = claimsOf(request).saleId;
      await sales.learnSale(claimed);
      const saleId = claimed ?? null;
      const rendered = await concerts.renderConcerts(saleId ?? '', (concertId) => (sales.saleOfConcert(concertId) ?? null) === saleId);
      return sendRendered(request, reply, rendered);
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
        headers: ConditionalHeaders,
        response: {
          200: withListingHeaders(Type.Object({ dates: Type.Array(DateListing) })),
          304: NotModified,
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request, reply) => {
      await sales.assertConcertAccess(claimsOf(request).saleId, request.params.concertId);
      return sendRendered(request, reply, await concerts.renderDatesWithSeats(request.params.concertId));
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
        headers: ConditionalHeaders,
        response: {
          200: withListingHeaders(Type.Object({ seats: Type.Array(SeatListing) })),
          304: NotModified,
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request, reply) => {
      await sales.assertConcertAccess(claimsOf(request).saleId, request.params.concertId);
      return sendRendered(request, reply, await concerts.renderFreeSeats(request.params.concertId, request.params.date));
    },
  );
}

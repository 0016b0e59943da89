// Concert browsing endpoints: ACTIVE tokens only.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { tokenGuard } from '../http/auth.js';
import { DateOnly, DateTime, errorResponses, Strict, Uuid, Won } from '../http/schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import type { ConcertService } from './concert.service.js';

export async function concertRoutes(app: FastifyInstance, { concerts, queue }: { concerts: ConcertService; queue: QueueService }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const active = tokenGuard(queue, 'active');

  api.get(
    '/api/v1/concerts',
    {
      schema: {
        tags: ['concerts'],
        summary: 'Every concert',
        security: [{ queueToken: [] }],
        response: {
          200: Type.Object({ concerts: Type.Array(Type.Object({ concertId: Uuid, title: Type.String(), venue: Type.String() })) }),
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async () => ({ concerts: await concerts.listConcerts() }),
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
          200: Type.Object({
            dates: Type.Array(
              Type.Object({ date: DateOnly, startsAt: DateTime, totalSeats: Type.Integer(), availableSeats: Type.Integer() }),
            ),
          }),
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request) => ({ dates: await concerts.listDatesWithSeats(request.params.concertId) }),
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
          200: Type.Object({ seats: Type.Array(Type.Object({ seatId: Uuid, number: Type.Integer(), price: Won })) }),
          ...errorResponses,
        },
      },
      preHandler: active,
    },
    async (request) => ({ seats: await concerts.listFreeSeats(request.params.concertId, request.params.date) }),
  );
}

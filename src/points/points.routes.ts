// Points endpoints: any live token (WAITING or ACTIVE) may read and top up its own balance.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { assertTokenUser, tokenGuard } from '../http/auth.js';
import { errorResponses, IdempotencyHeaders, Strict, Uuid, Won } from '../http/schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import { MAX_CHARGE, type PointsService } from './points.service.js';

const BalanceResponse = Type.Object({ userId: Uuid, balance: Won });
const UserParams = Strict({ userId: Uuid });

export async function pointsRoutes(app: FastifyInstance, { points, queue }: { points: PointsService; queue: QueueService }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/users/:userId/points',
    {
      schema: {
        tags: ['points'],
        summary: 'Your point balance',
        security: [{ queueToken: [] }],
        params: UserParams,
        response: { 200: BalanceResponse, ...errorResponses },
      },
      preHandler: tokenGuard(queue, 'live'),
    },
    async (request) => {
      assertTokenUser(request, request.params.userId);
      return points.getBalance(request.params.userId);
    },
  );

  api.post(
    '/api/v1/users/:userId/points/charge',
    {
      schema: {
        tags: ['points'],
        summary: 'Top up your balance',
        security: [{ queueToken: [] }],
        params: UserParams,
        headers: IdempotencyHeaders,
        body: Strict({ amount: Type.Integer({ minimum: 1, maximum: MAX_CHARGE, description: 'won to add' }) }),
        response: { 200: BalanceResponse, ...errorResponses },
      },
      config: { fieldErrorCodes: { amount: 'INVALID_AMOUNT' } },
      preHandler: tokenGuard(queue, 'live'),
    },
    async (request, reply) => {
      assertTokenUser(request, request.params.userId);
      const answer = await points.charge(request.params.userId, request.body.amount, request.headers['idempotency-key']);
      return reply.code(answer.status).send(answer.body);
    },
  );
}

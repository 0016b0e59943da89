// Payment endpoint. An Idempotency-Key retry is answered before the token's state is checked, since
// the first payment ended that token.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { assertTokenUser, claimsOf, tokenGuard } from '../http/auth.js';
import { DateTime, errorResponses, IdempotencyHeaders, Strict, Uuid, Won } from '../http/schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import type { PaymentService } from './payment.service.js';

const PaymentResponse = Type.Object({
  paymentId: Uuid,
  reservationId: Uuid,
  userId: Uuid,
  amount: Won,
  balance: Won,
  paidAt: DateTime,
});

export async function paymentRoutes(app: FastifyInstance, { payments, queue }: { payments: PaymentService; queue: QueueService }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/payments',
    {
      schema: {
        tags: ['payments'],
        summary: 'Pay for a held seat from your balance (ends your queue token)',
        security: [{ queueToken: [] }],
        headers: IdempotencyHeaders,
        body: Strict({ userId: Uuid, reservationId: Uuid }),
        response: { 201: PaymentResponse, ...errorResponses },
      },
      preHandler: tokenGuard(queue, 'genuine'),
    },
    async (request, reply) => {
      assertTokenUser(request, request.body.userId);
      const paymentRequest = {
        ...request.body,
        idempotencyKey: request.headers['idempotency-key'],
        arrivedAt: new Date(Date.now() - reply.elapsedTime),
      };
      const retry = await payments.findRetry(paymentRequest);
      if (retry) return reply.code(retry.status).send(retry.body);
      const claims = claimsOf(request);
      await queue.requireState(claims, 'active');
      const answer = await payments.pay(paymentRequest, { tokenId: claims.tokenId, saleId: claims.saleId });
      return reply.code(answer.status).send(answer.body);
    },
  );
}

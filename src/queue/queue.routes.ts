// Queue endpoints: join the line, poll your place, or stream it over Server-Sent Events.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { claimsOf, tokenGuard } from '../http/auth.js';
import { DateTime, errorResponses, Strict, Uuid } from '../http/schemas.js';
import type { QueueService, TokenView } from './queue.service.js';

const Status = Type.Union([Type.Literal('WAITING'), Type.Literal('ACTIVE'), Type.Literal('EXPIRED')]);

const IssuedToken = Type.Object({
  token: Type.String({ description: 'send as `Authorization: Bearer <token>`' }),
  userId: Uuid,
  status: Status,
  position: Type.Integer({ minimum: 0 }),
  estimatedWaitSeconds: Type.Integer({ minimum: 0 }),
  expiresAt: DateTime,
});

const TokenStatus = Type.Object({
  userId: Uuid,
  status: Status,
  position: Type.Integer({ minimum: 0, description: '0 when ACTIVE; otherwise 1 + the tokens still ahead' }),
  estimatedWaitSeconds: Type.Integer({ minimum: 0 }),
  pollAfterSeconds: Type.Integer({ minimum: 1, description: 'when a polling client should ask again' }),
  expiresAt: DateTime,
});

export interface QueueRoutesOptions {
  queue: QueueService;
  /** How often an open stream sends a heartbeat and counts as a poll. */
  heartbeatMs: number;
}

export async function queueRoutes(app: FastifyInstance, { queue, heartbeatMs }: QueueRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });

  api.post(
    '/api/v1/queue/tokens',
    {
      schema: {
        tags: ['queue'],
        summary: 'Join the line (or get your live token back)',
        body: Strict({ userId: Uuid }),
        response: { 200: IssuedToken, 201: IssuedToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { created, ...issued } = await queue.issueToken(request.body.userId);
      return reply.code(created ? 201 : 200).send(issued);
    },
  );

  api.get(
    '/api/v1/queue/tokens/me',
    {
      schema: {
        tags: ['queue'],
        summary: 'Your place in line (polling keeps it)',
        security: [{ queueToken: [] }],
        response: { 200: TokenStatus, ...errorResponses },
      },
      preHandler: tokenGuard(queue, 'live', { touch: true }),
    },
    async (request) => queue.view(request.queueState!),
  );

  api.get(
    '/api/v1/queue/tokens/me/events',
    {
      schema: {
        tags: ['queue'],
        summary: 'Your place in line as Server-Sent Events (an open stream keeps it)',
        description:
          'Sends the state as a `data:` JSON object (like GET /me) at once and on every change, a heartbeat comment at least every 15 s, and ends after the token expires. Takes the token as `?token=` too, for EventSource.',
        security: [{ queueToken: [] }],
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses },
      },
      preHandler: tokenGuard(queue, 'live', { touch: true, tokenFromQuery: true }),
    },
    async (request, reply) => {
      const claims = claimsOf(request);
      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });

      let last = '';
      let closed = false;
      let checking = Promise.resolve();
      const send = (view: TokenView) => {
        const key = `${view.status}:${view.position}`;
        if (key === last) return;
        last = key;
        raw.write(`data: ${JSON.stringify(view)}\n\n`);
        if (view.status === 'EXPIRED') end();
      };
      // Checks run one after another, so events leave in the order the states were read.
      const check = (touch: boolean) => {
        checking = checking.then(async () => {
          if (closed) return;
          try {
            const state = await queue.peek(claims, touch);
            if (closed) return;
            // A token the store no longer knows was lost with its line (Redis came back empty): end the
            // stream without a state, and the client's next poll is told LINE_RESET.
            if (state) send(queue.view(state));
            else end();
          } catch (err) {
            request.log.warn({ err }, 'queue stream check failed');
          }
        });
      };
      const unsubscribe = queue.onChange(() => check(false));
      const heartbeat = setInterval(() => {
        raw.write(': heartbeat\n\n');
        check(true);
      }, heartbeatMs);
      function end() {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(end);
        raw.end();
      }
      streams.add(end);
      raw.on('close', end);
      send(queue.view(request.queueState!));
    },
  );
}

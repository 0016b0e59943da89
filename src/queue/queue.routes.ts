// Queue endpoints: join the line, poll your place, or stream it over Server-Sent Events.
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { BotCheck } from '../abuse/bot-check.js';
import { DomainError } from '../errors.js';
import type { UserAssertions } from '../identity/user-assertion.js';
import type { StreamMetrics } from '../metrics/metrics.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerToken, claimsOf, tokenGuard } from '../http/auth.js';
import { DateTime, errorResponses, Strict, TokenEndReason, Uuid } from '../http/schemas.js';
import { SalePhase } from '../sales/sale.schemas.js';
import { MAX_MESSAGE_LENGTH } from './queue.schemas.js';
import type { QueueService } from './queue.service.js';
import { StreamHub } from './stream-hub.js';

const Status = Type.Union([Type.Literal('WAITING'), Type.Literal('ACTIVE'), Type.Literal('EXPIRED'), Type.Literal('SOLD_OUT')], {
  description: 'SOLD_OUT: the sale of this line sold out (final)',
});

/** What a token of a sale's line adds to its views. */
const SaleFields = {
  saleId: Type.Optional(Uuid),
  phase: Type.Optional(SalePhase),
  seatsLeft: Type.Optional(Type.Integer({ minimum: 0, description: 'seats neither held nor sold' })),
  entryId: Type.Optional(Type.String({ format: 'uuid', description: "this place in line's id in the sale's draw" })),
  drawRank: Type.Optional(
    Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: 'the place the draw gave this entry; null before the draw or for joins after the open',
    }),
  ),
};

/** What the operator says to the line, in every view of a token. */
const LineFields = {
  paused: Type.Boolean({ description: "admission of this token's line is paused by the operator (nobody is let in until it resumes)" }),
  message: Type.Optional(Type.String({ maxLength: MAX_MESSAGE_LENGTH, description: "the operator's message to this line's fans; absent when none is set" })),
};

const Challenge = Type.Object({
  algorithm: Type.String(),
  challenge: Type.String(),
  maxnumber: Type.Integer(),
  salt: Type.String(),
  signature: Type.String(),
});

const IssuedToken = Type.Object({
  token: Type.String({ description: 'send as `Authorization: Bearer <token>`' }),
  userId: Uuid,
  status: Status,
  position: Type.Integer({ minimum: 0 }),
  estimatedWaitSeconds: Type.Integer({ minimum: 0 }),
  expiresAt: DateTime,
  ...LineFields,
  ...SaleFields,
});

const TokenStatus = Type.Object({
  userId: Uuid,
  status: Status,
  position: Type.Integer({ minimum: 0, description: '0 when ACTIVE; otherwise 1 + the tokens still ahead (in a pre-queue: its size)' }),
  estimatedWaitSeconds: Type.Integer({ minimum: 0 }),
  pollAfterSeconds: Type.Integer({ minimum: 1, description: 'when a polling client should ask again' }),
  expiresAt: DateTime,
  ...LineFields,
  reason: Type.Optional(TokenEndReason),
  ...SaleFields,
});

export interface QueueRoutesOptions {
  queue: QueueService;
  /** When set, token issue needs a user assertion for the body's userId. */
  assertions: UserAssertions | undefined;
  /** When set, token issue needs a solved challenge. */
  botCheck: BotCheck | undefined;
  /** Per client address, on token issue. */
  joinLimit: onRequestAsyncHookHandler;
  /** Told when a stream opens and ends. */
  metrics?: StreamMetrics;
  /** Checks that a sale may be joined now (404/409 otherwise) before its line is joined. */
  admitToSale: (saleId: string) => Promise<void>;
  /** How often an open stream sends a heartbeat and counts as a poll. */
  heartbeatMs: number;
  /** Most streams this instance holds open at once (SSE_MAX_STREAMS). */
  maxStreams: number;
}

/** When a client refused a stream (the instance holds all it can) may ask for one again; it polls meanwhile. */
const STREAMS_FULL_RETRY_SECONDS = 10;

/** Joining the line: the bot check's challenge and token issue. */
export async function queueRoutes(
  app: FastifyInstance,
  { queue, admitToSale, assertions, botCheck, joinLimit }: Omit<QueueRoutesOptions, 'heartbeatMs' | 'maxStreams' | 'metrics'>,
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/challenge',
    {
      schema: {
        tags: ['queue'],
        summary: 'A bot-check challenge to solve before joining (BOT_CHECK=pow)',
        description:
          "ALTCHA's challenge format. Solve it (find `number` with SHA-256(salt + number) = challenge) and send base64 of `{ algorithm, challenge, number, salt, signature }` as `proof` when joining. 404 when the bot check is off.",
        response: { 200: Challenge, ...errorResponses },
      },
    },
    async (_request, reply) => {
      if (!botCheck) throw new DomainError('NOT_FOUND', 'the bot check is off: join without a proof');
      void reply.header('cache-control', 'no-store');
      return botCheck.challenge();
    },
  );

  api.post(
    '/api/v1/queue/tokens',
    {
      schema: {
        tags: ['queue'],
        summary: 'Join the line (or get your live token back)',
        description:
          "Without saleId: the general line. With saleId: that sale's line (its pre-queue before opensAt). With user auth configured, send the ticket seller's user assertion as `Authorization: Bearer <JWT>`; with the bot check on, a solved challenge as `proof`.",
        security: [{ userAssertion: [] }, {}],
        body: Strict({
          userId: Uuid,
          saleId: Type.Optional(Uuid),
          proof: Type.Optional(Type.String({ maxLength: 4096, description: 'the solved ALTCHA payload, base64 (BOT_CHECK=pow)' })),
        }),
        response: { 200: IssuedToken, 201: IssuedToken, ...errorResponses },
      },
      onRequest: joinLimit,
      config: { addressLimit: 'join' },
    },
    async (request, reply) => {
      const { userId, saleId, proof } = request.body;
      // Who first (a cheap signature check), then the proof, which is spent only for the right fan.
      await assertions?.check(bearerToken(request), userId);
      await botCheck?.redeem(proof);
      if (saleId) await admitToSale(saleId);
      const { created, ...issued } = await queue.issueToken(userId, saleId);
      return reply.code(created ? 201 : 200).send(issued);
    },
  );
}

/**
 * The fan's place: polls and the stream, the hottest paths of a sale. The app registers them outside
 * the scope that sends helmet's headers (which guard documents: a poll's JSON needs none, and they
 * would be most of its bytes) and outside the per-address rate limit (a poll is cheaper than counting it).
 */
export async function queueStatusRoutes(
  app: FastifyInstance,
  { queue, heartbeatMs, maxStreams, metrics }: Pick<QueueRoutesOptions, 'queue' | 'heartbeatMs' | 'maxStreams' | 'metrics'>,
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const hub = new StreamHub({
    queue,
    maxStreams,
    heartbeatMs,
    onError: (err) => app.log.warn({ err }, 'queue stream check failed'),
    onOpen: () => metrics?.streamOpened(),
    onClose: () => metrics?.streamClosed(),
  });
  app.addHook('preClose', async () => hub.closeAll());

  api.get(
    '/api/v1/queue/tokens/me',
    {
      schema: {
        tags: ['queue'],
        summary: 'Your place in line (polling keeps it)',
        security: [{ queueToken: [] }],
        response: { 200: TokenStatus, ...errorResponses },
      },
      preHandler: tokenGuard(queue, 'status', { touch: true }),
      // A poll is cheaper than counting it; pollAfterSeconds paces it instead.
      config: { addressLimit: false },
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
          "Sends the state as a `data:` JSON object (like GET /me) at once; again whenever anything in it changes (status, position, phase, the line's pause or the operator's message), on every instance: news at once, and so the first move of position after it, further moves at most a second after the last one, a changed estimate alone at most a second after the last event; and at least every 15 s with a fresh estimatedWaitSeconds, beside a heartbeat comment. The last event of an ended token says why it ended (`reason`), then the stream ends. Takes the token as `?token=` too, for EventSource. An instance holds at most SSE_MAX_STREAMS streams: past it, 503 SERVICE_UNAVAILABLE with Retry-After, and the client polls GET /me instead.",
        security: [{ queueToken: [] }],
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses },
      },
      // Refused before the token is even read: a stream the instance cannot hold costs nothing.
      onRequest: async (request, reply) => {
        if (request.method === 'HEAD' || !hub.full()) return;
        void reply.header('retry-after', String(STREAMS_FULL_RETRY_SECONDS));
        throw new DomainError('SERVICE_UNAVAILABLE', 'this instance holds as many streams as it can; poll GET /api/v1/queue/tokens/me instead');
      },
      preHandler: tokenGuard(queue, 'status', { touch: true, tokenFromQuery: true }),
      config: { addressLimit: false },
    },
    async (request, reply) => {
      // HEAD (which Fastify answers with this handler) gets the stream's headers and no stream.
      if (request.method === 'HEAD') return reply.code(200).header('cache-control', 'no-cache, no-transform').type('text/event-stream; charset=utf-8').send();
      const state = request.queueState!;
      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      hub.open({ claims: claimsOf(request), lineId: state.lineId, raw }, queue.view(state));
    },
  );
}

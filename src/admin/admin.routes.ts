// Operator endpoints behind X-Admin-Key. Without ADMIN_KEY they do not exist (404), as the contract says.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { NewConcert } from '../concerts/concert.schemas.js';
import type { ConcertService } from '../concerts/concert.service.js';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { errorResponses, Strict, Uuid } from '../http/schemas.js';
import { LineMessage, OperatorMessage } from '../queue/queue.schemas.js';
import type { QueueService } from '../queue/queue.service.js';
import { insertUser, insertUsers } from '../users/user.repository.js';

export interface AdminRoutesOptions {
  adminKey: string | undefined;
  db: Kysely<DB>;
  concerts: ConcertService;
  queue: QueueService;
}

const QueueState = Type.Object({
  waiting: Type.Integer(),
  active: Type.Integer(),
  activeLimit: Type.Integer(),
  admittedPerMinute: Type.Integer({ description: 'admissions measured over the last 60 s' }),
  paused: Type.Boolean(),
  message: LineMessage,
});

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function adminGuard(adminKey: string | undefined): onRequestAsyncHookHandler {
  const expected = adminKey === undefined ? undefined : digest(adminKey);
  return async (request) => {
    if (!expected) throw new DomainError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    const given = request.headers['x-admin-key'];
    // Comparing digests keeps the comparison constant-time whatever the given key's length.
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      throw new DomainError('INVALID_ADMIN_KEY', 'X-Admin-Key is missing or wrong');
    }
  };
}

export async function adminRoutes(app: FastifyInstance, { adminKey, db, concerts, queue }: AdminRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = adminGuard(adminKey);
  const security = [{ adminKey: [] }];

  api.post(
    '/admin/v1/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a user',
        security,
        body: Strict({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) }),
        response: { 201: Type.Object({ userId: Uuid }), ...errorResponses },
      },
      onRequest,
      // The name is optional, so an empty request is a user without one.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const userId = await insertUser(db, request.body.name ?? null);
      queue.rememberUsers([userId]);
      return reply.code(201).send({ userId });
    },
  );

  api.post(
    '/admin/v1/users/batch',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create many users at once (seeding a sale or a load test)',
        security,
        body: Strict({
          count: Type.Integer({ minimum: 1, maximum: 10_000 }),
          namePrefix: Type.Optional(Type.String({ minLength: 1, maxLength: 90, description: 'names become <prefix>1, <prefix>2, …' })),
        }),
        response: { 201: Type.Object({ userIds: Type.Array(Uuid) }), ...errorResponses },
      },
      onRequest,
    },
    async (request, reply) => {
      const userIds = await insertUsers(db, request.body.count, request.body.namePrefix ?? null);
      queue.rememberUsers(userIds);
      return reply.code(201).send({ userIds });
    },
  );

  api.post(
    '/admin/v1/concerts',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a concert with its dates and seats: numbered seats at one price per date, or the seats of a layout',
        security,
        body: NewConcert,
        response: { 201: Type.Object({ concertId: Uuid }), ...errorResponses },
      },
      onRequest,
    },
    async (request, reply) => {
      const concertId = await concerts.createConcert(request.body);
      return reply.code(201).send({ concertId });
    },
  );

  api.get(
    '/admin/v1/queue',
    { schema: { tags: ['admin'], summary: 'The waiting room now', security, response: { 200: QueueState, ...errorResponses } }, onRequest },
    async () => queue.stats(),
  );

  api.patch(
    '/admin/v1/queue',
    {
      schema: {
        tags: ['admin'],
        summary: 'Pause or resume admission, change how many may be ACTIVE, or set the message shown to the line',
        security,
        body: Strict({
          activeLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          paused: Type.Optional(Type.Boolean()),
          message: Type.Optional(OperatorMessage),
        }),
        response: { 200: QueueState, ...errorResponses },
      },
      onRequest,
    },
    async (request) => queue.updateSettings(request.body),
  );
}

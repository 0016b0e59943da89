// The operator's history of a line, for the charts of the operator page: the general line's and each sale's.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminGuard } from '../admin/admin.routes.js';
import { DomainError } from '../errors.js';
import { DateTime, errorResponses, Uuid } from '../http/schemas.js';
import { HISTORY_RETENTION_DAYS, MAX_HISTORY_POINTS, type LineHistory } from './line-history.js';
import { GENERAL_LINE, saleLineId } from './queue.store.js';

const Percentiles = Type.Object({ p50: Type.Integer(), p90: Type.Integer(), p99: Type.Integer() });

const History = Type.Object({
  bucketSeconds: Type.Integer({ description: 'how often each instance adds to the history (QUEUE_HISTORY_SECONDS)' }),
  stepSeconds: Type.Integer({ description: `the points' spacing: whole buckets, at most ${MAX_HISTORY_POINTS} points per window` }),
  from: DateTime,
  to: DateTime,
  points: Type.Array(
    Type.Object({
      at: DateTime,
      waiting: Type.Integer({ description: 'in line and not admitted, at the end of the step' }),
      active: Type.Integer({ description: 'ACTIVE at the end of the step' }),
      admitted: Type.Integer({ description: 'admitted during the step, by every instance' }),
      abandoned: Type.Integer({ description: 'WAITING tokens skipped as abandoned during the step' }),
      admittedPerMinute: Type.Number(),
      waitSeconds: Type.Union([Percentiles, Type.Null()], {
        description: 'percentiles of the waits (join to admission) of those admitted during the step, from histogram buckets; null when none was',
      }),
    }),
    { description: 'oldest first; a step in which no instance ran has no point' },
  ),
});

const MAX_MINUTES = HISTORY_RETENTION_DAYS * 24 * 60;

// A querystring is text, and the app's validator coerces nothing: the number is checked here.
const Window = Type.Object({
  minutes: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$', description: `how far back, 1–${MAX_MINUTES} (default 60)` })),
});

function windowMinutes(query: { minutes?: string }): number {
  const minutes = Number(query.minutes ?? 60);
  if (minutes > MAX_MINUTES) throw new DomainError('VALIDATION_ERROR', `minutes must be at most ${MAX_MINUTES}`);
  return minutes;
}

export async function lineHistoryRoutes(
  app: FastifyInstance,
  { history, adminKey, saleExists }: { history: LineHistory; adminKey: string | undefined; saleExists: (saleId: string) => Promise<void> },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = adminGuard(adminKey);
  const security = [{ adminKey: [] }];
  const description = `Kept ${HISTORY_RETENTION_DAYS} days, in PostgreSQL, summed over every instance.`;

  api.get(
    '/admin/v1/queue/history',
    {
      schema: {
        tags: ['admin'],
        summary: "The general line's history: waiting, active, admissions and actual waits",
        description,
        security,
        querystring: Window,
        response: { 200: History, ...errorResponses },
      },
      onRequest,
    },
    async (request) => history.read(GENERAL_LINE, windowMinutes(request.query)),
  );

  api.get(
    '/admin/v1/sales/:saleId/history',
    {
      schema: {
        tags: ['admin'],
        summary: "A sale's line history: waiting, active, admissions and actual waits",
        description,
        security,
        params: Type.Object({ saleId: Uuid }),
        querystring: Window,
        response: { 200: History, ...errorResponses },
      },
      onRequest,
    },
    async (request) => {
      await saleExists(request.params.saleId);
      return history.read(saleLineId(request.params.saleId), windowMinutes(request.query));
    },
  );
}

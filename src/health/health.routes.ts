// Liveness and readiness for load balancers and orchestrators.
import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../db/schema.js';
import { errorBody } from '../errors.js';
import type { QueueLines } from '../queue/queue.store.js';

/** Readiness answers within a second whatever the dependencies do: a probe that hangs is a probe that fails. */
export const READINESS_TIMEOUT_MS = 800;

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function healthRoutes(app: FastifyInstance, { db, lines }: { db: Kysely<DB>; lines: Pick<QueueLines, 'ping'> }): Promise<void> {
  const Ok = Type.Object({ status: Type.String() });
  // Probes come from the load balancer's address, often and on purpose: never rate limited.
  const config = { addressLimit: false as const };
  app.get('/healthz', { config, schema: { tags: ['service'], summary: 'The process is up', response: { 200: Ok } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      config,
      schema: { tags: ['service'], summary: 'The database (and Redis, when configured) answer', response: { 200: Ok, 503: Type.Ref('ErrorResponse') } },
    },
    async (request, reply) => {
      try {
        await within(READINESS_TIMEOUT_MS, Promise.all([sql`select 1`.execute(db), lines.ping()]));
        return { status: 'ready' };
      } catch (err) {
        request.log.warn({ err: String(err) }, 'not ready');
        return reply.code(503).header('retry-after', '2').send(errorBody('SERVICE_UNAVAILABLE', 'a dependency is not answering'));
      }
    },
  );
}

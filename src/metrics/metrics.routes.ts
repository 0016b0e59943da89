// GET /metrics in Prometheus' text format, and the onResponse hook that times every request by its
// route pattern. With METRICS_KEY set, a scrape needs `Authorization: Bearer <METRICS_KEY>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../errors.js';
import { bearerToken } from '../http/auth.js';
import { UNMATCHED_ROUTE, type Metrics } from './metrics.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Times every request, matched or not. Register it before the routes. The label is the route's
 * pattern (`/api/v1/users/:userId/points`), never the raw URL, so the series stay few.
 */
export function registerRequestTiming(app: FastifyInstance, metrics: Pick<Metrics, 'httpRequest'>): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequest(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

export async function metricsRoutes(
  app: FastifyInstance,
  { metrics, metricsKey }: { metrics: Pick<Metrics, 'registry'>; metricsKey: string | undefined },
): Promise<void> {
  const expected = metricsKey === undefined ? undefined : digest(metricsKey);
  app.get(
    '/metrics',
    {
      // Text for Prometheus, not part of the JSON API: left out of the OpenAPI document.
      schema: { hide: true },
      // Scrapers come often from one address: never rate limited.
      config: { addressLimit: false },
      onRequest: async (request) => {
        if (!expected) return;
        const given = bearerToken(request);
        // Comparing digests keeps the comparison constant-time whatever the given key's length.
        if (given === undefined || !timingSafeEqual(digest(given), expected)) {
          throw new DomainError('INVALID_METRICS_KEY', 'Authorization: Bearer <METRICS_KEY> is missing or wrong');
        }
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(text);
    },
  );
}

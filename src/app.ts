// Builds the whole service as one Fastify instance from a Config: the composition root. Listening is
// src/server.ts's job, so tests build exactly the same app and drive it with inject().
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Ajv, Options as AjvOptions, Plugin } from 'ajv';
import addFormats from 'ajv-formats';
import type { Config } from './config.js';
import { adminRoutes } from './admin/admin.routes.js';
import { concertRoutes } from './concerts/concert.routes.js';
import { createConcertService } from './concerts/concert.service.js';
import { MemoryListingVersions, RedisListingVersions, type ListingVersions } from './concerts/listing-versions.js';
import { migrateDatabase, openDatabase, poolUsage, type Database } from './db/database.js';
import { demoRoutes, seedDemo, type DemoUser } from './demo/demo-seed.js';
import { healthRoutes } from './health/health.routes.js';
import { OutageLog } from './health/outage-log.js';
import { errorBody } from './errors.js';
import { answerClientError, registerErrorHandling } from './http/error-handler.js';
import { ErrorResponse } from './http/schemas.js';
import { deleteOldKeys } from './idempotency/idempotency.js';
import { createMetrics, everyQueueMetrics } from './metrics/metrics.js';
import { metricsRoutes, registerRequestTiming } from './metrics/metrics.routes.js';
import { paymentRoutes } from './payments/payment.routes.js';
import { createPaymentService } from './payments/payment.service.js';
import { pointsRoutes } from './points/points.routes.js';
import { createPointsService } from './points/points.service.js';
import { queueRoutes, queueStatusRoutes } from './queue/queue.routes.js';
import { ensureLineSettings, loadLineSettings, updateLineSettings } from './queue/queue-line.repository.js';
import { loadSavedLines, startSnapshots, type SnapshotLoop } from './queue/queue-snapshots.js';
import { createQueueService } from './queue/queue.service.js';
import type { QueueLines } from './queue/queue.store.js';
import { createQueueLines } from './queue/queue.store.factory.js';
import { MemoryQueueLines } from './queue/queue.store.memory.js';
import { reservationRoutes } from './reservations/reservation.routes.js';
import { saleRoutes } from './sales/sale.routes.js';
import { createSaleService } from './sales/sale.service.js';
import { createReservationService } from './reservations/reservation.service.js';
import { databaseFailure, redisFailure } from './startup-errors.js';
import { createBotCheck, MemorySpentChallenges, RedisSpentChallenges } from './abuse/bot-check.js';
import { registerRateLimits } from './abuse/rate-limits.js';
import { createUserAssertions } from './identity/user-assertion.js';
import { REDACTED_PATHS, registerSecurityHeaders, serializeRequest } from './http/security.js';
import { connectFailFast, redisTarget, type RedisClient } from './redis/redis-client.js';
import { createLineHistory } from './queue/line-history.js';
import { lineHistoryRoutes } from './queue/line-history.routes.js';
import { batchedUserExists } from './users/user.repository.js';
import { CANONICAL_UUID } from './ids.js';
import { defaultWebRoot, registerDevWeb, registerWeb } from './web/web.plugin.js';

export interface AppDeps {
  /** An open, migrated database to use instead of opening one from the config (tests share one). */
  db?: Database;
  lines?: QueueLines;
  /** Where log lines go instead of standard output (tests read them). */
  logStream?: { write(line: string): void };
}

export interface App {
  app: FastifyInstance;
  db: Database;
  demoUsers: DemoUser[];
}

const MiB = 1024 * 1024;

export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<App> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      serializers: { req: serializeRequest },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      ...(deps.logStream ? { stream: deps.logStream } : {}),
    },
    // request.ip: the first hop of X-Forwarded-For behind a proxy the operator vouches for.
    trustProxy: config.trustProxy,
    // Request logs cost more than a poll itself at sale-time rates; production leaves them out.
    logController: new LogController({ disableRequestLogging: config.production }),
    bodyLimit: MiB,
    clientErrorHandler: answerClientError,
    // A URL that cannot be decoded fails before routing, outside the error handler: give it our shape too.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      void reply.code(400).send(errorBody('VALIDATION_ERROR', error.message));
    },
    ajv: {
      // Unknown fields and wrong types are 400s, as the contract says: never stripped or coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } as AjvOptions,
      // ajv-formats' uuid also allows a urn:uuid: prefix, which PostgreSQL's uuid type refuses (a 500
      // where the contract wants a 400): only the canonical form passes.
      plugins: [addFormats.default as Plugin<unknown>, ((ajv: Ajv) => ajv.addFormat('uuid', CANONICAL_UUID)) as Plugin<unknown>],
    },
  });
  // The contract wants JSON only: without this, text/plain would be parsed and fail validation as 400, not 415.
  app.removeContentTypeParser('text/plain');
  registerErrorHandling(app);
  // Security headers go with documents and API answers, not with queue polls and streams (see
  // queueStatusRoutes): those are registered outside `documents`, the scope that sends them. In
  // development every path may be one of Vite's, so every answer gets them.
  const documents = async (scope: FastifyInstance, register: (scope: FastifyInstance) => Promise<void>) => {
    if (config.webDev) return register(scope);
    await scope.register(async (withHeaders) => {
      await registerSecurityHeaders(withHeaders, { dev: false });
      await register(withHeaders);
    });
  };
  if (config.webDev) await registerSecurityHeaders(app, { dev: true });
  // This app's own registry (never prom-client's global one): every instance exports its own numbers.
  const metrics = createMetrics();
  registerRequestTiming(app, metrics);

  const ownsDb = !deps.db;
  const pgConnections = new OutageLog(app.log, 'PostgreSQL connection');
  const db =
    deps.db ??
    (await openDatabase(config, { onError: (err) => pgConnections.failed(err) }).catch((err: unknown) => {
      throw databaseFailure(config, err);
    }));
  const ownsStore = !deps.lines;
  let lines: QueueLines | undefined = deps.lines;
  let versions: ListingVersions | undefined;
  let snapshots: SnapshotLoop | undefined;
  let edgeRedis: RedisClient | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    if (ownsDb) {
      await migrateDatabase(config, db).catch((err: unknown) => {
        throw databaseFailure(config, err);
      });
    }
    // The line's settings live in PostgreSQL; each deployment (REDIS_PREFIX) has a line of its own.
    const line = `${config.redisPrefix}general`;
    await ensureLineSettings(db, line, { activeLimit: config.queue.activeLimit, paused: false });
    const redisConnection = new OutageLog(app.log, 'Redis connection');
    const unreachable = (err: unknown) => {
      throw redisFailure(config, err);
    };
    lines ??= await createQueueLines(config, redisConnection, config.redisUrl ? [] : await loadSavedLines(db, config.redisPrefix, app.log), metrics).catch(
      unreachable,
    );
    if (ownsStore && lines instanceof MemoryQueueLines) snapshots = startSnapshots({ db, lines, prefix: config.redisPrefix, log: app.log });

    const history = createLineHistory({ db, prefix: config.redisPrefix, bucketSeconds: config.queue.historySeconds });
    const queue = createQueueService({
      lines,
      settingsSource: { load: () => loadLineSettings(db, line), save: (change) => updateLineSettings(db, line, change) },
      config,
      userExists: batchedUserExists(db),
      log: app.log,
      metrics: everyQueueMetrics(metrics, history),
    });
    const redis = redisTarget(config);
    versions = redis
      ? await RedisListingVersions.connect(redis, config.redisPrefix, (err) => redisConnection.failed(err)).catch(unreachable)
      : new MemoryListingVersions();
    const concerts = createConcertService({ db, versions });
    queue.onReset(() => concerts.forgetCachedListings());
    const reservations = createReservationService({ db, holdSeconds: config.reservation.holdSeconds, versions, metrics });
    const points = createPointsService({ db, metrics });
    const sales = createSaleService({ db, queue, holds: reservations, config, log: app.log, metrics });
    const payments = createPaymentService({
      db,
      queue,
      holds: reservations,
      afterSale: (concertId) => sales.afterSale(concertId),
      log: app.log,
      metrics,
    });
    metrics.readFrom({ lines: () => queue.lineFigures(), seats: () => sales.seatFigures(), pool: () => poolUsage(db) });
    const demoUsers = config.seedDemo ? await seedDemo(db, concerts, sales) : [];

    // Abuse limits and the bot check's spent challenges, shared by every instance through Redis.
    if (redis) edgeRedis = await connectFailFast(redis, (err) => redisConnection.failed(err)).catch(unreachable);
    const limits = await registerRateLimits(app, { limits: config.rateLimits, redis: edgeRedis, prefix: config.redisPrefix });
    const botCheck =
      config.botCheck.mode === 'pow'
        ? createBotCheck(config.botCheck, config.tokenSecret, edgeRedis ? new RedisSpentChallenges(edgeRedis, config.redisPrefix) : new MemorySpentChallenges())
        : undefined;
    const assertions = createUserAssertions(config.userAuth);
    if (!assertions && config.databaseUrl) {
      app.log.warn("no user auth (USER_AUTH_SECRET or USER_AUTH_JWKS_URL): anyone who knows a user id may take that user's place in line");
    }

    app.addSchema(ErrorResponse);
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'boxoffice',
          version: '1.0.0',
          description: 'Concert ticketing with a fair virtual waiting room. Join the queue, then use the token as a bearer token.',
        },
        components: {
          securitySchemes: {
            queueToken: { type: 'http', scheme: 'bearer', description: 'the token from POST /api/v1/queue/tokens' },
            adminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key' },
            userAssertion: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: "the ticket seller's user assertion (USER_AUTH_SECRET or USER_AUTH_JWKS_URL)",
            },
          },
        },
      },
    });
    const heartbeatMs = Math.min(15_000, (config.queue.waitingIdleSeconds * 1000) / 3);
    await app.register(queueStatusRoutes, { queue, heartbeatMs, maxStreams: config.queue.maxStreams, metrics });
    const store = lines;
    await documents(app, async (scope) => {
      // Swagger UI's page carries its own CSP, with hashes of its inline scripts. Its React sets inline
      // styles, so only its pages allow those; and plain-HTTP hosts must not be told to upgrade.
      await scope.register(swaggerUi, {
        routePrefix: '/docs',
        staticCSP: true,
        transformStaticCSP: (header) =>
          header.replace("style-src 'self' https:", "style-src 'self' 'unsafe-inline'").replace(/ ?upgrade-insecure-requests;?/, ''),
      });
      scope.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await scope.register(healthRoutes, { db, lines: store });
      await scope.register(metricsRoutes, { metrics, metricsKey: config.metricsKey });
      await scope.register(queueRoutes, { queue, admitToSale: (saleId) => sales.admitToSale(saleId), assertions, botCheck, joinLimit: limits.join });
      await scope.register(saleRoutes, { sales, adminKey: config.adminKey });
      await scope.register(lineHistoryRoutes, { history, adminKey: config.adminKey, saleExists: async (saleId) => void (await sales.getSale(saleId)) });
      await scope.register(concertRoutes, { concerts, queue, sales });
      await scope.register(reservationRoutes, { reservations, queue, sales, holdLimit: limits.hold });
      await scope.register(pointsRoutes, { points, queue });
      await scope.register(paymentRoutes, { payments, queue });
      await scope.register(adminRoutes, { adminKey: config.adminKey, db, concerts, queue });
      if (config.seedDemo) await scope.register(demoRoutes, { db });
      if (!config.webDev) await registerWeb(scope, { root: defaultWebRoot() });
    });
    if (config.webDev) await registerDevWeb(app);

    await queue.start();
    await sales.start();
    // Background loops outlive any failure and log it once per outage, not once per run.
    const everyMs = (ms: number, what: string, run: () => Promise<unknown>) => {
      const outage = new OutageLog(app.log, what);
      let running = false;
      timers.push(
        setInterval(() => {
          if (running) return;
          running = true;
          run()
            .then(
              () => outage.ok(),
              (err: unknown) => outage.failed(err),
            )
            .finally(() => (running = false));
        }, ms),
      );
    };
    everyMs(config.reservation.sweepMs, 'sweeping lapsed holds', () => reservations.sweepLapsedHolds());
    everyMs(3_600_000, 'idempotency key cleanup', () => deleteOldKeys(db, new Date()));
    everyMs(config.queue.historySeconds * 1000, "saving the lines' history", () => history.flush(queue.lineFigures()));
    for (const t of timers) t.unref();

    app.addHook('onClose', async () => {
      sales.stop();
      queue.stop();
      for (const t of timers) clearInterval(t);
      // The last bucket of this instance's counts, which the timer would have added next.
      await history.flush(queue.lineFigures()).catch((err: unknown) => app.log.warn({ err }, "the lines' history could not be saved"));
      await snapshots?.stop();
      if (ownsStore) await lines?.close();
      await versions?.close();
      await edgeRedis?.quit().catch(() => undefined);
      if (ownsDb) await db.destroy();
    });
    return { app, db, demoUsers };
  } catch (err) {
    for (const t of timers) clearInterval(t);
    await snapshots?.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    if (ownsStore) await lines?.close().catch(() => undefined);
    await versions?.close().catch(() => undefined);
    edgeRedis?.disconnect();
    if (ownsDb) await db.destroy().catch(() => undefined);
    throw err;
  }
}

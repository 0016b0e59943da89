// What a fan gets while PostgreSQL or Redis is away: 503 SERVICE_UNAVAILABLE with Retry-After within
// 2 s (never a 500, never a hang), /readyz 503 within 1 s, and service again within 5 s of the
// dependency's return, in the same process. The app reaches both through TCP proxies the test controls,
// so it can cut a dependency (it went down) or freeze it (it stopped answering). Needs real PostgreSQL
// and Redis (DATABASE_URL and REDIS_URL); the fault suite (test/faults) restarts real servers.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_KEY,
  activeUser,
  bearer,
  createConcert,
  createTestApp,
  createUser,
  expectLedgerMatchesBalances,
  hold,
  joinQueue,
  json,
  waitFor,
  type TestApp,
} from '../helpers/test-app.js';
import { deleteRedisKeys } from '../helpers/redis-keys.js';
import { startTcpProxy, throughProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const pgUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;

async function timed(app: FastifyInstance, request: InjectOptions): Promise<{ res: LightMyRequestResponse; ms: number }> {
  const started = performance.now();
  const res = await app.inject(request);
  return { res, ms: performance.now() - started };
}

function expectUnavailable({ res, ms }: { res: LightMyRequestResponse; ms: number }, what: string): void {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(503);
  expect(json(res).error.code, what).toBe('SERVICE_UNAVAILABLE');
  expect(Number(res.headers['retry-after']), `${what}: Retry-After`).toBeGreaterThan(0);
  expect(ms, `${what}: answered in ${ms} ms`).toBeLessThan(2_000);
}

describe.skipIf(!pgUrl || !redisUrl)('when a dependency is down', () => {
  /**
   * A poll may be answered from the instance's copy of the line while the copy is under a second old;
   * after that, polls get 503 with Retry-After, each within 2 s: so within 3 s of the outage.
   */
  async function expectPollUnavailable(token: string): Promise<void> {
    const started = performance.now();
    for (;;) {
      const answer = await timed(t.app, { method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
      expect(answer.ms, `poll answered in ${answer.ms} ms`).toBeLessThan(2_000);
      if (answer.res.statusCode !== 200 || performance.now() - started > 3_000) {
        expectUnavailable(answer, 'poll');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    const pg = new URL(pgUrl!);
    const redis = new URL(redisUrl!);
    pgProxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    redisProxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    t = await createTestApp({ databaseUrl: throughProxy(pgUrl!, pgProxy), redisUrl: throughProxy(redisUrl!, redisProxy) });
  });
  afterAll(async () => {
    pgProxy.restore();
    redisProxy.restore();
    await t?.close();
    await pgProxy?.close();
    await redisProxy?.close();
  });

  const readyz = () => timed(t.app, { method: 'GET', url: '/readyz' });

  it('while PostgreSQL is down: 503 with Retry-After within 2 s, readiness 503 within 1 s, polls still served; back within 5 s', async () => {
    const fan = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { seatCount: 5 });
    pgProxy.cut();
    try {
      expectUnavailable(
        await timed(t.app, { method: 'POST', url: `/api/v1/users/${fan.userId}/points/charge`, headers: bearer(fan.token), payload: { amount: 1_000 } }),
        'charge',
      );
      expectUnavailable(await timed(t.app, { method: 'GET', url: `/api/v1/users/${fan.userId}/points`, headers: bearer(fan.token) }), 'balance');
      const started = performance.now();
      const held = await hold(t.app, fan, concert, 1);
      expectUnavailable({ res: held, ms: performance.now() - started }, 'hold');
      const ready = await readyz();
      expect(ready.res.statusCode).toBe(503);
      expect(ready.ms).toBeLessThan(1_000);
      // The line lives in Redis: a fan's place is still shown.
      const poll = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(fan.token) });
      expect(poll.statusCode).toBe(200);
    } finally {
      pgProxy.restore();
    }
    const back = performance.now();
    await waitFor(
      async () => {
        const res = await t.app.inject({
          method: 'POST',
          url: `/api/v1/users/${fan.userId}/points/charge`,
          headers: bearer(fan.token),
          payload: { amount: 1_000 },
        });
        expect(res.statusCode).toBe(200);
      },
      5_000,
      50,
    );
    expect(performance.now() - back).toBeLessThan(5_000);
    expect((await readyz()).res.statusCode).toBe(200);
    expect((await hold(t.app, fan, concert, 1)).statusCode).toBe(201);
    await expectLedgerMatchesBalances(t.db, [fan.userId]);
  });

  it('while PostgreSQL does not answer at all: 503 within 2 s rather than a hang', async () => {
    const fan = await activeUser(t.app);
    pgProxy.freeze();
    try {
      expectUnavailable(await timed(t.app, { method: 'GET', url: `/api/v1/users/${fan.userId}/points`, headers: bearer(fan.token) }), 'balance');
      expectUnavailable(
        await timed(t.app, { method: 'POST', url: `/api/v1/users/${fan.userId}/points/charge`, headers: bearer(fan.token), payload: { amount: 5 } }),
        'charge',
      );
      const ready = await readyz();
      expect(ready.res.statusCode).toBe(503);
      expect(ready.ms).toBeLessThan(1_000);
    } finally {
      pgProxy.restore();
    }
    await waitFor(
      async () => {
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/users/${fan.userId}/points`, headers: bearer(fan.token) });
        expect(res.statusCode).toBe(200);
      },
      5_000,
      50,
    );
    await expectLedgerMatchesBalances(t.db, [fan.userId]);
  });

  it('while Redis is down: joins get 503 with Retry-After within 2 s, polls once the copy of the line is a second old, readiness 503 within 1 s; back within 5 s', async () => {
    const userId = await createUser(t.app);
    const { token } = await joinQueue(t.app, userId);
    const other = await createUser(t.app);
    redisProxy.cut();
    try {
      await expectPollUnavailable(token);
      expectUnavailable(await timed(t.app, { method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: other } }), 'join');
      const ready = await readyz();
      expect(ready.res.statusCode).toBe(503);
      expect(ready.ms).toBeLessThan(1_000);
    } finally {
      redisProxy.restore();
    }
    const back = performance.now();
    await waitFor(
      async () => {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
        expect(res.statusCode).toBe(200);
      },
      5_000,
      50,
    );
    expect(performance.now() - back).toBeLessThan(5_000);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: other } })).statusCode).toBe(201);
  });

  it('while Redis does not answer at all: 503 within 2 s rather than a hang', async () => {
    const userId = await createUser(t.app);
    const { token } = await joinQueue(t.app, userId);
    redisProxy.freeze();
    try {
      await expectPollUnavailable(token);
      const ready = await readyz();
      expect(ready.res.statusCode).toBe(503);
      expect(ready.ms).toBeLessThan(1_000);
    } finally {
      redisProxy.restore();
    }
    await waitFor(
      async () => {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
        expect(res.statusCode).toBe(200);
      },
      5_000,
      50,
    );
  });
});

describe.skipIf(!redisUrl)('when Redis comes back empty', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 1 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const emptyRedis = (prefix: string) => deleteRedisKeys(redisUrl!, prefix);

  it("tells old tokens LINE_RESET, restores the operator's settings from PostgreSQL, and admits the rejoined fans", async () => {
    const admin = { 'x-admin-key': ADMIN_KEY };
    const patched = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 2, paused: true } });
    expect(json(patched)).toMatchObject({ activeLimit: 2, paused: true });
    const users = [await createUser(t.app), await createUser(t.app), await createUser(t.app)];
    const before: Awaited<ReturnType<typeof joinQueue>>[] = [];
    for (const u of users) before.push(await joinQueue(t.app, u));
    expect(before.map((b) => b.status)).toEqual(['WAITING', 'WAITING', 'WAITING']);

    await emptyRedis(t.config.redisPrefix);

    // A poll may be answered from the instance's copy of the line for up to a second; then LINE_RESET.
    await waitFor(async () => {
      for (const b of before) {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(b.token) });
        expect(res.statusCode).toBe(401);
        expect(json(res).error.code).toBe('LINE_RESET');
      }
    }, 2_000);
    // The limit and the pause come back from PostgreSQL, not from the environment's defaults.
    await waitFor(async () => {
      const stats = json(await t.app.inject({ method: 'GET', url: '/admin/v1/queue', headers: admin }));
      expect(stats).toMatchObject({ activeLimit: 2, paused: true });
    });
    const rejoined: Awaited<ReturnType<typeof joinQueue>>[] = [];
    for (const u of users) rejoined.push(await joinQueue(t.app, u));
    expect(rejoined.map((r) => r.status)).toEqual(['WAITING', 'WAITING', 'WAITING']);
    expect(rejoined.map((r) => r.position)).toEqual([1, 2, 3]);

    await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: false } });
    await waitFor(async () => {
      const statuses = await Promise.all(
        rejoined.map(async (r) => json(await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(r.token) })).status),
      );
      expect(statuses).toEqual(['ACTIVE', 'ACTIVE', 'WAITING']);
    });
  });

  it("keeps a sale's line admitting after the loss: its draw is taken again from PostgreSQL's record", async () => {
    const concert = await createConcert(t.app, { seatCount: 10 });
    const now = Date.now();
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/sales',
      headers: { 'x-admin-key': ADMIN_KEY },
      payload: {
        concertId: concert.concertId,
        queueOpensAt: new Date(now - 2_000).toISOString(),
        opensAt: new Date(now - 1_000).toISOString(),
        activeLimit: 3,
      },
    });
    const saleId = json(created).saleId as string;
    const join = async () => json(await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: await createUser(t.app), saleId } }));
    const first = await join();
    await waitFor(async () =>
      expect(json(await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(first.token) })).status).toBe('ACTIVE'),
    );

    await emptyRedis(t.config.redisPrefix);

    const afterLoss = await join();
    // Re-seeding, re-drawing and admitting take a few ticks; a loaded machine stretches them.
    await waitFor(
      async () => expect(json(await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(afterLoss.token) })).status).toBe('ACTIVE'),
      15_000,
    );
  });
});

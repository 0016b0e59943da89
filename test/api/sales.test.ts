// The "Sales" section of the contract, rule by rule, through inject on the embedded database and
// in-process queue, or on PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_KEY,
  bearer,
  charge,
  createConcert,
  createTestApp,
  createUser,
  expectLedgerMatchesBalances,
  json,
  waitFor,
  type TestApp,
  type TestConcert,
} from '../helpers/test-app.js';
import { findDrawEntries, insertSale, recordDraw } from '../../src/sales/sale.repository.js';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { createSaleService } from '../../src/sales/sale.service.js';
import type { QueueService } from '../../src/queue/queue.service.js';
import { GENERAL_LINE, saleLineId, type LineSettings, type QueueLines } from '../../src/queue/queue.store.js';
import { createQueueLines } from '../../src/queue/queue.store.factory.js';
import { deleteRedisKeys } from '../helpers/redis-keys.js';

const admin = { 'x-admin-key': ADMIN_KEY };
const iso = (ms: number) => new Date(ms).toISOString();

async function createSale(app: FastifyInstance, concertId: string, body: Record<string, unknown> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/admin/v1/sales',
    headers: admin,
    payload: { concertId, queueOpensAt: iso(Date.now() - 1_000), opensAt: iso(Date.now() - 500), ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return json(res);
}

async function joinSale(app: FastifyInstance, userId: string, saleId: string) {
  return app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId, saleId } });
}

async function me(app: FastifyInstance, token: string) {
  return app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
}

/** The draw's order, computed here independently of the service's code. */
function recompute(seed: string, entries: string[]): string[] {
  const key = (e: string) => createHmac('sha256', Buffer.from(seed, 'hex')).update(e).digest('hex');
  return [...entries].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

async function activeInSale(app: FastifyInstance, saleId: string, points = 0) {
  const userId = await createUser(app);
  const joined = json(await joinSale(app, userId, saleId));
  await waitFor(async () => expect(json(await me(app, joined.token)).status).toBe('ACTIVE'));
  if (points > 0) await charge(app, userId, joined.token, points);
  return { userId, token: joined.token as string };
}

function holdIn(app: FastifyInstance, who: { userId: string; token: string }, concert: TestConcert, seatNumber: number) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/reservations',
    headers: bearer(who.token),
    payload: { userId: who.userId, concertId: concert.concertId, date: concert.dates[0], seatNumber },
  });
}

describe('sales', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 5, tickMs: 50 }, reservation: { holdSeconds: 30, sweepMs: 100 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('operators', () => {
    it('create a sale: 201 with the sale, its commitment and live numbers; activeLimit defaults to QUEUE_ACTIVE_LIMIT', async () => {
      const concert = await createConcert(t.app, { seatCount: 7 });
      const opensAt = Date.now() + 60_000;
      const sale = await createSale(t.app, concert.concertId, { queueOpensAt: iso(opensAt - 30_000), opensAt: iso(opensAt), maxSeatsPerUser: 2 });
      expect(sale).toMatchObject({
        concertId: concert.concertId,
        phase: 'SCHEDULED',
        seatsLeft: 7,
        maxSeatsPerUser: 2,
        closesAt: null,
        activeLimit: 5,
        paused: false,
        waiting: 0,
        active: 0,
        sold: 0,
        held: 0,
        free: 7,
        draw: { seed: null },
      });
      expect(sale.draw.commitment).toMatch(/^[0-9a-f]{64}$/);
      const one = await t.app.inject({ method: 'GET', url: `/admin/v1/sales/${sale.saleId}`, headers: admin });
      expect(json(one).saleId).toBe(sale.saleId);
      const all = json(await t.app.inject({ method: 'GET', url: '/admin/v1/sales', headers: admin }));
      expect(all.sales.map((s: { saleId: string }) => s.saleId)).toContain(sale.saleId);
    });

    it('are refused a disordered schedule (400), an unknown concert (404) and a second sale of a concert (409 SALE_EXISTS)', async () => {
      const concert = await createConcert(t.app);
      const now = Date.now();
      const post = (body: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/admin/v1/sales', headers: admin, payload: body });
      for (const times of [
        { queueOpensAt: iso(now + 2_000), opensAt: iso(now + 1_000) },
        { queueOpensAt: iso(now), opensAt: iso(now + 1_000), closesAt: iso(now + 1_000) },
        { queueOpensAt: iso(now), opensAt: iso(now + 1_000), closesAt: iso(now + 500) },
      ]) {
        const res = await post({ concertId: concert.concertId, ...times });
        expect(res.statusCode, JSON.stringify(times)).toBe(400);
        expect(json(res).error.code).toBe('VALIDATION_ERROR');
      }
      const unknown = await post({ concertId: randomUUID(), queueOpensAt: iso(now), opensAt: iso(now + 1_000) });
      expect(json(unknown).error.code).toBe('CONCERT_NOT_FOUND');
      expect(unknown.statusCode).toBe(404);
      await createSale(t.app, concert.concertId);
      const again = await post({ concertId: concert.concertId, queueOpensAt: iso(now), opensAt: iso(now + 1_000) });
      expect(again.statusCode).toBe(409);
      expect(json(again).error.code).toBe('SALE_EXISTS');
      const noKey = await t.app.inject({ method: 'GET', url: '/admin/v1/sales' });
      expect(json(noKey).error.code).toBe('INVALID_ADMIN_KEY');
    });

    it('change the line and future times; a time that has passed is 409 SALE_STARTED', async () => {
      const concert = await createConcert(t.app);
      const later = Date.now() + 60_000;
      const sale = await createSale(t.app, concert.concertId, { queueOpensAt: iso(Date.now() - 1_000), opensAt: iso(later) });
      const patch = (body: Record<string, unknown>) => t.app.inject({ method: 'PATCH', url: `/admin/v1/sales/${sale.saleId}`, headers: admin, payload: body });
      const changed = await patch({ activeLimit: 9, paused: true, opensAt: iso(later + 60_000), closesAt: iso(later + 120_000) });
      expect(changed.statusCode).toBe(200);
      expect(json(changed)).toMatchObject({ activeLimit: 9, paused: true, opensAt: iso(later + 60_000), closesAt: iso(later + 120_000) });
      const started = await patch({ queueOpensAt: iso(Date.now() + 10_000) });
      expect(started.statusCode).toBe(409);
      expect(json(started).error.code).toBe('SALE_STARTED');
      const disordered = await patch({ closesAt: iso(later) });
      expect(json(disordered).error.code).toBe('VALIDATION_ERROR');
    });
  });

  it('records the draw exactly once, however many instances race to record it', async () => {
    // A sale written straight to the database and already closed, so no admission pass draws it first.
    const concert = await createConcert(t.app);
    const now = Date.now();
    const saleId = await t.db.transaction().execute((trx) =>
      insertSale(trx, {
        deployment: t.config.redisPrefix,
        concertId: concert.concertId,
        queueOpensAt: new Date(now - 3_000),
        opensAt: new Date(now - 2_000),
        closesAt: new Date(now - 1_000),
        activeLimit: 1,
        maxSeatsPerUser: 1,
        seed: 'ab'.repeat(32),
        commitment: 'cd'.repeat(32),
      }),
    );
    const attempts = Array.from({ length: 20 }, () => [randomUUID(), randomUUID()]);
    const won = await Promise.all(attempts.map((entries) => recordDraw(t.db, saleId, entries)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await findDrawEntries(t.db, saleId)).toEqual(attempts[won.indexOf(true)]);
  });

  it('belongs to the deployment that made it: another deployment on the same database neither lists, serves nor draws it', async () => {
    const concert = await createConcert(t.app);
    const sale = await createSale(t.app, concert.concertId, { queueOpensAt: iso(Date.now() - 1_000), opensAt: iso(Date.now() + 1_500) });
    const prefix = `test:${randomUUID()}:`;
    // A second deployment (its own REDIS_PREFIX) on the same database, whose copy of every line is empty.
    const other = await buildApp(
      testConfig({
        databaseUrl: t.config.databaseUrl,
        databaseTransactionPooling: t.config.databaseTransactionPooling,
        redisUrl: t.config.redisUrl,
        redisPrefix: prefix,
        adminKey: ADMIN_KEY,
      }),
      {
        db: t.db,
      },
    );
    try {
      const read = await other.app.inject({ method: 'GET', url: `/api/v1/sales/${sale.saleId}` });
      expect(read.statusCode).toBe(404);
      expect(json(read).error.code).toBe('SALE_NOT_FOUND');
      const listed = json(await other.app.inject({ method: 'GET', url: '/api/v1/sales' })).sales as { saleId: string }[];
      expect(listed.map((s) => s.saleId)).not.toContain(sale.saleId);
      const fan = await createUser(other.app);
      const joined = await other.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: fan, saleId: sale.saleId } });
      expect(json(joined).error.code).toBe('SALE_NOT_FOUND');

      // A fan in the sale's own pre-queue is in its draw: the other deployment did not draw it empty first.
      const inLine = await createUser(t.app);
      expect((await joinSale(t.app, inLine, sale.saleId)).statusCode).toBe(201);
      const entries = await waitFor(async () => {
        const drawn = await findDrawEntries(t.db, sale.saleId);
        expect(drawn).toBeDefined();
        return drawn!;
      }, 10_000);
      expect(entries).toHaveLength(1);
    } finally {
      await other.app.close();
      if (t.config.redisUrl) await deleteRedisKeys(t.config.redisUrl, prefix);
    }
  });

  it("admits a new sale's line only once its settings are in the queue store: a slow first copy does not leave it undrawn", async () => {
    // The queue store as the app would open it, except that copying a sale line's settings into it
    // waits for `release`: the admission ticks run meanwhile (the general line's admit calls count them).
    const prefix = `test:${randomUUID()}:`;
    const config = testConfig({ redisUrl: t.config.redisUrl, redisCluster: t.config.redisCluster, redisPrefix: prefix, queue: t.config.queue });
    const real = await createQueueLines(config, { failed: () => undefined, ok: () => undefined });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let seedAsked = false;
    let generalAdmits = 0;
    const lines: QueueLines = {
      line(lineId) {
        const store = real.line(lineId);
        return new Proxy(store, {
          get(target, prop) {
            if (prop === 'seed' && lineId !== GENERAL_LINE) {
              return async (settings: LineSettings) => {
                seedAsked = true;
                await released;
                return target.seed(settings);
              };
            }
            if (prop === 'admit' && lineId === GENERAL_LINE) generalAdmits++;
            const value = Reflect.get(target, prop, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
      ping: () => real.ping(),
      close: () => real.close(),
    };
    const slow = await createTestApp({ redisPrefix: prefix, queue: t.config.queue }, { lines });
    try {
      const concert = await createConcert(slow.app);
      const created = createSale(slow.app, concert.concertId);
      await waitFor(async () => expect(seedAsked).toBe(true));
      const ticksBefore = generalAdmits;
      await waitFor(async () => expect(generalAdmits).toBeGreaterThanOrEqual(ticksBefore + 5));
      release();
      const sale = await created;
      const fan = await createUser(slow.app);
      const joined = json(await joinSale(slow.app, fan, sale.saleId));
      await waitFor(async () => expect(json(await me(slow.app, joined.token)).status).toBe('ACTIVE'), 10_000);
    } finally {
      release();
      await slow.close();
      await real.close();
    }
  });

  describe('on an instance that has not re-read the sales since one was made elsewhere', () => {
    /**
     * The sale service of another instance of the deployment, on the same database, that has read the
     * sales once and not since (no timer): it stands for the second before its next re-read. Its
     * lines are served elsewhere; the lines it ends are recorded.
     */
    function otherInstance(db = t.db) {
      const ended: string[] = [];
      const queue = {
        hasLine: () => true,
        endLine: async (lineId: string) => void ended.push(lineId),
        closeLine: () => undefined,
      } as unknown as QueueService;
      return { sales: createSaleService({ db, queue, config: t.config }), ended };
    }

    it("lets the new sale's ACTIVE tokens reach its concert instead of refusing them SALE_MISMATCH", async () => {
      const { sales } = otherInstance();
      await sales.start();
      sales.stop();
      const joinedFirst = otherInstance().sales;
      await joinedFirst.start();
      joinedFirst.stop();
      const concert = await createConcert(t.app);
      const sale = await createSale(t.app, concert.concertId);
      expect(sales.saleOfConcert(concert.concertId)).toBeUndefined();

      await expect(sales.assertConcertAccess(sale.saleId, concert.concertId)).resolves.toBeUndefined();
      // On another such instance a fan joined first (which reads the sale): they reach the concert too.
      await joinedFirst.admitToSale(sale.saleId);
      await expect(joinedFirst.assertConcertAccess(sale.saleId, concert.concertId)).resolves.toBeUndefined();
      // Now it knows the concert is on sale: a token of no sale is refused it.
      expect(sales.saleOfConcert(concert.concertId)).toBe(sale.saleId);
      await expect(sales.assertConcertAccess(undefined, concert.concertId)).rejects.toMatchObject({ code: 'SALE_MISMATCH' });
      // Its tokens reach no other concert.
      const another = await createConcert(t.app);
      await expect(sales.assertConcertAccess(sale.saleId, another.concertId)).rejects.toMatchObject({ code: 'SALE_MISMATCH' });
    });

    it('refuses a token of a sale that has closed, and a re-read that began before a sale was learnt does not end it', async () => {
      // Holds back the answer to the next query until released: the re-read's.
      let holdNext = false;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const gated = t.db.withPlugin({
        transformQuery: (args) => args.node,
        transformResult: async (args) => {
          if (holdNext) {
            holdNext = false;
            await released;
          }
          return args.result;
        },
      });
      const { sales, ended } = otherInstance(gated);
      holdNext = true;
      const reading = sales.start();
      const concert = await createConcert(t.app);
      const sale = await createSale(t.app, concert.concertId);
      await expect(sales.assertConcertAccess(sale.saleId, concert.concertId)).resolves.toBeUndefined();
      release();
      await reading;
      sales.stop();
      expect(ended).not.toContain(saleLineId(sale.saleId));
      expect(sales.saleOfConcert(concert.concertId)).toBe(sale.saleId);

      const closing = await createConcert(t.app);
      const now = Date.now();
      const closed = await createSale(t.app, closing.concertId, { queueOpensAt: iso(now - 2_000), opensAt: iso(now - 1_000), closesAt: iso(now + 200) });
      await waitFor(async () => expect(json(await t.app.inject({ method: 'GET', url: `/api/v1/sales/${closed.saleId}` })).phase).toBe('CLOSED'));
      await expect(sales.assertConcertAccess(closed.saleId, closing.concertId)).rejects.toMatchObject({ code: 'SALE_MISMATCH' });
    });
  });

  describe('fans', () => {
    it('list the sales not closed, soonest opensAt first, and read one; an unknown sale is 404 SALE_NOT_FOUND', async () => {
      const soon = await createConcert(t.app);
      const later = await createConcert(t.app);
      const closed = await createConcert(t.app);
      const now = Date.now();
      const b = await createSale(t.app, later.concertId, { queueOpensAt: iso(now), opensAt: iso(now + 50_000) });
      const a = await createSale(t.app, soon.concertId, { queueOpensAt: iso(now), opensAt: iso(now + 40_000) });
      const c = await createSale(t.app, closed.concertId, { queueOpensAt: iso(now - 3_000), opensAt: iso(now - 2_000), closesAt: iso(now + 300) });
      await waitFor(async () => expect(Date.now()).toBeGreaterThan(now + 400));
      const list = json(await t.app.inject({ method: 'GET', url: '/api/v1/sales' }));
      const ids = list.sales.map((s: { saleId: string }) => s.saleId);
      expect(ids.indexOf(a.saleId)).toBeGreaterThanOrEqual(0);
      expect(ids.indexOf(a.saleId)).toBeLessThan(ids.indexOf(b.saleId));
      expect(ids).not.toContain(c.saleId);
      const opensAts = list.sales.map((s: { opensAt: string }) => Date.parse(s.opensAt));
      expect(opensAts).toEqual([...opensAts].sort((x, y) => x - y));
      const one = json(await t.app.inject({ method: 'GET', url: `/api/v1/sales/${a.saleId}` }));
      expect(one).toMatchObject({ saleId: a.saleId, phase: 'PREQUEUE', title: expect.any(String), venue: 'Test Hall', draw: { seed: null } });
      expect(json(await t.app.inject({ method: 'GET', url: `/api/v1/sales/${c.saleId}` })).phase).toBe('CLOSED');
      const unknown = await t.app.inject({ method: 'GET', url: `/api/v1/sales/${randomUUID()}` });
      expect(unknown.statusCode).toBe(404);
      expect(json(unknown).error.code).toBe('SALE_NOT_FOUND');
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/sales/not-a-uuid' })).statusCode).toBe(400);
    });

    it('cannot join before queueOpensAt (409 SALE_NOT_OPEN), after closesAt (409 SALE_CLOSED) or an unknown sale (404)', async () => {
      const userId = await createUser(t.app);
      const now = Date.now();
      const future = await createSale(t.app, (await createConcert(t.app)).concertId, { queueOpensAt: iso(now + 30_000), opensAt: iso(now + 60_000) });
      const early = await joinSale(t.app, userId, future.saleId);
      expect(early.statusCode).toBe(409);
      expect(json(early).error.code).toBe('SALE_NOT_OPEN');
      const past = await createSale(t.app, (await createConcert(t.app)).concertId, {
        queueOpensAt: iso(now - 3_000),
        opensAt: iso(now - 2_000),
        closesAt: iso(now + 200),
      });
      await waitFor(async () => expect(Date.now()).toBeGreaterThan(now + 300));
      const late = await joinSale(t.app, userId, past.saleId);
      expect(late.statusCode).toBe(409);
      expect(json(late).error.code).toBe('SALE_CLOSED');
      const unknown = await joinSale(t.app, userId, randomUUID());
      expect(unknown.statusCode).toBe(404);
      expect(json(unknown).error.code).toBe('SALE_NOT_FOUND');
    });

    it("wait in the pre-queue with its size as their position and at least the time to the open as their wait; the draw at the open places them in the published seed's order, later joins behind in arrival order", async () => {
      const concert = await createConcert(t.app, { seatCount: 50 });
      const opensAt = Date.now() + 2_500;
      const sale = await createSale(t.app, concert.concertId, { queueOpensAt: iso(Date.now() - 1_000), opensAt: iso(opensAt), activeLimit: 2 });
      const early: { userId: string; token: string }[] = [];
      for (let i = 0; i < 6; i++) {
        const userId = await createUser(t.app);
        const res = await joinSale(t.app, userId, sale.saleId);
        expect(res.statusCode).toBe(201);
        early.push({ ...json(res), userId });
      }
      const again = await joinSale(t.app, early[0]!.userId, sale.saleId);
      expect(again.statusCode).toBe(200);
      expect(json(again).token).toBe(early[0]!.token);
      const view = json(await me(t.app, early[0]!.token));
      expect(view).toMatchObject({ status: 'WAITING', position: 6, saleId: sale.saleId, phase: 'PREQUEUE', seatsLeft: 50, drawRank: null });
      expect(view.entryId).toMatch(/^[0-9a-f-]{36}$/);
      expect(view.entryId).not.toBe(early[0]!.userId);
      expect(view.estimatedWaitSeconds).toBeGreaterThanOrEqual(Math.floor((opensAt - Date.now()) / 1000));
      const notYet = await t.app.inject({ method: 'GET', url: `/api/v1/sales/${sale.saleId}/draw` });
      expect(notYet.statusCode).toBe(409);
      expect(json(notYet).error.code).toBe('SALE_NOT_OPEN');
      // Nobody is admitted before the open, however many slots are free.
      expect(json(await me(t.app, early[5]!.token)).status).toBe('WAITING');

      await waitFor(async () => expect(Date.now()).toBeGreaterThanOrEqual(opensAt), 5_000);
      const late = [];
      for (let i = 0; i < 2; i++) {
        const userId = await createUser(t.app);
        late.push({ userId, ...json(await joinSale(t.app, userId, sale.saleId)) });
      }
      // Within 2 s of the open the draw is published and admission has begun.
      const draw = await waitFor(async () => {
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/sales/${sale.saleId}/draw` });
        expect(res.statusCode).toBe(200);
        return json(res);
      }, 2_000);
      expect(createHash('sha256').update(Buffer.from(draw.seed, 'hex')).digest('hex')).toBe(sale.draw.commitment);
      expect(json(await t.app.inject({ method: 'GET', url: `/api/v1/sales/${sale.saleId}` })).draw.seed).toBe(draw.seed);
      const views = await Promise.all(early.map(async (e) => json(await me(t.app, e.token))));
      expect([...draw.entries].sort()).toEqual(views.map((v) => v.entryId).sort());
      const order = recompute(draw.seed, draw.entries);
      for (const v of views) expect(v.drawRank).toBe(order.indexOf(v.entryId) + 1);
      // The first two of the drawn order are admitted, the rest wait in that order, late joins behind.
      await waitFor(async () => {
        const now = await Promise.all(early.map(async (e) => json(await me(t.app, e.token))));
        const byRank = [...now].sort((a, b) => a.drawRank - b.drawRank);
        expect(byRank.map((v) => v.status)).toEqual(['ACTIVE', 'ACTIVE', 'WAITING', 'WAITING', 'WAITING', 'WAITING']);
        expect(byRank.slice(2).map((v) => v.position)).toEqual([1, 2, 3, 4]);
      }, 2_000);
      const lateViews = await Promise.all(late.map(async (l) => json(await me(t.app, l.token))));
      expect(lateViews.map((v) => [v.status, v.position, v.drawRank])).toEqual([
        ['WAITING', 5, null],
        ['WAITING', 6, null],
      ]);
    });

    it('admission follows the seats: nobody is admitted while every seat is held, and admission resumes when a hold lapses', async () => {
      const short = await createTestApp({ queue: { activeLimit: 5, tickMs: 50 }, reservation: { holdSeconds: 3, sweepMs: 100 } });
      try {
        const concert = await createConcert(short.app, { seatCount: 2 });
        const sale = await createSale(short.app, concert.concertId, { activeLimit: 5 });
        const first = await activeInSale(short.app, sale.saleId);
        const second = await activeInSale(short.app, sale.saleId);
        const holds = [await holdIn(short.app, first, concert, 1), await holdIn(short.app, second, concert, 2)];
        expect(holds.map((h) => h.statusCode)).toEqual([201, 201]);
        const heldUntil = Math.min(...holds.map((h) => Date.parse(json(h).heldUntil)));
        // Every seat is held: a fan who joins now is not let in, though three slots are free.
        const waiter = json(await joinSale(short.app, await createUser(short.app), sale.saleId));
        await waitFor(async () => expect(json(await me(short.app, waiter.token)).seatsLeft).toBe(0));
        // Checked over and over while the holds are certainly live (the machine's load cannot fake a pass).
        while (Date.now() < heldUntil - 500) {
          expect(json(await me(short.app, waiter.token)).status).toBe('WAITING');
          await new Promise((r) => setTimeout(r, 50));
        }
        // The holds lapse: seats come back, and the waiting fan is admitted.
        await waitFor(async () => expect(json(await me(short.app, waiter.token)).status).toBe('ACTIVE'), 5_000);
      } finally {
        await short.close();
      }
    });

    it('is told SOLD_OUT at once when the last seat sells: every WAITING and ACTIVE token, on GET /me and on its stream; any other use is 401 TOKEN_EXPIRED, and joining is 409 SOLD_OUT', async () => {
      const concert = await createConcert(t.app, { seatCount: 1, price: 1_000 });
      const sale = await createSale(t.app, concert.concertId, { activeLimit: 2 });
      const buyer = await activeInSale(t.app, sale.saleId, 5_000);
      const other = await activeInSale(t.app, sale.saleId);
      const waiting = json(await joinSale(t.app, await createUser(t.app), sale.saleId));
      expect(json(await me(t.app, waiting.token)).status).toBe('WAITING');
      const stream = await t.app.inject({ method: 'GET', url: `/api/v1/queue/tokens/me/events?token=${waiting.token}`, payloadAsStream: true });
      const events: string[] = [];
      stream.stream().on('data', (chunk: Buffer) => events.push(chunk.toString()));

      const held = json(await holdIn(t.app, buyer, concert, 1));
      const paid = await t.app.inject({
        method: 'POST',
        url: '/api/v1/payments',
        headers: bearer(buyer.token),
        payload: { userId: buyer.userId, reservationId: held.reservationId },
      });
      expect(paid.statusCode).toBe(201);

      for (const token of [other.token, waiting.token]) {
        const res = await me(t.app, token);
        expect(res.statusCode).toBe(200);
        expect(json(res)).toMatchObject({ status: 'SOLD_OUT', reason: 'SOLD_OUT', phase: 'SOLD_OUT', seatsLeft: 0 });
      }
      const buyerNow = await me(t.app, buyer.token);
      expect(buyerNow.statusCode).toBe(401);
      expect(json(buyerNow).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'PAID' });
      await waitFor(async () => expect(events.join('')).toContain('"status":"SOLD_OUT"'));
      expect(events.join('')).toContain('"reason":"SOLD_OUT"');
      const points = await t.app.inject({ method: 'GET', url: `/api/v1/users/${other.userId}/points`, headers: bearer(other.token) });
      expect(points.statusCode).toBe(401);
      expect(json(points).error.code).toBe('TOKEN_EXPIRED');
      const rejoin = await joinSale(t.app, await createUser(t.app), sale.saleId);
      expect(rejoin.statusCode).toBe(409);
      expect(json(rejoin).error.code).toBe('SOLD_OUT');
      expect(json(await t.app.inject({ method: 'GET', url: `/api/v1/sales/${sale.saleId}` })).phase).toBe('SOLD_OUT');
      await expectLedgerMatchesBalances(t.db, [buyer.userId]);
    });

    it("hold at most maxSeatsPerUser seats of a sale across the fan's tokens, one live hold per token, even when one fan sends many holds at once (409 SEAT_LIMIT_REACHED)", async () => {
      const concert = await createConcert(t.app, { seatCount: 30, price: 1_000 });
      const sale = await createSale(t.app, concert.concertId, { maxSeatsPerUser: 2 });
      let fan = await activeInSale(t.app, sale.saleId, 10_000);
      const burst = async (first: number) => {
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => holdIn(t.app, fan, concert, first + i)));
        return results.map((r) => (r.statusCode === 201 ? `HELD ${json(r).reservationId}` : json(r).error.code));
      };
      // Each token holds one seat at a time; paying for it ends the token, and the fan joins again.
      for (const first of [1, 9]) {
        const codes = await burst(first);
        const held = codes.filter((c) => c.startsWith('HELD'));
        expect(held, codes.join()).toHaveLength(1);
        expect(codes.filter((c) => !c.startsWith('HELD')).every((c) => c === 'HOLD_EXISTS')).toBe(true);
        const paid = await t.app.inject({
          method: 'POST',
          url: '/api/v1/payments',
          headers: bearer(fan.token),
          payload: { userId: fan.userId, reservationId: held[0]!.split(' ')[1] },
        });
        expect(paid.statusCode, paid.body).toBe(201);
        const again = json(await joinSale(t.app, fan.userId, sale.saleId));
        await waitFor(async () => expect(json(await me(t.app, again.token)).status).toBe('ACTIVE'));
        fan = { userId: fan.userId, token: again.token as string };
      }
      // Two seats owned: the fan's third token may hold nothing, however many holds it sends at once.
      expect(await burst(17)).toEqual(Array.from({ length: 8 }, () => 'SEAT_LIMIT_REACHED'));
      const mine = await t.db.selectFrom('reservations').select('status').where('user_id', '=', fan.userId).where('status', '!=', 'EXPIRED').execute();
      expect(mine.map((r) => r.status)).toEqual(['CONFIRMED', 'CONFIRMED']);
    });

    it("reach a concert on sale only with an ACTIVE token of its sale (403 SALE_MISMATCH), and a sale's token reaches only its concert", async () => {
      const onSale = await createConcert(t.app, { seatCount: 5, price: 1_000 });
      const plain = await createConcert(t.app, { seatCount: 5, price: 1_000 });
      const sale = await createSale(t.app, onSale.concertId);
      const saleFan = await activeInSale(t.app, sale.saleId, 10_000);
      const generalUser = await createUser(t.app);
      const general = json(await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: generalUser } }));
      await waitFor(async () => expect(json(await me(t.app, general.token)).status).toBe('ACTIVE'));
      const generalFan = { userId: generalUser, token: general.token as string };

      const mismatch = async (res: { statusCode: number; body: string }) => {
        expect(res.statusCode, res.body).toBe(403);
        expect(JSON.parse(res.body).error.code).toBe('SALE_MISMATCH');
      };
      await mismatch(await t.app.inject({ method: 'GET', url: `/api/v1/concerts/${onSale.concertId}/dates`, headers: bearer(generalFan.token) }));
      await mismatch(
        await t.app.inject({ method: 'GET', url: `/api/v1/concerts/${onSale.concertId}/dates/${onSale.dates[0]}/seats`, headers: bearer(generalFan.token) }),
      );
      await mismatch(await holdIn(t.app, generalFan, onSale, 1));
      await mismatch(await t.app.inject({ method: 'GET', url: `/api/v1/concerts/${plain.concertId}/dates`, headers: bearer(saleFan.token) }));
      await mismatch(await holdIn(t.app, saleFan, plain, 1));

      // A hold made through the sale cannot be paid with a general-line token of the same fan.
      const held = json(await holdIn(t.app, saleFan, onSale, 2));
      const sameFanGeneral = json(await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: saleFan.userId } }));
      await waitFor(async () => expect(json(await me(t.app, sameFanGeneral.token)).status).toBe('ACTIVE'));
      await mismatch(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/payments',
          headers: bearer(sameFanGeneral.token),
          payload: { userId: saleFan.userId, reservationId: held.reservationId },
        }),
      );

      const saleList = json(await t.app.inject({ method: 'GET', url: '/api/v1/concerts', headers: bearer(saleFan.token) }));
      expect(saleList.concerts.map((c: { concertId: string }) => c.concertId)).toEqual([onSale.concertId]);
      const generalList = json(await t.app.inject({ method: 'GET', url: '/api/v1/concerts', headers: bearer(generalFan.token) }));
      const generalIds = generalList.concerts.map((c: { concertId: string }) => c.concertId);
      expect(generalIds).toContain(plain.concertId);
      expect(generalIds).not.toContain(onSale.concertId);
      // Through the right line, everything works.
      expect((await t.app.inject({ method: 'GET', url: `/api/v1/concerts/${onSale.concertId}/dates`, headers: bearer(saleFan.token) })).statusCode).toBe(200);
      const paid = await t.app.inject({
        method: 'POST',
        url: '/api/v1/payments',
        headers: bearer(saleFan.token),
        payload: { userId: saleFan.userId, reservationId: held.reservationId },
      });
      expect(paid.statusCode).toBe(201);
    });

    it('are told their token ended when the sale closes (401 TOKEN_EXPIRED, reason SALE_CLOSED), whether WAITING or ACTIVE, and the seats they held are free at once', async () => {
      const closesAt = Date.now() + 1_500;
      const concert = await createConcert(t.app, { seatCount: 3 });
      const sale = await createSale(t.app, concert.concertId, { activeLimit: 1, closesAt: iso(closesAt) });
      const active = await activeInSale(t.app, sale.saleId);
      const held = await holdIn(t.app, active, concert, 2);
      expect(held.statusCode, held.body).toBe(201);
      const waiting = json(await joinSale(t.app, await createUser(t.app), sale.saleId));
      expect(json(await me(t.app, waiting.token)).status).toBe('WAITING');
      await waitFor(async () => {
        for (const token of [active.token, waiting.token]) {
          const res = await me(t.app, token);
          expect(res.statusCode).toBe(401);
          expect(json(res).error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'SALE_CLOSED' });
        }
      }, 5_000);
      expect(json(await joinSale(t.app, await createUser(t.app), sale.saleId)).error.code).toBe('SALE_CLOSED');
      // Its hold (30 s, in a turn of 10 min) did not wait to lapse: the seat is free and counted again.
      await waitFor(async () => {
        const seat = await t.db
          .selectFrom('seats')
          .select(['status'])
          .where('concert_id', '=', concert.concertId)
          .where('number', '=', 2)
          .executeTakeFirstOrThrow();
        expect(seat.status).toBe('FREE');
      }, 3_000);
      const reservation = await t.db.selectFrom('reservations').select('status').where('id', '=', json(held).reservationId).executeTakeFirstOrThrow();
      expect(reservation.status).toBe('EXPIRED');
      const date = await t.db.selectFrom('concert_dates').select('available_seats').where('concert_id', '=', concert.concertId).executeTakeFirstOrThrow();
      expect(date.available_seats).toBe(3);
    });

    it('stand in several sales at once, each line admitting on its own', async () => {
      const a = await createSale(t.app, (await createConcert(t.app)).concertId, { activeLimit: 1 });
      const b = await createSale(t.app, (await createConcert(t.app)).concertId, { activeLimit: 2 });
      const userId = await createUser(t.app);
      const inA = json(await joinSale(t.app, userId, a.saleId));
      const inB = json(await joinSale(t.app, userId, b.saleId));
      expect(inA.token).not.toBe(inB.token);
      await waitFor(async () => {
        expect(json(await me(t.app, inA.token))).toMatchObject({ status: 'ACTIVE', saleId: a.saleId });
        expect(json(await me(t.app, inB.token))).toMatchObject({ status: 'ACTIVE', saleId: b.saleId });
      });
      // A fills its one slot; B still admits into its second.
      const next = await createUser(t.app);
      const nextA = json(await joinSale(t.app, next, a.saleId));
      const nextB = json(await joinSale(t.app, next, b.saleId));
      await waitFor(async () => expect(json(await me(t.app, nextB.token)).status).toBe('ACTIVE'));
      expect(json(await me(t.app, nextA.token))).toMatchObject({ status: 'WAITING', position: 1 });
    });
  });
});

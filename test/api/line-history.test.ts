// The lines' history behind the operator page's charts: kept in the database per bucket, summed over
// instances, read back in steps with the actual waits' percentiles.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLineHistory, type HistoryPoint, waitQuantile } from '../../src/queue/line-history.js';
import { ADMIN_KEY, createConcert, createTestApp, createUser, joinQueue, json, waitFor, type TestApp } from '../helpers/test-app.js';

const admin = { 'x-admin-key': ADMIN_KEY };

type Point = HistoryPoint;

async function history(app: FastifyInstance, url = '/admin/v1/queue/history?minutes=1') {
  const res = await app.inject({ method: 'GET', url, headers: admin });
  expect(res.statusCode, res.body).toBe(200);
  return json<{ bucketSeconds: number; stepSeconds: number; points: Point[] }>(res);
}

const sum = (points: Point[], pick: (p: Point) => number) => points.reduce((n, p) => n + pick(p), 0);

describe('waitQuantile', () => {
  it('interpolates inside the bucket the rank falls in, like histogram_quantile', () => {
    // Buckets ≤1, ≤5, ≤15 s: 10 waits in (5, 15].
    const counts = [0, 0, 10, 0];
    expect(waitQuantile(counts, 0.5)).toBe(10);
    expect(waitQuantile(counts, 0.9)).toBe(14);
    // Half under a second, half in (1, 5]: the median is the first bucket's top.
    expect(waitQuantile([5, 5], 0.5)).toBe(1);
    expect(waitQuantile([5, 5], 0.75)).toBe(3);
    expect(waitQuantile([], 0.5)).toBe(0);
  });

  it('reads a quantile past the last bound as that bound', () => {
    const counts = new Array(14).fill(0);
    counts[13] = 3;
    expect(waitQuantile(counts, 0.99)).toBe(14_400);
  });
});

describe('the line history of a scripted sale', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 0, historySeconds: 1 } });
  });
  afterAll(async () => t.close());

  it('shows the line waiting, then admitted, with the waits the admitted had', async () => {
    const fans = await Promise.all(Array.from({ length: 6 }, () => createUser(t.app)));
    for (const fan of fans) await joinQueue(t.app, fan);
    // Each bucket shows the line as it was: six waiting, nobody let in.
    await waitFor(async () => expect((await history(t.app)).points.some((p) => p.waiting === 6 && p.active === 0)).toBe(true), 10_000);

    const patched = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 6 } });
    expect(patched.statusCode).toBe(200);
    const after = await waitFor(async () => {
      const { points } = await history(t.app);
      expect(sum(points, (p) => p.admitted)).toBe(6);
      expect(points.at(-1)).toMatchObject({ waiting: 0, active: 6 });
      return points;
    }, 10_000);

    const admittedIn = after.filter((p) => p.admitted > 0);
    for (const p of admittedIn) {
      expect(p.waitSeconds).not.toBeNull();
      expect(p.admittedPerMinute).toBeGreaterThan(0);
    }
    // A one-minute window is read a bucket per point: the line stood still before anyone was admitted.
    const firstWaiting = after.findIndex((p) => p.waiting === 6 && p.active === 0);
    expect(firstWaiting).toBeGreaterThanOrEqual(0);
    expect(firstWaiting).toBeLessThan(after.indexOf(admittedIn[0]!));
    for (const p of admittedIn) expect(p.waitSeconds!.p99).toBeGreaterThan(0);
    // Steps without admissions carry no percentiles.
    for (const p of after.filter((p) => p.admitted === 0)) expect(p.waitSeconds).toBeNull();
  });

  it("answers a sale's history, and refuses an unknown sale, a bad window and a missing key", async () => {
    const concert = await createConcert(t.app);
    const now = Date.now();
    const sale = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/sales',
      headers: admin,
      payload: { concertId: concert.concertId, queueOpensAt: new Date(now - 1_000).toISOString(), opensAt: new Date(now - 500).toISOString(), activeLimit: 5 },
    });
    expect(sale.statusCode, sale.body).toBe(201);
    const saleId = json(sale).saleId as string;
    const fan = await createUser(t.app);
    const joined = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: fan, saleId } });
    expect(joined.statusCode).toBe(201);
    await waitFor(async () => expect(sum((await history(t.app, `/admin/v1/sales/${saleId}/history?minutes=5`)).points, (p) => p.admitted)).toBe(1), 10_000);

    const unknown = await t.app.inject({ method: 'GET', url: `/admin/v1/sales/${randomUUID()}/history`, headers: admin });
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown).error.code).toBe('SALE_NOT_FOUND');
    for (const minutes of ['0', 'abc', '1.5', '-5', '20161', '']) {
      const res = await t.app.inject({ method: 'GET', url: `/admin/v1/queue/history?minutes=${minutes}`, headers: admin });
      expect(res.statusCode, minutes).toBe(400);
      expect(json(res).error.code).toBe('VALIDATION_ERROR');
    }
    const noKey = await t.app.inject({ method: 'GET', url: '/admin/v1/queue/history' });
    expect(noKey.statusCode).toBe(401);
    expect(json(noKey).error.code).toBe('INVALID_ADMIN_KEY');
  });
});

describe('the history in the database', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it("adds every instance's admissions and waits to the same bucket, and keeps them past one process and five minutes", async () => {
    const prefix = `history:${randomUUID()}:`;
    const start = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const at = (ms: number) => () => start + ms;
    // Two instances in the same 10-second bucket, half an hour ago.
    const one = createLineHistory({ db: t.db, prefix, bucketSeconds: 10, now: at(1_000) });
    const two = createLineHistory({ db: t.db, prefix, bucketSeconds: 10, now: at(2_000) });
    one.admitted('general', 3, [start - 2_000, start - 2_000, start - 2_000], start + 1_000); // 3 s each
    two.admitted('general', 1, [start - 98_000], start + 2_000); // 100 s
    two.abandoned('general', 2);
    await one.flush([{ lineId: 'general', waiting: 40, active: 4 }]);
    await two.flush([{ lineId: 'general', waiting: 39, active: 5 }]);

    // A third process, started later, reads what the others wrote.
    const reader = createLineHistory({ db: t.db, prefix, bucketSeconds: 10, now: at(5 * 60_000) });
    const { points, stepSeconds } = await reader.read('general', 60);
    expect(stepSeconds).toBe(20);
    expect(points).toHaveLength(1);
    const [point] = points;
    expect(point).toMatchObject({ at: new Date(start).toISOString(), waiting: 39, active: 5, admitted: 4, abandoned: 2, admittedPerMinute: 12 });
    // Waits 3, 3, 3 and 100 s: p50 in (1, 5], p99 in (60, 120].
    expect(point!.waitSeconds!.p50).toBeGreaterThan(1);
    expect(point!.waitSeconds!.p50).toBeLessThanOrEqual(5);
    expect(point!.waitSeconds!.p99).toBeGreaterThan(60);
    expect(point!.waitSeconds!.p99).toBeLessThanOrEqual(120);

    // The window decides what is read; another deployment's prefix is not.
    expect((await reader.read('general', 1)).points).toHaveLength(0);
    const other = createLineHistory({ db: t.db, prefix: `history:${randomUUID()}:`, bucketSeconds: 10, now: at(5 * 60_000) });
    expect((await other.read('general', 60)).points).toHaveLength(0);
  });

  it('keeps counts a failed write could not add for the next flush', async () => {
    const prefix = `history:${randomUUID()}:`;
    let fail = true;
    const flaky = new Proxy(t.db, {
      get(target, key) {
        if (fail && key === 'getExecutor') throw new Error('database away');
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const history = createLineHistory({ db: flaky, prefix, bucketSeconds: 10 });
    history.admitted('general', 2, [Date.now() - 1_000, Date.now() - 1_000], Date.now());
    await expect(history.flush([{ lineId: 'general', waiting: 0, active: 2 }])).rejects.toThrow();
    fail = false;
    await history.flush([{ lineId: 'general', waiting: 0, active: 2 }]);
    const { points } = await history.read('general', 5);
    expect(sum(points, (p) => p.admitted)).toBe(2);
  });
});

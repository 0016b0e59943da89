// GET /metrics: every family with its labels, METRICS_KEY, and numbers that move with a scripted sale
// and purchase. Through inject on the embedded database and in-process queue, or on PostgreSQL and
// Redis when DATABASE_URL and REDIS_URL are set.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_KEY,
  activeUser,
  bearer,
  charge,
  createConcert,
  createTestApp,
  createUser,
  hold,
  joinQueue,
  json,
  pay,
  waitFor,
  type TestApp,
} from '../helpers/test-app.js';
import { parseMetrics, type Scrape } from '../helpers/prometheus-text.js';

const usesRedis = Boolean(process.env.REDIS_URL);

async function scrape(app: FastifyInstance, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers });
  expect(res.statusCode, res.body).toBe(200);
  return parseMetrics(res.body);
}

async function me(app: FastifyInstance, token: string) {
  return json(await app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) }));
}

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 2, tickMs: 50 }, reservation: { holdSeconds: 30 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is open when METRICS_KEY is unset, in Prometheus text format, and outside the OpenAPI document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^# HELP /m);
    const doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
    expect(Object.keys(doc.paths)).not.toContain('/metrics');
  });

  it('moves with a scripted purchase: admissions and their waits, holds won and refused, a top-up, a payment and its replay', async () => {
    const before = await scrape(t.app);
    const concert = await createConcert(t.app, { seatCount: 5, price: 40_000 });

    // Two ACTIVE fans fill the limit; a third waits (and keeps polling) until a payment frees a slot.
    const a = await activeUser(t.app);
    const b = await activeUser(t.app);
    const cUser = await createUser(t.app);
    const c = await joinQueue(t.app, cUser);
    expect(c.status).toBe('WAITING');
    await waitFor(
      async () => {
        const s = await scrape(t.app);
        expect(s.value('boxoffice_queue_active', { line: 'general' })).toBe(2);
        expect(s.value('boxoffice_queue_waiting', { line: 'general' })).toBeGreaterThanOrEqual(1);
      },
      5_000,
      100,
    );

    const reservationId = json(await hold(t.app, a, concert, 1)).reservationId as string;
    expect((await hold(t.app, b, concert, 1)).statusCode).toBe(409);
    expect((await hold(t.app, b, concert, 2)).statusCode).toBe(201);
    await charge(t.app, a.userId, a.token, 100_000);
    const key = randomUUID();
    const first = await pay(t.app, a, reservationId, key);
    expect(first.statusCode, first.body).toBe(201);
    const replay = await pay(t.app, a, reservationId, key);
    expect(replay.statusCode).toBe(201);
    expect(json(replay)).toEqual(json(first));
    // The payment ended a's token: c takes the slot.
    await waitFor(async () => expect((await me(t.app, c.token)).status).toBe('ACTIVE'), 5_000, 50);

    const after = await scrape(t.app);
    const moved = (name: string, labels: Record<string, string> = {}) => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
    expect(moved('boxoffice_queue_admitted_total', { line: 'general' })).toBe(3);
    expect(moved('boxoffice_queue_wait_seconds_count', { line: 'general' })).toBe(3);
    expect(moved('boxoffice_queue_wait_seconds_bucket', { line: 'general', le: '+Inf' })).toBe(3);
    expect(after.value('boxoffice_queue_wait_seconds_sum', { line: 'general' })).toBeGreaterThanOrEqual(
      before.value('boxoffice_queue_wait_seconds_sum', { line: 'general' }) ?? 0,
    );
    expect(moved('boxoffice_holds_total', { outcome: 'won' })).toBe(2);
    expect(moved('boxoffice_holds_total', { outcome: 'refused' })).toBe(1);
    expect(moved('boxoffice_charges_total')).toBe(1);
    expect(moved('boxoffice_charges_won_total')).toBe(100_000);
    expect(moved('boxoffice_payments_total')).toBe(1);
    expect(moved('boxoffice_payments_won_total')).toBe(40_000);
    expect(moved('boxoffice_idempotent_replays_total', { endpoint: 'payments' })).toBe(1);
    expect(moved('boxoffice_idempotent_replays_total', { endpoint: 'points.charge' })).toBe(0);
    // Timed by route pattern and status, never by the raw URL.
    expect(moved('boxoffice_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/reservations', status: '201' })).toBe(2);
    expect(moved('boxoffice_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/reservations', status: '409' })).toBe(1);
    expect(moved('boxoffice_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/users/:userId/points/charge', status: '200' })).toBe(1);
    expect(moved('boxoffice_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/queue/tokens/me', status: '200' })).toBeGreaterThan(0);
    expect(after.series('boxoffice_http_request_duration_seconds_count').some((s) => s.labels.route?.includes(a.userId))).toBe(false);
    if (usesRedis) expect(moved('boxoffice_redis_command_duration_seconds_count', { script: 'get' })).toBeGreaterThan(0);

    // b and c hold both slots for their whole active time: make room for the fans of the next tests.
    const raised = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: { 'x-admin-key': ADMIN_KEY }, payload: { activeLimit: 100 } });
    expect(raised.statusCode).toBe(200);
  });

  it('counts a charge replayed with the same Idempotency-Key once as a top-up and once as a replay', async () => {
    const fan = await activeUser(t.app);
    const before = await scrape(t.app);
    const key = randomUUID();
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/users/${fan.userId}/points/charge`,
        headers: { ...bearer(fan.token), 'idempotency-key': key },
        payload: { amount: 7_000 },
      });
      expect(res.statusCode).toBe(200);
    }
    const after = await scrape(t.app);
    expect((after.value('boxoffice_charges_total') ?? 0) - (before.value('boxoffice_charges_total') ?? 0)).toBe(1);
    expect((after.value('boxoffice_charges_won_total') ?? 0) - (before.value('boxoffice_charges_won_total') ?? 0)).toBe(7_000);
    expect(
      (after.value('boxoffice_idempotent_replays_total', { endpoint: 'points.charge' }) ?? 0) -
        (before.value('boxoffice_idempotent_replays_total', { endpoint: 'points.charge' }) ?? 0),
    ).toBe(1);
  });

  it("reports a sale's seats by state and counts its sell-out once", async () => {
    const concert = await createConcert(t.app, { seatCount: 2, price: 10_000 });
    const now = Date.now();
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/sales',
      headers: { 'x-admin-key': ADMIN_KEY },
      payload: { concertId: concert.concertId, queueOpensAt: new Date(now - 1_000).toISOString(), opensAt: new Date(now - 500).toISOString() },
    });
    expect(created.statusCode, created.body).toBe(201);
    const line = `sale:${json(created).saleId as string}`;
    const userId = await createUser(t.app);
    const joined = json(await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId, saleId: json(created).saleId } }));
    await waitFor(async () => expect((await me(t.app, joined.token)).status).toBe('ACTIVE'), 5_000, 50);
    const fan = { userId, token: joined.token as string };
    await charge(t.app, userId, fan.token, 20_000);
    const held = json(await hold(t.app, fan, concert, 1));
    await waitFor(
      async () => {
        const s = await scrape(t.app);
        expect(s.value('boxoffice_sale_seats', { line, state: 'held' })).toBe(1);
        expect(s.value('boxoffice_sale_seats', { line, state: 'free' })).toBe(1);
        expect(s.value('boxoffice_sale_seats', { line, state: 'sold' })).toBe(0);
        expect(s.value('boxoffice_queue_admitted_total', { line })).toBe(1);
        expect(s.value('boxoffice_queue_wait_seconds_count', { line })).toBe(1);
        expect(s.value('boxoffice_queue_active', { line })).toBe(1);
      },
      5_000,
      100,
    );
    expect((await pay(t.app, fan, held.reservationId)).statusCode).toBe(201);
    expect((await scrape(t.app)).value('boxoffice_sale_sold_out_total', { line }) ?? 0).toBe(0);

    // The second and last seat, bought by another fan of the sale: the sale sells out.
    const otherId = await createUser(t.app);
    const other = json(await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: otherId, saleId: json(created).saleId } }));
    await waitFor(async () => expect((await me(t.app, other.token)).status).toBe('ACTIVE'), 5_000, 50);
    const otherFan = { userId: otherId, token: other.token as string };
    await charge(t.app, otherId, otherFan.token, 20_000);
    const last = json(await hold(t.app, otherFan, concert, 2));
    expect((await pay(t.app, otherFan, last.reservationId)).statusCode).toBe(201);
    await waitFor(
      async () => {
        const s = await scrape(t.app);
        expect(s.value('boxoffice_sale_sold_out_total', { line })).toBe(1);
        expect(s.value('boxoffice_sale_seats', { line, state: 'sold' })).toBe(2);
        expect(s.value('boxoffice_sale_seats', { line, state: 'free' })).toBe(0);
      },
      5_000,
      100,
    );
  });

  it('times unknown paths under one route label', async () => {
    const before = await scrape(t.app);
    for (const path of ['/nope', `/nope/${randomUUID()}`, '/api/v1/nothing-here']) {
      expect((await t.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);
    }
    const after = await scrape(t.app);
    const labels = { method: 'GET', route: 'unmatched', status: '404' };
    expect(
      (after.value('boxoffice_http_request_duration_seconds_count', labels) ?? 0) -
        (before.value('boxoffice_http_request_duration_seconds_count', labels) ?? 0),
    ).toBe(3);
    expect(after.series('boxoffice_http_request_duration_seconds_count').every((s) => !s.labels.route?.startsWith('/nope'))).toBe(true);
  });

  it('counts open Server-Sent Events streams', async () => {
    const fan = await activeUser(t.app);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const request = http.get({ host: '127.0.0.1', port, path: `/api/v1/queue/tokens/me/events?token=${encodeURIComponent(fan.token)}` });
    try {
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => request.on('response', resolve).on('error', reject));
      expect(response.statusCode).toBe(200);
      await new Promise((resolve) => response.once('data', resolve));
      expect((await scrape(t.app)).value('boxoffice_sse_streams')).toBe(1);
    } finally {
      request.destroy();
    }
    await waitFor(async () => expect((await scrape(t.app)).value('boxoffice_sse_streams')).toBe(0), 5_000, 50);
  });

  it('exports every family with its labels, the database pool, Redis when used, and the process defaults', async () => {
    const s = await scrape(t.app);
    const families: [string, string, string[]][] = [
      ['boxoffice_queue_waiting', 'gauge', ['line']],
      ['boxoffice_queue_active', 'gauge', ['line']],
      ['boxoffice_queue_admitted_total', 'counter', ['line']],
      ['boxoffice_queue_abandoned_total', 'counter', ['line']],
      ['boxoffice_queue_wait_seconds', 'histogram', ['line']],
      ['boxoffice_sale_sold_out_total', 'counter', ['line']],
      ['boxoffice_sale_seats', 'gauge', ['line', 'state']],
      ['boxoffice_http_request_duration_seconds', 'histogram', ['method', 'route', 'status']],
      ['boxoffice_holds_total', 'counter', ['outcome']],
      ['boxoffice_payments_total', 'counter', []],
      ['boxoffice_payments_won_total', 'counter', []],
      ['boxoffice_charges_total', 'counter', []],
      ['boxoffice_charges_won_total', 'counter', []],
      ['boxoffice_idempotent_replays_total', 'counter', ['endpoint']],
      ['boxoffice_sse_streams', 'gauge', []],
      ['boxoffice_db_pool_in_use', 'gauge', []],
      ['boxoffice_db_pool_waiting', 'gauge', []],
      ['boxoffice_redis_command_duration_seconds', 'histogram', ['script']],
      ['nodejs_eventloop_lag_seconds', 'gauge', []],
      ['nodejs_eventloop_lag_p99_seconds', 'gauge', []],
      ['process_cpu_seconds_total', 'counter', []],
      ['process_resident_memory_bytes', 'gauge', []],
    ];
    for (const [name, type, labels] of families) {
      expect(s.types.get(name), name).toBe(type);
      // The Redis histogram has series only when the queue runs on Redis; the abandoned counter once
      // something was abandoned (see below).
      if (name === 'boxoffice_redis_command_duration_seconds' && !usesRedis) continue;
      if (name === 'boxoffice_queue_abandoned_total') continue;
      const sampleName = type === 'histogram' ? `${name}_count` : name;
      const series = s.series(sampleName);
      expect(series.length, name).toBeGreaterThan(0);
      for (const one of series) expect(Object.keys(one.labels).sort(), name).toEqual([...labels].sort());
    }
    expect(s.series('boxoffice_queue_waiting').map((x) => x.labels.line)).toContain('general');
    expect(
      s
        .series('boxoffice_sale_seats')
        .map((x) => x.labels.state)
        .sort(),
    ).toEqual(expect.arrayContaining(['free', 'held', 'sold']));
    expect(s.value('boxoffice_db_pool_in_use')).toBeGreaterThanOrEqual(0);
    expect(s.value('boxoffice_db_pool_waiting')).toBeGreaterThanOrEqual(0);
    if (usesRedis) {
      const scripts = s.series('boxoffice_redis_command_duration_seconds_count').map((x) => x.labels.script);
      expect(scripts).toEqual(expect.arrayContaining(['join', 'get', 'admit', 'stats']));
    }
  });
});

describe('abandoned tokens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 1, activeTtlSeconds: 0.6, waitingIdleSeconds: 0.3, tickMs: 50 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are counted when admission reaches a fan who went silent', async () => {
    const first = await joinQueue(t.app, await createUser(t.app));
    const silent = await joinQueue(t.app, await createUser(t.app));
    expect(first.status).toBe('ACTIVE');
    expect(silent.status).toBe('WAITING');
    // first's active time ends; by then `silent` has been silent past the idle time and is skipped.
    await waitFor(async () => expect((await scrape(t.app)).value('boxoffice_queue_abandoned_total', { line: 'general' })).toBe(1), 5_000, 100);
    expect((await scrape(t.app)).value('boxoffice_queue_admitted_total', { line: 'general' })).toBe(1);
  });
});

describe('METRICS_KEY', () => {
  const metricsKey = 'scrape-key-0123456789';
  let t: TestApp;
  beforeAll(async () => {
    // A tight per-address limit: scrapes must stay outside it.
    t = await createTestApp({ metricsKey, rateLimits: { perMinute: 2 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong key', { authorization: 'Bearer not-the-key-0123456789' }],
    ['the admin key instead', { 'x-admin-key': ADMIN_KEY }],
    ['the key without Bearer', { authorization: metricsKey }],
  ])('refuses a scrape with %s: 401 INVALID_METRICS_KEY in the contract shape', async (_, headers) => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers });
    expect(res.statusCode).toBe(401);
    expect(Object.keys(json(res))).toEqual(['error']);
    expect(Object.keys(json(res).error).sort()).toEqual(['code', 'message']);
    expect(json(res).error.code).toBe('INVALID_METRICS_KEY');
    expect(res.body).not.toContain('boxoffice_');
  });

  it('answers a scrape with the key, however often (outside the per-address rate limit)', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${metricsKey}` } });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('boxoffice_queue_waiting{line="general"}');
    }
  });
});

// Operator endpoints: the key, creating users and concerts, watching and steering the queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestApp, createUser, joinQueue, json, uniqueDate, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ queue: { activeLimit: 2, tickMs: 20 } });
});
afterAll(() => t.close());

const admin = { 'x-admin-key': ADMIN_KEY };

describe('operator endpoints', () => {
  it('refuses a missing or wrong key with 401 INVALID_ADMIN_KEY', async () => {
    for (const headers of [{}, { 'x-admin-key': 'wrong' }, { 'x-admin-key': `${ADMIN_KEY}x` }]) {
      for (const [method, url] of [
        ['GET', '/admin/v1/queue'],
        ['POST', '/admin/v1/users'],
        ['PATCH', '/admin/v1/queue'],
      ] as const) {
        const res = await t.app.inject({ method, url, headers, payload: method === 'GET' ? undefined : {} });
        expect(res.statusCode).toBe(401);
        expect(json(res).error.code).toBe('INVALID_ADMIN_KEY');
      }
    }
  });

  it('does not exist at all without ADMIN_KEY', async () => {
    const closed = await createTestApp({ adminKey: undefined });
    try {
      for (const [method, url] of [
        ['GET', '/admin/v1/queue'],
        ['POST', '/admin/v1/users'],
        ['POST', '/admin/v1/concerts'],
        ['PATCH', '/admin/v1/queue'],
      ] as const) {
        const res = await closed.app.inject({ method, url, headers: { 'x-admin-key': 'anything' }, payload: method === 'GET' ? undefined : {} });
        expect(res.statusCode).toBe(404);
        expect(json(res).error.code).toBe('NOT_FOUND');
      }
    } finally {
      await closed.close();
    }
  });

  it('creates users with or without a name', async () => {
    for (const payload of [{ name: 'Kim' }, {}, undefined]) {
      const res = await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: admin, payload });
      expect(res.statusCode).toBe(201);
      expect(json(res).userId).toMatch(/^[0-9a-f-]{36}$/);
    }
    const bad = await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: admin, payload: { name: 5 } });
    expect(bad.statusCode).toBe(400);
  });

  it('creates many users at once', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/admin/v1/users/batch', headers: admin, payload: { count: 250, namePrefix: 'Bulk ' } });
    expect(res.statusCode).toBe(201);
    const { userIds } = json(res);
    expect(new Set(userIds).size).toBe(250);
    const names = await t.db.selectFrom('users').select('name').where('id', 'in', userIds.slice(0, 3)).execute();
    expect(names.every((n) => /^Bulk \d+$/.test(n.name ?? ''))).toBe(true);
    const stored = await t.db.selectFrom('users').select(['id', 'balance']).where('id', 'in', userIds).execute();
    expect(stored).toHaveLength(250);
    expect(stored.every((u) => u.balance === 0)).toBe(true);
    for (const payload of [{ count: 0 }, { count: 10_001 }, {}, { count: 5, extra: true }]) {
      expect((await t.app.inject({ method: 'POST', url: '/admin/v1/users/batch', headers: admin, payload })).statusCode).toBe(400);
    }
    expect((await t.app.inject({ method: 'POST', url: '/admin/v1/users/batch', payload: { count: 1 } })).statusCode).toBe(401);
  });

  it('creates a concert with 50 seats per date by default', async () => {
    const date = uniqueDate();
    const res = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/concerts',
      headers: admin,
      payload: { title: 'Default seats', venue: 'Hall', dates: [{ date, startsAt: `${date}T11:00:00Z`, price: 1_000 }] },
    });
    expect(res.statusCode).toBe(201);
    const { concertId } = json(res);
    const seats = await t.db.selectFrom('seats').select('number').where('concert_id', '=', concertId).orderBy('number').execute();
    expect(seats.map((s) => s.number)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('refuses a malformed concert with 400 and writes nothing', async () => {
    const date = uniqueDate();
    const good = { date, startsAt: `${date}T11:00:00Z`, price: 1_000 };
    const cases = [
      { title: '', venue: 'Hall', dates: [good] },
      { title: 'T', venue: 'Hall', dates: [] },
      { title: 'T', venue: 'Hall', dates: [{ ...good, seatCount: 201 }] },
      { title: 'T', venue: 'Hall', dates: [{ ...good, seatCount: 0 }] },
      { title: 'T', venue: 'Hall', dates: [{ ...good, price: -1 }] },
      { title: 'T', venue: 'Hall', dates: [{ ...good, date: '2027-02-30' }] },
      { title: 'T', venue: 'Hall', dates: [{ ...good, startsAt: 'tomorrow' }] },
      { title: 'T', venue: 'Hall', dates: [good, good] },
      { title: 'T', venue: 'Hall', dates: [good], extra: 1 },
    ];
    for (const payload of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/admin/v1/concerts', headers: admin, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const written = await t.db.selectFrom('concert_dates').select('date').where('date', '=', date).execute();
    expect(written).toEqual([]);
  });

  it('shows the queue and changes its limit and pause', async () => {
    const users: string[] = [];
    for (let i = 0; i < 4; i++) users.push(await createUser(t.app));
    for (const u of users) await joinQueue(t.app, u);
    const state = async () => json(await t.app.inject({ method: 'GET', url: '/admin/v1/queue', headers: admin }));
    const first = await state();
    expect(first).toEqual({ waiting: 2, active: 2, activeLimit: 2, admittedPerMinute: 2, paused: false, message: null });

    const patched = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 3, paused: true } });
    expect(patched.statusCode).toBe(200);
    expect(json(patched)).toMatchObject({ activeLimit: 3, paused: true, active: 2 });
    const resumed = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: false } });
    expect(json(resumed)).toMatchObject({ activeLimit: 3, paused: false, active: 3, waiting: 1, admittedPerMinute: 3 });

    // Lowering the limit ends nobody.
    expect(json(await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 0 } }))).toMatchObject({
      activeLimit: 0,
      active: 3,
    });
    for (const payload of [{ activeLimit: -1 }, { activeLimit: 1_000_001 }, { activeLimit: 1.5 }, { paused: 'yes' }, { other: 1 }]) {
      const res = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });
});

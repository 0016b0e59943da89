// The contract's rules for every request: the error shape, 400/404/413/415, docs and health.
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeUser, bearer, createTestApp, json, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function expectError(res: { statusCode: number; json: () => unknown }, status: number, code: string) {
  expect({ status: res.statusCode, body: res.json() }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  expect(Object.keys(res.json() as object)).toEqual(['error']);
}

describe('the HTTP contract', () => {
  it('answers an unknown route with 404 NOT_FOUND in the error shape', async () => {
    expectError(await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' }), 404, 'NOT_FOUND');
    expectError(await t.app.inject({ method: 'DELETE', url: '/api/v1/concerts' }), 404, 'NOT_FOUND');
  });

  it('refuses a body that is not JSON with 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/v1/queue/tokens',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'userId=x',
    });
    expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/queue/tokens',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ userId: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses malformed JSON, unknown fields and wrong types with 400', async () => {
    const post = (payload: string) => t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', headers: { 'content-type': 'application/json' }, payload });
    expectError(await post('{"userId": '), 400, 'INVALID_JSON');
    expectError(await post(''), 400, 'INVALID_JSON');
    expectError(await post(JSON.stringify({ userId: randomUUID(), extra: true })), 400, 'VALIDATION_ERROR');
    expectError(await post(JSON.stringify({ userId: 12 })), 400, 'VALIDATION_ERROR');
    expectError(await post(JSON.stringify({ userId: 'not-a-uuid' })), 400, 'VALIDATION_ERROR');
    expectError(await post('[]'), 400, 'VALIDATION_ERROR');
    expectError(await post('null'), 400, 'VALIDATION_ERROR');
  });

  it('refuses malformed ids and dates in a path with 400', async () => {
    const fan = await activeUser(t.app);
    const concertId = randomUUID();
    for (const url of [
      '/api/v1/concerts/not-a-uuid/dates',
      `/api/v1/concerts/${concertId}/dates/2026-13-01/seats`,
      `/api/v1/concerts/${concertId}/dates/2027-02-30/seats`,
      `/api/v1/concerts/${concertId}/dates/20261224/seats`,
      '/api/v1/reservations/123',
      '/api/v1/users/nobody/points',
      '/api/v1/concerts/%ZZ/dates',
      // JSON Schema's uuid format allows a urn:uuid: prefix; PostgreSQL's uuid type does not.
      `/api/v1/concerts/urn:uuid:${concertId}/dates`,
    ]) {
      expectError(await t.app.inject({ method: 'GET', url, headers: bearer(fan.token) }), 400, 'VALIDATION_ERROR');
    }
  });

  it('never answers a strange request with a 500', async () => {
    const fan = await activeUser(t.app);
    const attempts = [
      { method: 'POST' as const, url: '/api/v1/reservations', payload: { userId: fan.userId, concertId: randomUUID(), date: '2027-01-01', seatNumber: 1e300 } },
      { method: 'POST' as const, url: '/api/v1/reservations', payload: { userId: fan.userId, concertId: randomUUID(), date: '2027-01-01', seatNumber: -1 } },
      { method: 'POST' as const, url: `/api/v1/users/${fan.userId}/points/charge`, payload: { amount: '1e3' } },
      { method: 'POST' as const, url: '/api/v1/payments', payload: { userId: fan.userId, reservationId: randomUUID(), __proto__: { x: 1 } } },
      { method: 'GET' as const, url: `/api/v1/concerts/${randomUUID()}/dates/0000-00-00/seats` },
      { method: 'POST' as const, url: '/api/v1/queue/tokens', payload: { userId: `urn:uuid:${fan.userId}` } },
      {
        method: 'POST' as const,
        url: '/api/v1/reservations',
        payload: { userId: fan.userId, concertId: `urn:uuid:${randomUUID()}`, date: '2027-01-01', seatNumber: 1 },
      },
    ];
    for (const a of attempts) {
      const res = await t.app.inject({ ...a, headers: bearer(fan.token) });
      expect(res.statusCode, `${a.method} ${a.url}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, `${a.method} ${a.url}`).toBeLessThan(500);
      expect(json(res).error.code).toEqual(expect.any(String));
    }
  });

  // Found by `npm run fuzz`: each of these answered a 500, hung, or left the contract's shape.
  it('refuses text PostgreSQL cannot store (a NUL) with 400, writing nothing', async () => {
    const admin = { 'x-admin-key': t.config.adminKey! };
    // Names only this test uses: other files add users to a shared PostgreSQL meanwhile.
    const marker = randomUUID();
    for (const [url, payload] of [
      ['/admin/v1/users', { name: `nul\u0000${marker}` }],
      ['/admin/v1/users/batch', { count: 2, namePrefix: `\u0000${marker}` }],
    ] as const) {
      expectError(await t.app.inject({ method: 'POST', url, headers: admin, payload }), 400, 'VALIDATION_ERROR');
    }
    const written = await t.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('name', 'like', `%${marker}%`)
      .executeTakeFirstOrThrow();
    expect(Number(written.n)).toBe(0);
  });

  it('answers HEAD on the event stream with its headers and no stream', async () => {
    const fan = await activeUser(t.app);
    const res = await t.app.inject({ method: 'HEAD', url: '/api/v1/queue/tokens/me/events', headers: bearer(fan.token) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.body).toBe('');
  });

  it("answers requests Node's parser refuses in the error shape, and closes the connection", async () => {
    const base = new URL(await t.app.listen({ port: 0, host: '127.0.0.1' }));
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(base.port), base.hostname, () => socket.end(request));
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    const cases = [
      { request: 'FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
      { request: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'HEADERS_TOO_LARGE' },
    ];
    for (const { request, status, code } of cases) {
      const answer = await raw(request);
      const [head, body] = answer.split('\r\n\r\n');
      expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(head!.toLowerCase()).toContain('connection: close');
      expect(JSON.parse(body!)).toEqual({ error: { code, message: expect.any(String) } });
    }
  });

  it('publishes the OpenAPI document and Swagger UI', async () => {
    const doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/v1/queue/tokens',
      '/api/v1/queue/tokens/me',
      '/api/v1/queue/tokens/me/events',
      '/api/v1/concerts',
      '/api/v1/concerts/{concertId}/dates',
      '/api/v1/concerts/{concertId}/dates/{date}/seats',
      '/api/v1/reservations',
      '/api/v1/reservations/{reservationId}',
      '/api/v1/users/{userId}/points',
      '/api/v1/users/{userId}/points/charge',
      '/api/v1/payments',
      '/admin/v1/users',
      '/admin/v1/concerts',
      '/admin/v1/queue',
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    const ui = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
  });

  it('reports liveness and readiness', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

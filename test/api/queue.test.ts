// The waiting room through HTTP: tokens, polling, admission order, abandonment, pause, streaming.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, verifyToken } from '../../src/queue/queue-token.js';
import { ADMIN_KEY, bearer, createTestApp, createUser, joinQueue, json, pay, waitFor, type TestApp } from '../helpers/test-app.js';
import { parseMetrics } from '../helpers/prometheus-text.js';
import { eventsPath, openStream } from '../helpers/sse-stream.js';

const admin = { 'x-admin-key': ADMIN_KEY };

async function me(t: TestApp, token: string) {
  return t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
}

describe('queue tokens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ queue: { activeLimit: 1 } });
  });
  afterAll(() => t.close());

  it('gives a known user a token, and the same token and place when asked again', async () => {
    // Fill the single slot so the next users wait.
    const first = await createUser(t.app);
    const firstJoin = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: first } });
    expect(firstJoin.statusCode).toBe(201);

    const userId = await createUser(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId } });
    expect(res.statusCode).toBe(201);
    const issued = json(res);
    expect(issued).toMatchObject({ userId, status: 'WAITING', position: expect.any(Number), estimatedWaitSeconds: expect.any(Number) });
    expect(issued.position).toBeGreaterThanOrEqual(1);
    expect(Date.parse(issued.expiresAt)).toBeGreaterThan(Date.now());

    const again = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId } });
    expect(again.statusCode).toBe(200);
    expect(json(again).token).toBe(issued.token);
    expect(json(again).position).toBe(issued.position);

    const poll = json(await me(t, issued.token));
    expect(poll).toMatchObject({ userId, status: 'WAITING', position: issued.position, pollAfterSeconds: expect.any(Number) });
    expect(poll.pollAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('refuses an unknown user with 404 INVALID_USER', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: randomUUID() } });
    expect(res.statusCode).toBe(404);
    expect(json(res).error.code).toBe('INVALID_USER');
  });

  it('refuses missing, malformed, forged and unknown tokens with 401 INVALID_TOKEN', async () => {
    const userId = await createUser(t.app);
    const { token } = await joinQueue(t.app, userId);
    const forgedSig = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const { epoch } = verifyToken(token, t.config.tokenSecret)!;
    const otherSecret = signToken({ userId, tokenId: randomUUID(), seq: 1, epoch }, 'another-secret-of-enough-length');
    const unknown = signToken({ userId, tokenId: randomUUID(), seq: 1, epoch }, t.config.tokenSecret);
    const stolenClaims = signToken({ userId: await createUser(t.app), tokenId: randomUUID(), seq: 1, epoch }, 'guess');
    for (const headers of [
      {},
      { authorization: token },
      { authorization: `Basic ${token}` },
      { authorization: 'Bearer ' },
      bearer('garbage'),
      bearer(forgedSig),
      bearer(otherSecret),
      bearer(unknown),
      bearer(stolenClaims),
    ]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(json(res).error.code).toBe('INVALID_TOKEN');
    }
    const viaQuery = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me/events?token=%ZZ' });
    expect(viaQuery.statusCode).toBe(401);
  });

  it('accepts a token in exactly one spelling: 128 characters of strict base64url', async () => {
    const userId = await createUser(t.app);
    const { token } = await joinQueue(t.app, userId);
    expect(token).toMatch(/^[A-Za-z0-9_-]{128}$/);
    const ok = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
    expect(ok.statusCode).toBe(200);
    // Each of these decodes to the same bytes in a lenient base64 decoder.
    const standardAlphabet = token.replaceAll('-', '+').replaceAll('_', '/');
    const respellings = [`${token}=`, `${token}==`, `${token.slice(0, 64)}\n${token.slice(64)}`, ` ${token}`.trim() + '.', `${token}AA`.slice(0, 130)];
    if (standardAlphabet !== token) respellings.push(standardAlphabet);
    for (const spelling of respellings) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(spelling) });
      expect(res.statusCode, spelling).toBe(401);
      expect(json(res).error.code).toBe('INVALID_TOKEN');
    }
  });

  it('tells a genuine token of a lost line 401 LINE_RESET, not INVALID_TOKEN', async () => {
    const userId = await createUser(t.app);
    const { token } = await joinQueue(t.app, userId);
    const claims = verifyToken(token, t.config.tokenSecret)!;
    // Signed with the real secret but naming a place in another incarnation of the line: what a fan
    // holds after Redis came back empty or an embedded restart lost the last seconds of joins.
    const ofLostLine = signToken({ ...claims, tokenId: randomUUID(), epoch: 'a1b2c3d4e5f60718' }, t.config.tokenSecret);
    for (const url of ['/api/v1/queue/tokens/me', `/api/v1/users/${userId}/points`]) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(ofLostLine) });
      expect(res.statusCode).toBe(401);
      expect(json(res).error.code).toBe('LINE_RESET');
    }
  });

  it('keeps WAITING tokens out of ACTIVE endpoints with 403 TOKEN_NOT_ACTIVE, but lets them use points', async () => {
    const userId = await createUser(t.app);
    const { token, status } = await joinQueue(t.app, userId);
    expect(status).toBe('WAITING');
    const concertId = randomUUID();
    const refused = [
      { method: 'GET', url: '/api/v1/concerts' },
      { method: 'GET', url: `/api/v1/concerts/${concertId}/dates` },
      { method: 'GET', url: `/api/v1/concerts/${concertId}/dates/2026-12-24/seats` },
      { method: 'GET', url: `/api/v1/reservations/${randomUUID()}` },
      { method: 'POST', url: '/api/v1/reservations', payload: { userId, concertId, date: '2026-12-24', seatNumber: 1 } },
      { method: 'POST', url: '/api/v1/payments', payload: { userId, reservationId: randomUUID() }, headers: { 'idempotency-key': randomUUID() } },
    ] as const;
    for (const { method, url, ...rest } of refused) {
      const payload = 'payload' in rest ? rest.payload : undefined;
      const extra = 'headers' in rest ? rest.headers : {};
      const res = await t.app.inject({ method, url, payload, headers: { ...bearer(token), ...extra } });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(json(res).error.code).toBe('TOKEN_NOT_ACTIVE');
    }
    const points = await t.app.inject({ method: 'GET', url: `/api/v1/users/${userId}/points`, headers: bearer(token) });
    expect(points.statusCode).toBe(200);
    expect(json(points)).toEqual({ userId, balance: 0 });
  });

  it("refuses another user's id in the path with 403 USER_MISMATCH", async () => {
    const a = await createUser(t.app);
    const b = await createUser(t.app);
    const { token } = await joinQueue(t.app, a);
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/users/${b}/points`, headers: bearer(token) });
    expect(res.statusCode).toBe(403);
    expect(json(res).error.code).toBe('USER_MISMATCH');
  });
});

describe('admission', () => {
  it('admits in arrival order up to the limit, and a refused payment does not end the token', async () => {
    const t = await createTestApp({ queue: { activeLimit: 2, tickMs: 20 } });
    try {
      const users: string[] = [];
      for (let i = 0; i < 6; i++) users.push(await createUser(t.app));
      const tokens: string[] = [];
      for (const u of users) tokens.push((await joinQueue(t.app, u)).token);
      const statuses = async () => Promise.all(tokens.map(async (tok) => json(await me(t, tok))));
      await waitFor(async () => expect((await statuses()).map((s) => s.status)).toEqual(['ACTIVE', 'ACTIVE', 'WAITING', 'WAITING', 'WAITING', 'WAITING']));
      expect((await statuses()).map((s) => s.position)).toEqual([0, 0, 1, 2, 3, 4]);

      // Ending the first frees one slot: the third (and only the third) moves in.
      await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 2 } });
      const ended = await pay(t.app, { userId: users[0]!, token: tokens[0]! }, randomUUID());
      expect(ended.statusCode).toBe(404); // no such reservation: nothing paid, the token lives on
      expect(json(await me(t, tokens[0]!)).status).toBe('ACTIVE');
    } finally {
      await t.close();
    }
  });

  it('moves the next in line in within 2 s when an active token runs out', async () => {
    const t = await createTestApp({ queue: { activeLimit: 1, activeTtlSeconds: 0.3, tickMs: 20, waitingIdleSeconds: 30 } });
    try {
      const a = (await joinQueue(t.app, await createUser(t.app))).token;
      const b = (await joinQueue(t.app, await createUser(t.app))).token;
      expect(json(await me(t, b)).status).toBe('WAITING');
      // b's own turn is as short: on a busy machine the first poll after b was let in may come once that
      // turn is over too, which reads as its end by TURN_OVER (a turn it could only have had if admitted).
      await waitFor(async () => {
        const body = json(await me(t, b));
        if (body.status !== 'ACTIVE') expect(body.error).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'TURN_OVER' });
      }, 2_000);
      const expired = await me(t, a);
      expect(expired.statusCode).toBe(401);
      expect(json(expired).error.code).toBe('TOKEN_EXPIRED');
    } finally {
      await t.close();
    }
  });

  it('skips a waiting token that stopped polling and gives its user a new place at the back', async () => {
    const t = await createTestApp({ queue: { activeLimit: 0, waitingIdleSeconds: 0.3, tickMs: 20 } });
    try {
      const silentUser = await createUser(t.app);
      const silent = (await joinQueue(t.app, silentUser)).token;
      const polling = (await joinQueue(t.app, await createUser(t.app))).token;
      // `polling` keeps polling past the idle time; `silent` does not.
      const deadline = Date.now() + 700;
      while (Date.now() < deadline) {
        expect(json(await me(t, polling)).status).toBe('WAITING');
        await new Promise((r) => setTimeout(r, 50));
      }
      const res = await me(t, silent);
      expect(res.statusCode).toBe(401);
      expect(json(res).error.code).toBe('TOKEN_EXPIRED');

      await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 1 } });
      await waitFor(async () => expect(json(await me(t, polling)).status).toBe('ACTIVE'));

      const rejoin = await t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId: silentUser } });
      expect(rejoin.statusCode).toBe(201);
      expect(json(rejoin).token).not.toBe(silent);
    } finally {
      await t.close();
    }
  });

  it('admits nobody while paused, and resumes when unpaused', async () => {
    const t = await createTestApp({ queue: { activeLimit: 5, tickMs: 20 } });
    try {
      const paused = await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: true } });
      expect(json(paused)).toMatchObject({ paused: true, activeLimit: 5 });
      const token = (await joinQueue(t.app, await createUser(t.app))).token;
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        seen.push(json(await me(t, token)).status);
        await new Promise((r) => setTimeout(r, 40));
      }
      expect(seen).toEqual(['WAITING', 'WAITING', 'WAITING', 'WAITING', 'WAITING']);
      await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: false } });
      await waitFor(async () => expect(json(await me(t, token)).status).toBe('ACTIVE'));
    } finally {
      await t.close();
    }
  });
});

describe('the queue event stream', () => {
  it('sends the state at once, then each change, by query token or header, and refuses a stream without a token', async () => {
    const t = await createTestApp({ queue: { activeLimit: 1, tickMs: 20 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    try {
      const first = { userId: await createUser(t.app), token: '' };
      first.token = (await joinQueue(t.app, first.userId)).token;
      const second = (await joinQueue(t.app, await createUser(t.app))).token;

      const stream = await openStream(port, `/api/v1/queue/tokens/me/events?token=${encodeURIComponent(second)}`);
      expect(stream.status).toBe(200);
      await waitFor(async () => expect(stream.events[0]).toMatchObject({ status: 'WAITING', position: 1 }));

      // The first user's token ends: the stream sees the second admitted.
      await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 0 } });
      await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 2 } });
      await waitFor(async () => expect(stream.events.at(-1)).toMatchObject({ status: 'ACTIVE', position: 0 }), 2_000);

      const headerStream = await openStream(port, '/api/v1/queue/tokens/me/events', bearer(first.token));
      await waitFor(async () => expect(headerStream.events[0]).toMatchObject({ status: 'ACTIVE' }));
      headerStream.close();

      const refused = await openStream(port, '/api/v1/queue/tokens/me/events');
      expect(refused.status).toBe(401);
      stream.close();
    } finally {
      await t.close();
    }
  });

  it('ends the stream with an EXPIRED event when the token expires', async () => {
    const t = await createTestApp({ queue: { activeLimit: 1, activeTtlSeconds: 0.5, tickMs: 20 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    try {
      const token = (await joinQueue(t.app, await createUser(t.app))).token;
      const stream = await openStream(port, `/api/v1/queue/tokens/me/events?token=${encodeURIComponent(token)}`);
      await stream.ended;
      expect(stream.events.map((e) => e.status)).toEqual(['ACTIVE', 'EXPIRED']);
    } finally {
      await t.close();
    }
  });

  it('holds at most SSE_MAX_STREAMS streams: past it, 503 with Retry-After (the client polls), and a closed one makes room', async () => {
    const t = await createTestApp({ queue: { activeLimit: 0, maxStreams: 2 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    try {
      // One after another: the third token is third in line.
      const tokens: string[] = [];
      for (let i = 0; i < 3; i++) tokens.push((await joinQueue(t.app, await createUser(t.app))).token);
      const open = await Promise.all(tokens.slice(0, 2).map((token) => openStream(port, eventsPath(token))));
      expect(open.map((s) => s.status)).toEqual([200, 200]);
      const refused = await openStream(port, eventsPath(tokens[2]!));
      expect(refused.status).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Polling still answers.
      expect((await me(t, tokens[2]!)).statusCode).toBe(200);

      open[0]!.close();
      const admitted = await waitFor(async () => {
        const stream = await openStream(port, eventsPath(tokens[2]!));
        if (stream.status !== 200) throw new Error(`still refused: ${stream.status}`);
        return stream;
      }, 10_000);
      await waitFor(async () => expect(admitted.events[0]).toMatchObject({ status: 'WAITING', position: 3 }));
      admitted.close();
      open[1]!.close();
    } finally {
      await t.close();
    }
  });

  it.runIf(process.env.REDIS_URL)("works a line's change out once for all its streams: no Redis read per stream", async () => {
    const t = await createTestApp({ queue: { activeLimit: 0, tickMs: 20 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    try {
      const tokens: string[] = [];
      for (let i = 0; i < 40; i++) tokens.push((await joinQueue(t.app, await createUser(t.app))).token);
      const streams = await Promise.all(tokens.map((token) => openStream(port, eventsPath(token))));
      await waitFor(async () => expect(streams.every((s) => s.events.length > 0)).toBe(true));
      const reads = async () => {
        const scrape = parseMetrics((await t.app.inject({ method: 'GET', url: '/metrics' })).body);
        const count = (script: string) => scrape.value('boxoffice_redis_command_duration_seconds_count', { script }) ?? 0;
        return count('get') + count('getMany');
      };
      const before = await reads();

      await t.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 1 } });
      await waitFor(async () => expect(streams[0]!.events.at(-1)).toMatchObject({ status: 'ACTIVE' }), 2_000);
      // Every other stream moved up one place.
      await waitFor(async () => expect(streams.slice(1).map((s) => s.events.at(-1).position)).toEqual(streams.slice(1).map((_, i) => i + 1)), 2_000);
      // Only the admitted token was read from Redis (its copy could not vouch for it), not the 39 others.
      expect((await reads()) - before).toBeLessThan(5);
      for (const s of streams) s.close();
    } finally {
      await t.close();
    }
  });
});

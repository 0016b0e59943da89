// The lists' conditional GETs (conditional-get.ts): every list carries a strong ETag of its bytes and
// `cache-control: private, no-cache`; a request naming the current ETag gets 304 with no body, and one
// naming any earlier listing gets the current one, whatever changed it: a hold, a hold lapsing without
// any write, a sale taking a concert out of a line, or a hold made on another instance.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesIfNoneMatch } from '../../src/http/conditional-get.js';
import { ADMIN_KEY, activeUser, bearer, createConcert, createTestApp, hold, json, waitFor, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ queue: { activeLimit: 1000 } });
});
afterAll(() => t.close());

function get(app: FastifyInstance, token: string, url: string, etag?: string, method: 'GET' | 'HEAD' = 'GET') {
  return app.inject({ method, url, headers: { ...bearer(token), ...(etag ? { 'if-none-match': etag } : {}) } });
}

function expectListing(res: LightMyRequestResponse): string {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.headers['cache-control']).toBe('private, no-cache');
  const etag = String(res.headers.etag);
  expect(etag).toMatch(/^"[A-Za-z0-9_-]{16,}"$/);
  return etag;
}

function expectNotModified(res: LightMyRequestResponse, etag: string): void {
  expect(res.statusCode, res.body).toBe(304);
  expect(res.body).toBe('');
  expect(res.headers.etag).toBe(etag);
  expect(res.headers['cache-control']).toBe('private, no-cache');
}

const numbers = (res: LightMyRequestResponse) => json(res).seats.map((s: { number: number }) => s.number);

describe('If-None-Match', () => {
  it('compares weakly, takes a list of tags and *, and nothing else', () => {
    const etag = '"abc"';
    expect(matchesIfNoneMatch('"abc"', etag)).toBe(true);
    expect(matchesIfNoneMatch('W/"abc"', etag)).toBe(true);
    expect(matchesIfNoneMatch('"x", W/"y" ,"abc"', etag)).toBe(true);
    expect(matchesIfNoneMatch('*', etag)).toBe(true);
    for (const header of [undefined, '', 'abc', '"ab"', '"abcd"', '"x", "y"', 'W/abc']) expect(matchesIfNoneMatch(header, etag), header).toBe(false);
  });
});

describe('conditional listings', () => {
  it('each list has an ETag; sending it back is 304 with no body, on GET and on HEAD', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app, { dates: 2, seatCount: 3 });
    for (const url of [
      '/api/v1/concerts',
      `/api/v1/concerts/${concert.concertId}/dates`,
      `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`,
    ]) {
      const first = await get(t.app, fan.token, url);
      const etag = expectListing(first);
      expect(first.headers['content-length']).toBe(String(Buffer.byteLength(first.body)));
      const again = await get(t.app, fan.token, url);
      expect(again.headers.etag, url).toBe(etag);
      expect(again.body).toBe(first.body);
      expectNotModified(await get(t.app, fan.token, url, etag), etag);
      expectNotModified(await get(t.app, fan.token, url, `"stale", W/${etag}`), etag);

      const head = await get(t.app, fan.token, url, undefined, 'HEAD');
      expect(head.statusCode, url).toBe(200);
      expect(head.headers.etag).toBe(etag);
      expect(head.body).toBe('');
      expectNotModified(await get(t.app, fan.token, url, etag, 'HEAD'), etag);
    }
  });

  it('after a hold of a seat, the old ETag gets the new list without the seat and a new ETag', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app, { seatCount: 3 });
    const seatsUrl = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
    const datesUrl = `/api/v1/concerts/${concert.concertId}/dates`;
    const seatsBefore = expectListing(await get(t.app, fan.token, seatsUrl));
    const datesBefore = expectListing(await get(t.app, fan.token, datesUrl));

    expect((await hold(t.app, fan, concert, 2)).statusCode).toBe(201);

    const seats = await get(t.app, fan.token, seatsUrl, seatsBefore);
    const seatsAfter = expectListing(seats);
    expect(seatsAfter).not.toBe(seatsBefore);
    expect(numbers(seats)).toEqual([1, 3]);
    const dates = await get(t.app, fan.token, datesUrl, datesBefore);
    expect(expectListing(dates)).not.toBe(datesBefore);
    expect(json(dates).dates[0].availableSeats).toBe(2);
    // The new tag is current; the old one stays stale.
    expectNotModified(await get(t.app, fan.token, seatsUrl, seatsAfter), seatsAfter);
    expect((await get(t.app, fan.token, seatsUrl, seatsBefore)).statusCode).toBe(200);
    expect((await get(t.app, fan.token, seatsUrl, '"not-a-tag-we-gave"')).statusCode).toBe(200);
  });

  it('a hold that lapses with no write since (no sweep) makes the ETag that hid its seat stale', async () => {
    const lazy = await createTestApp({ reservation: { holdSeconds: 3, sweepMs: 3_600_000 } });
    try {
      const fan = await activeUser(lazy.app);
      const concert = await createConcert(lazy.app, { seatCount: 2 });
      const seatsUrl = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
      const held = json(await hold(lazy.app, fan, concert, 1));
      const whileHeld = await get(lazy.app, fan.token, seatsUrl);
      const etag = expectListing(whileHeld);
      expect(numbers(whileHeld)).toEqual([2]);
      await waitFor(async () => expect(Date.now()).toBeGreaterThan(Date.parse(held.heldUntil) + 1_000), 6_000, 50);
      const lapsed = await get(lazy.app, fan.token, seatsUrl, etag);
      expect(expectListing(lapsed)).not.toBe(etag);
      expect(numbers(lapsed)).toEqual([1, 2]);
    } finally {
      await lazy.close();
    }
  });

  it("a concert put on sale leaves the general line's concert list, whose old ETag is then stale", async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app);
    const before = await get(t.app, fan.token, '/api/v1/concerts');
    const etag = expectListing(before);
    expect(json(before).concerts.map((c: { concertId: string }) => c.concertId)).toContain(concert.concertId);
    const sale = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/sales',
      headers: { 'x-admin-key': ADMIN_KEY },
      payload: {
        concertId: concert.concertId,
        queueOpensAt: new Date(Date.now() + 60_000).toISOString(),
        opensAt: new Date(Date.now() + 120_000).toISOString(),
      },
    });
    expect(sale.statusCode, sale.body).toBe(201);
    const after = await get(t.app, fan.token, '/api/v1/concerts', etag);
    expect(expectListing(after)).not.toBe(etag);
    expect(json(after).concerts.map((c: { concertId: string }) => c.concertId)).not.toContain(concert.concertId);
  });

  it('checks the token and the line before any 304, and answers unknown lists with their 404', async () => {
    const fan = await activeUser(t.app);
    const concert = await createConcert(t.app);
    const url = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
    const etag = expectListing(await get(t.app, fan.token, url));
    const anonymous = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(anonymous.statusCode).toBe(401);
    expect(json(anonymous).error.code).toBe('INVALID_TOKEN');
    const unknown = await get(t.app, fan.token, `/api/v1/concerts/${concert.concertId}/dates/2099-01-01/seats`, '*');
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown).error.code).toBe('DATE_NOT_FOUND');
    expect((await get(t.app, fan.token, `/api/v1/concerts/${randomUUID()}/dates`, '*')).statusCode).toBe(404);
  });

  it('documents the ETag, the If-None-Match header and the 304 of every list', async () => {
    const doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
    for (const path of ['/api/v1/concerts', '/api/v1/concerts/{concertId}/dates', '/api/v1/concerts/{concertId}/dates/{date}/seats']) {
      const get = doc.paths[path].get;
      expect(get.responses['200'].headers.etag.schema.type, path).toBe('string');
      expect(get.responses['200'].headers['cache-control']).toBeDefined();
      expect(get.responses['200'].content['application/json'].schema).toBeDefined();
      expect(get.responses['304'].headers.etag).toBeDefined();
      expect(get.responses['304'].content).toBeUndefined();
      expect(get.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'if-none-match', required: false }));
    }
  });

  const sharedServices = process.env.DATABASE_URL && process.env.REDIS_URL ? it : it.skip;
  sharedServices(
    "one instance's ETag is honoured by another while current, and refreshed after a hold on either (needs DATABASE_URL and REDIS_URL)",
    async () => {
      const prefix = `test:${randomUUID()}:`;
      const a = await createTestApp({ redisPrefix: prefix, queue: { activeLimit: 100 } });
      const b = await createTestApp({ redisPrefix: prefix, queue: { activeLimit: 100 } });
      try {
        const fan = await activeUser(a.app);
        const concert = await createConcert(a.app, { seatCount: 3 });
        const url = `/api/v1/concerts/${concert.concertId}/dates/${concert.dates[0]}/seats`;
        const fromA = expectListing(await get(a.app, fan.token, url));
        expectNotModified(await get(b.app, fan.token, url, fromA), fromA);

        expect((await hold(b.app, fan, concert, 3)).statusCode).toBe(201);
        const onA = await get(a.app, fan.token, url, fromA);
        const refreshed = expectListing(onA);
        expect(refreshed).not.toBe(fromA);
        expect(numbers(onA)).toEqual([1, 2]);
        expectNotModified(await get(b.app, fan.token, url, refreshed), refreshed);
        expect((await get(b.app, fan.token, url, fromA)).statusCode).toBe(200);
      } finally {
        await a.close();
        await b.close();
      }
    },
  );
});

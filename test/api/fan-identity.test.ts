// Only the fan takes the fan's place: user assertions (HS256 and a JWKS served here), the bot check
// (ALTCHA proofs, spent once), rate limits, security headers and logs without secrets. On the
// embedded database and, when REDIS_URL is set, across two instances sharing one Redis.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { solveChallenge } from 'altcha-lib/v1';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAssertions } from '../../src/identity/user-assertion.js';
import { activeUser, ADMIN_KEY, bearer, createConcert, createTestApp, createUser, hold, json, type TestApp } from '../helpers/test-app.js';

const SECRET = 'seller-secret-0123456789-0123456789-abcdef';
const AUDIENCE = 'boxoffice-test';
const encoder = new TextEncoder();

function assertion(sub: string, options: { secret?: string; audience?: string; expiresIn?: string | number } = {}): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setAudience(options.audience ?? AUDIENCE)
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(encoder.encode(options.secret ?? SECRET));
}

function join(t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}, remoteAddress?: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: body, headers, ...(remoteAddress ? { remoteAddress } : {}) });
}

function expectError(res: { statusCode: number; body: string }, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status);
  const body = JSON.parse(res.body);
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
}

async function proofFor(t: TestApp): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: '/api/v1/challenge' });
  expect(res.statusCode).toBe(200);
  const c = json(res);
  const solution = await solveChallenge(c.challenge, c.salt, c.algorithm, c.maxnumber).promise;
  return Buffer.from(
    JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: solution!.number, salt: c.salt, signature: c.signature }),
  ).toString('base64');
}

function tamper(proof: string, change: (payload: Record<string, unknown>) => void): string {
  const payload = JSON.parse(Buffer.from(proof, 'base64').toString('utf8'));
  change(payload);
  return Buffer.from(JSON.stringify(payload)).toString('base64');
}

describe('user assertions with a shared secret (HS256)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ userAuth: { secret: SECRET, jwksUrl: undefined, audience: AUDIENCE } });
  });
  afterAll(() => t.close());

  it("gives a place in line only for an assertion of the body's user", async () => {
    const userId = await createUser(t.app);
    const res = await join(t, { userId }, bearer(await assertion(userId)));
    expect(res.statusCode).toBe(201);
    // Asking again with a fresh assertion keeps the place.
    const again = await join(t, { userId }, bearer(await assertion(userId)));
    expect(again.statusCode).toBe(200);
    expect(json(again).token).toBe(json(res).token);
  });

  it('refuses a missing, malformed, badly signed, expired or foreign assertion with 401 INVALID_USER_ASSERTION', async () => {
    const userId = await createUser(t.app);
    const good = await assertion(userId);
    const [header, payload] = good.split('.');
    const someone = await createUser(t.app);
    const queueToken: string = json(await join(t, { userId: someone }, bearer(await assertion(someone)))).token;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      'not bearer': { authorization: `Basic ${good}` },
      garbage: bearer('not-a-jwt'),
      'alg none': bearer(unsigned),
      'other secret': bearer(await assertion(userId, { secret: 'another-secret-0123456789-0123456789' })),
      expired: bearer(await assertion(userId, { expiresIn: Math.floor(Date.now() / 1000) - 60 })),
      'other audience': bearer(await assertion(userId, { audience: 'somebody-else' })),
      'signature cut': bearer(good.slice(0, -4)),
      'header swapped': bearer(`${header}x.${payload}.${good.split('.')[2]}`),
      'a queue token': bearer(queueToken),
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await join(t, { userId }, headers);
      expect(res.statusCode, name).toBe(401);
      expectError(res, 401, 'INVALID_USER_ASSERTION');
    }
    // No place was taken by any of them.
    const ok = await join(t, { userId }, bearer(good));
    expect(ok.statusCode).toBe(201);
  });

  it("refuses another user's assertion with 403 USER_MISMATCH", async () => {
    const fan = await createUser(t.app);
    const other = await createUser(t.app);
    expectError(await join(t, { userId: fan }, bearer(await assertion(other))), 403, 'USER_MISMATCH');
  });

  it('answers an unknown user with a genuine assertion 404 INVALID_USER, as before', async () => {
    const ghost = randomUUID();
    expectError(await join(t, { userId: ghost }, bearer(await assertion(ghost))), 404, 'INVALID_USER');
  });
});

describe('user assertions from an identity provider (JWKS)', () => {
  let provider: Server;
  let keys: JWK[] = [];
  let fetches = 0;
  let jwksUrl = '';
  const signer = async () => {
    const pair = await generateKeyPair('ES256');
    const kid = randomUUID();
    const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
    const sign = (sub: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setSubject(sub).setIssuedAt().setExpirationTime('5m').sign(pair.privateKey);
    return { jwk, sign };
  };

  beforeAll(async () => {
    provider = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => provider.close(() => resolve())));

  it("takes the provider's key through the app, and refuses a key it does not publish", async () => {
    const key = await signer();
    keys = [key.jwk];
    const t = await createTestApp({ userAuth: { secret: undefined, jwksUrl, audience: undefined } });
    try {
      const userId = await createUser(t.app);
      expect((await join(t, { userId }, bearer(await key.sign(userId)))).statusCode).toBe(201);
      const stranger = await signer();
      expectError(await join(t, { userId }, bearer(await stranger.sign(userId))), 401, 'INVALID_USER_ASSERTION');
      // An HS256 assertion cannot pass where the provider's keys decide.
      expectError(await join(t, { userId }, bearer(await assertion(userId))), 401, 'INVALID_USER_ASSERTION');
    } finally {
      await t.close();
    }
  });

  it('follows a key rotation: a new key id is fetched, a withdrawn key stops working once the cache ages', async () => {
    const first = await signer();
    const second = await signer();
    keys = [first.jwk];
    const checker = createUserAssertions({ secret: undefined, jwksUrl, audience: undefined }, { cooldownMs: 0, cacheMaxAgeMs: 300 });
    const userId = randomUUID();
    await checker!.check(await first.sign(userId), userId);
    const before = fetches;
    keys = [second.jwk];
    await checker!.check(await second.sign(userId), userId);
    expect(fetches).toBe(before + 1);
    const deadline = Date.now() + 5_000;
    let refused: unknown;
    while (!refused && Date.now() < deadline) {
      refused = await checker!.check(await first.sign(userId), userId).then(
        () => undefined,
        (err: unknown) => err,
      );
      if (!refused) await new Promise((r) => setTimeout(r, 50));
    }
    expect((refused as { code?: string } | undefined)?.code).toBe('INVALID_USER_ASSERTION');
  });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After while the provider cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const t = await createTestApp({ userAuth: { secret: undefined, jwksUrl: `http://127.0.0.1:${port}/jwks`, audience: undefined } });
    try {
      const key = await signer();
      const userId = await createUser(t.app);
      const res = await join(t, { userId }, bearer(await key.sign(userId)));
      expectError(res, 503, 'SERVICE_UNAVAILABLE');
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      await t.close();
    }
  });
});

describe('without user auth (the embedded demo)', () => {
  it('lets any known user id join, and warns at start-up only when a real database has no user auth', async () => {
    const lines: string[] = [];
    const t = await createTestApp({ logLevel: 'warn' }, { logStream: { write: (line) => lines.push(line) } });
    try {
      expect((await join(t, { userId: await createUser(t.app) })).statusCode).toBe(201);
      expect(lines.some((l) => l.includes('no user auth'))).toBe(Boolean(t.config.databaseUrl));
    } finally {
      await t.close();
    }
  });
});

describe('bot check', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ botCheck: { mode: 'pow', cost: 2_000 } });
  });
  afterAll(() => t.close());

  it("serves challenges in ALTCHA's format, never cached", async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/challenge' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const c = json(res);
    expect(c).toEqual({
      algorithm: 'SHA-256',
      challenge: expect.stringMatching(/^[0-9a-f]{64}$/),
      maxnumber: 2_000,
      salt: expect.stringContaining('expires='),
      signature: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('lets a solved challenge join once, and refuses it a second time with 403 BOT_CHECK_FAILED', async () => {
    const proof = await proofFor(t);
    expect((await join(t, { userId: await createUser(t.app), proof })).statusCode).toBe(201);
    expectError(await join(t, { userId: await createUser(t.app), proof }), 403, 'BOT_CHECK_FAILED');
    // A respelling of the same proof (other JSON spacing, the same challenge) is the same proof.
    const respelled = Buffer.from(JSON.stringify(JSON.parse(Buffer.from(proof, 'base64').toString()), null, 1)).toString('base64');
    expectError(await join(t, { userId: await createUser(t.app), proof: respelled }), 403, 'BOT_CHECK_FAILED');
  });

  it('refuses a missing, wrong, forged or foreign proof with 403 BOT_CHECK_FAILED, and takes no place', async () => {
    const userId = await createUser(t.app);
    const proof = await proofFor(t);
    const proofs: Record<string, string | undefined> = {
      missing: undefined,
      empty: '',
      'not base64 json': 'bm90IGpzb24=',
      'json null': Buffer.from('null').toString('base64'),
      'wrong number': tamper(proof, (p) => (p['number'] = (p['number'] as number) + 1)),
      'number as text': tamper(proof, (p) => (p['number'] = String(p['number']))),
      'other salt': tamper(proof, (p) => (p['salt'] = `${p['salt']}x`)),
      'forged signature': tamper(proof, (p) => (p['signature'] = '0'.repeat(64))),
      'other algorithm': tamper(proof, (p) => (p['algorithm'] = 'SHA-1')),
      'no expiry': tamper(proof, (p) => (p['salt'] = String(p['salt']).split('?')[0])),
    };
    for (const [name, value] of Object.entries(proofs)) {
      const res = await join(t, value === undefined ? { userId } : { userId, proof: value });
      expect(res.statusCode, name).toBe(403);
      expectError(res, 403, 'BOT_CHECK_FAILED');
    }
    const waiting = await t.app.inject({ method: 'GET', url: '/admin/v1/queue', headers: { 'x-admin-key': ADMIN_KEY } });
    expect(waiting.statusCode).toBe(200);
    // The good proof was never spent by the refusals above.
    expect((await join(t, { userId, proof })).statusCode).toBe(201);
  });

  it('refuses a proof whose challenge has expired', async () => {
    const short = await createTestApp({ botCheck: { mode: 'pow', cost: 1_000, expiresSeconds: 1 } });
    try {
      const proof = await proofFor(short);
      const expires = Number(new URLSearchParams(JSON.parse(Buffer.from(proof, 'base64').toString()).salt.split('?')[1]).get('expires')) * 1000;
      while (Date.now() <= expires + 50) await new Promise((r) => setTimeout(r, 50));
      expectError(await join(short, { userId: await createUser(short.app), proof }), 403, 'BOT_CHECK_FAILED');
    } finally {
      await short.close();
    }
  });

  it('answers GET /api/v1/challenge 404 when the bot check is off, and joins need no proof', async () => {
    const off = await createTestApp();
    try {
      expectError(await off.app.inject({ method: 'GET', url: '/api/v1/challenge' }), 404, 'NOT_FOUND');
      expect((await join(off, { userId: await createUser(off.app) })).statusCode).toBe(201);
    } finally {
      await off.close();
    }
  });
});

describe('rate limits', () => {
  function expectLimited(res: { statusCode: number; body: string; headers: Record<string, unknown> }): void {
    expectError(res, 429, 'RATE_LIMITED');
    const retryAfter = Number(res.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(res.headers['retry-after'])).toBe(true);
  }

  it('limits token issue per client address, and counts refused joins too', async () => {
    const t = await createTestApp({ rateLimits: { joinPerMinute: 3 } });
    try {
      const users = await Promise.all(Array.from({ length: 5 }, () => createUser(t.app)));
      for (const userId of users.slice(0, 3)) expect((await join(t, { userId }, {}, '192.0.2.1')).statusCode).toBe(201);
      expectLimited(await join(t, { userId: users[3]! }, {}, '192.0.2.1'));
      expectLimited(await join(t, { userId: users[3]! }, {}, '192.0.2.1'));
      // Another address has its own count.
      expect((await join(t, { userId: users[3]! }, {}, '192.0.2.2')).statusCode).toBe(201);
      // X-Forwarded-For is not believed without TRUST_PROXY.
      expectLimited(await join(t, { userId: users[4]! }, { 'x-forwarded-for': '198.51.100.9' }, '192.0.2.1'));
    } finally {
      await t.close();
    }
  });

  it("counts the first hop of X-Forwarded-For behind a trusted proxy, and the proxy's own address for junk", async () => {
    const t = await createTestApp({ trustProxy: true, rateLimits: { joinPerMinute: 2 } });
    try {
      const proxy = '10.0.0.1';
      const users = await Promise.all(Array.from({ length: 6 }, () => createUser(t.app)));
      const fan = { 'x-forwarded-for': '203.0.113.5, 10.0.0.1' };
      expect((await join(t, { userId: users[0]! }, fan, proxy)).statusCode).toBe(201);
      expect((await join(t, { userId: users[1]! }, fan, proxy)).statusCode).toBe(201);
      expectLimited(await join(t, { userId: users[2]! }, fan, proxy));
      expect((await join(t, { userId: users[2]! }, { 'x-forwarded-for': '203.0.113.6' }, proxy)).statusCode).toBe(201);
      // Junk instead of an address cannot mint fresh counters: all of it counts as the proxy.
      expect((await join(t, { userId: users[3]! }, { 'x-forwarded-for': 'junk-1' }, proxy)).statusCode).toBe(201);
      expect((await join(t, { userId: users[4]! }, { 'x-forwarded-for': 'junk-2' }, proxy)).statusCode).toBe(201);
      expectLimited(await join(t, { userId: users[5]! }, { 'x-forwarded-for': 'junk-3' }, proxy));
    } finally {
      await t.close();
    }
  });

  it('limits seat holds per queue token, not per address', async () => {
    const t = await createTestApp({ rateLimits: { holdPerMinute: 2 } });
    try {
      const concert = await createConcert(t.app, { seatCount: 10 });
      const a = await activeUser(t.app);
      const b = await activeUser(t.app);
      expect((await hold(t.app, a, concert, 1)).statusCode).toBe(201);
      expect((await hold(t.app, a, concert, 1)).statusCode).toBe(409);
      expectLimited(await hold(t.app, a, concert, 2));
      expect((await hold(t.app, b, concert, 2)).statusCode).toBe(201);
    } finally {
      await t.close();
    }
  });

  it('counts a join against the join limit only, while that one is on', async () => {
    const t = await createTestApp({ rateLimits: { perMinute: 3, joinPerMinute: 10 } });
    try {
      const users = [await createUser(t.app), await createUser(t.app), await createUser(t.app)]; // admin calls 1-3
      for (const userId of users) expect((await join(t, { userId })).statusCode).toBe(201);
      expectLimited(await t.app.inject({ method: 'GET', url: `/api/v1/users/${users[0]}/points` }));
    } finally {
      await t.close();
    }
  });

  it('limits everything per address except queue polls, streams and health probes', async () => {
    const t = await createTestApp({ rateLimits: { perMinute: 4 } });
    try {
      const userId = await createUser(t.app); // admin call 1
      const { token } = json(await join(t, { userId })); // 2
      for (let i = 0; i < 20; i++) {
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) })).statusCode).toBe(200);
        expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      }
      const points = () => t.app.inject({ method: 'GET', url: `/api/v1/users/${userId}/points`, headers: bearer(token) });
      expect((await points()).statusCode).toBe(200); // 3
      expect((await points()).statusCode).toBe(200); // 4
      expectLimited(await points());
      expectLimited(await t.app.inject({ method: 'GET', url: '/no/such/route' }));
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('headers and logs', () => {
  it('sends security headers with a Content-Security-Policy that allows no inline script or style', async () => {
    const t = await createTestApp();
    try {
      const res = await t.app.inject({ method: 'GET', url: '/healthz' });
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBeDefined();
    } finally {
      await t.close();
    }
  });

  it('never writes a queue token, a user assertion, an admin key or a proof to the log', async () => {
    const lines: string[] = [];
    const t = await createTestApp(
      { logLevel: 'trace', userAuth: { secret: SECRET, jwksUrl: undefined, audience: AUDIENCE }, botCheck: { mode: 'pow', cost: 1_000 } },
      { logStream: { write: (line) => lines.push(line) } },
    );
    try {
      const userId = await createUser(t.app);
      const signed = await assertion(userId);
      const proof = await proofFor(t);
      const joined = await join(t, { userId, proof }, bearer(signed));
      expect(joined.statusCode).toBe(201);
      const { token } = json(joined);
      await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
      await t.app.inject({ method: 'GET', url: `/api/v1/users/${userId}/points?token=${token}&assertion=${signed}&key=${ADMIN_KEY}`, headers: bearer(token) });
      await t.app.inject({ method: 'GET', url: '/admin/v1/queue', headers: { 'x-admin-key': ADMIN_KEY } });
      // The stream takes its token in the query string: open one for real and read its first event.
      const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const abort = new AbortController();
      const stream = await fetch(`${base}/api/v1/queue/tokens/me/events?token=${encodeURIComponent(token)}`, { signal: abort.signal });
      expect(stream.status).toBe(200);
      await stream.body!.getReader().read();
      abort.abort();
      const bad = await fetch(`${base}/api/v1/queue/tokens/me/events?token=${encodeURIComponent(token)}x`);
      expect(bad.status).toBe(401);
      const log = lines.join('');
      expect(log).toContain('/api/v1/queue/tokens/me/events?token=[redacted]');
      for (const [what, secret] of Object.entries({ token, signed, proof, adminKey: ADMIN_KEY })) {
        expect(log.includes(secret), `${what} appears in the log`).toBe(false);
      }
    } finally {
      await t.close();
    }
  });
});

describe.runIf(process.env.REDIS_URL)('two instances sharing one Redis', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const shared = { redisPrefix: `test:${randomUUID()}:`, botCheck: { mode: 'pow' as const, cost: 1_000 }, rateLimits: { joinPerMinute: 3 } };
    a = await createTestApp(shared);
    b = await createTestApp(shared);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('spends a proof once across both, and counts joins of one address across both', async () => {
    const proof = await proofFor(a);
    expect((await join(a, { userId: await createUser(a.app), proof }, {}, '192.0.2.50')).statusCode).toBe(201);
    expectError(await join(b, { userId: await createUser(b.app), proof }, {}, '192.0.2.51'), 403, 'BOT_CHECK_FAILED');

    expect((await join(b, { userId: await createUser(b.app), proof: await proofFor(b) }, {}, '192.0.2.50')).statusCode).toBe(201);
    expect((await join(a, { userId: await createUser(a.app), proof: await proofFor(a) }, {}, '192.0.2.50')).statusCode).toBe(201);
    const limited = await join(b, { userId: await createUser(b.app), proof: await proofFor(b) }, {}, '192.0.2.50');
    expectError(limited, 429, 'RATE_LIMITED');
  });
});

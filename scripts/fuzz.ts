// `npm run fuzz`: sends mutated requests (queue tokens, user assertions, bot-check proofs, headers,
// bodies, paths, query strings, methods, content types) at a boxoffice server built in this process,
// configured like a deployment (user assertions, proof of work, rate limits behind a proxy), and checks
// that none gets a 5xx, every error has the contract's exact shape with a code from its tables and the
// status that code maps to, nothing certainly invalid is accepted, and no refused request changes any
// state (money, seats, reservations, payments, idempotency keys, the lines). Then a short phase with the
// default rate limits checks 429 RATE_LIMITED. Exits non-zero when any check fails.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { sql, type Kysely } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { DB } from '../src/db/schema.js';
import { parseFlags } from './lib/args.js';
import { CONTRACT_CODES, codeOf, databaseFingerprint, errorShapeProblem, fingerprintDiff, lineFingerprint, type Fingerprint } from './lib/fuzz-contract.js';
import { sendWire, type WireRequest, type WireResponse } from './lib/fuzz-http.js';
import {
  authorizationVariant,
  dateVariant,
  draft,
  header,
  junkString,
  mutateBody,
  mutateContentType,
  mutateHeaders,
  mutateMethod,
  mutatePath,
  mutateProof,
  mutateQuery,
  mutateQueueToken,
  mustRefuse,
  refuse,
  unrefuse,
  setHeader,
  toWire,
  tweakString,
  uuidVariant,
  type Draft,
} from './lib/fuzz-mutations.js';
import { Rng } from './lib/fuzz-random.js';
import { throwawayDatabase, throwawayRedisPrefix } from './lib/fuzz-services.js';
import { cleanUp, installExitHandlers } from './lib/service.js';

const USAGE = `usage: npm run fuzz -- [flags]
  --requests N      mutated requests in the main run (default 100000; --smoke: 3000)
  --seed S          seed of the mutations (default: random, printed)
  --concurrency C   requests in flight at once (default 32)
  --batch B         requests between two state fingerprints (default 256)
  --smoke           a short run for CI (about 3,000 requests)
  --no-rate-phase   skip the phase with the default rate limits
  --postgres        a throwaway database on the local PostgreSQL instead of embedded PGlite
  --redis           a throwaway key prefix on the local Redis instead of the in-process queue`;

const flags = parseFlags(
  process.argv.slice(2),
  { booleans: ['smoke', 'no-rate-phase', 'postgres', 'redis'], numbers: ['requests', 'seed', 'concurrency', 'batch'] },
  USAGE,
);
const settings = {
  requests: flags.num('requests', flags.bool('smoke') ? 3_000 : 100_000),
  seed: flags.has('seed') ? flags.num('seed', 0) >>> 0 : randomBytes(4).readUInt32BE(0),
  concurrency: Math.max(1, flags.num('concurrency', 32)),
  batch: Math.max(8, flags.num('batch', 256)),
  ratePhase: !flags.bool('no-rate-phase'),
  postgres: flags.bool('postgres'),
  redis: flags.bool('redis'),
};

const ADMIN_KEY = randomBytes(16).toString('hex');
const USER_AUTH_SECRET = randomBytes(32).toString('base64url');
const AUDIENCE = 'boxoffice-fuzz';
const TIMEOUT_MS = 5_000;
const GENERAL_ACTIVE_LIMIT = 6;
const MAX_REPORTED = 12;

// ---- checks and their failures -----------------------------------------------------------------

interface Sent {
  draft: Draft;
  wire: WireRequest;
  response: WireResponse;
}

interface Check {
  name: string;
  checked: number;
  failed: number;
  examples: string[];
  /** Failures grouped by what went wrong, method, family and status: the distinct defects. */
  kinds: Map<string, number>;
}

const checks = new Map<string, Check>();
function check(name: string): Check {
  let c = checks.get(name);
  if (!c) checks.set(name, (c = { name, checked: 0, failed: 0, examples: [], kinds: new Map() }));
  return c;
}

function showWire(wire: WireRequest): string {
  const headers = wire.headers.map(([n, v]) => `    ${n}: ${v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v}`).join('\n');
  const body =
    wire.body === undefined
      ? '(none)'
      : wire.body.length > 400
        ? `${wire.body.subarray(0, 400).toString('utf8')}… (${wire.body.length} bytes)`
        : wire.body.toString('utf8');
  const path = wire.path.length > 300 ? `${wire.path.slice(0, 300)}… (${wire.path.length} chars)` : wire.path;
  return `  ${wire.method} ${path}${wire.chunked ? ' (chunked)' : ''}\n${headers}\n    body: ${body}`;
}

function showResponse(r: WireResponse): string {
  if (r.status === 0) return `  → no answer: ${r.error?.kind} ${r.error?.message}`;
  const keep = ['content-type', 'retry-after', 'content-length'];
  const hs = keep
    .filter((h) => r.headers[h] !== undefined)
    .map((h) => `${h}: ${String(r.headers[h])}`)
    .join('; ');
  return `  → ${r.status} [${hs}] ${r.text.length > 500 ? `${r.text.slice(0, 500)}…` : r.text}`;
}

function fail(c: Check, why: string, sent?: Pick<Sent, 'draft' | 'wire' | 'response'>): void {
  c.failed++;
  const kind = sent
    ? `${why.replace(/ \([a-z-]+\)$/, '')} — ${sent.wire.method} ${sent.draft.family} → ${sent.response.status || sent.response.error?.kind}`
    : why.slice(0, 160);
  const seen = c.kinds.get(kind) ?? 0;
  c.kinds.set(kind, seen + 1);
  // One example of each kind first; the examples list stays short.
  if (seen > 0 || c.examples.length >= MAX_REPORTED) return;
  const what = sent ? `\n  mutations: ${sent.draft.notes.join('; ') || '(none)'}\n${showWire(sent.wire)}\n${showResponse(sent.response)}` : '';
  c.examples.push(`${why}${what}`);
}

/** Every status an error code of the contract maps to (a HEAD answer shows only its status). */
const contractStatuses = new Set(Object.values(CONTRACT_CODES));

/** Timeouts by method and family (a shape that keeps hanging is sent no more). */
const hangs = new Map<string, number>();

/** Family × status counts for the summary. */
const table = new Map<string, Map<string, number>>();
function countStatus(family: string, status: string): void {
  let row = table.get(family);
  if (!row) table.set(family, (row = new Map()));
  row.set(status, (row.get(status) ?? 0) + 1);
}

/** Checks one answer on its own: no 5xx, the error shape, and refusal of what is certainly invalid. */
function checkAnswer(sent: Sent, phase: string): void {
  const { draft: d, wire, response: r } = sent;
  countStatus(phase === 'main' ? d.family : `${phase}:${d.family}`, r.status === 0 ? (r.error?.kind ?? 'none') : String(r.status));
  if (r.status === 0) {
    if (r.error?.kind === 'unsendable') {
      check('unsendable (client refused to send; not counted)').checked++;
      return;
    }
    // A body over the limit may be cut off by the server's 413 before it is all written: not an error.
    const c = check('every request answered (no hang, no reset)');
    c.checked++;
    const oversized = (wire.body?.length ?? 0) > 1024 * 1024;
    if (r.error?.kind === 'timeout') hangs.set(`${wire.method} ${d.family}`, (hangs.get(`${wire.method} ${d.family}`) ?? 0) + 1);
    if (!(oversized && r.error?.kind === 'connection')) fail(c, `no answer (${phase})`, sent);
    return;
  }
  check('every request answered (no hang, no reset)').checked++;
  const no5xx = check('no status >= 500');
  no5xx.checked++;
  if (r.status >= 500) fail(no5xx, `${r.status} (${phase})`, sent);
  if (r.status >= 400) {
    const shape = check('error shape, contract code, code→status');
    shape.checked++;
    const problem =
      errorShapeProblem(wire.method, r) ??
      (wire.method.toUpperCase() === 'HEAD' && !contractStatuses.has(r.status) ? `status ${r.status} is no contract code's` : undefined);
    if (problem) fail(shape, `${problem} (${phase})`, sent);
    if (r.status === 429 || codeOf(r) === 'RATE_LIMITED') {
      const c = check('429 carries Retry-After (seconds)');
      c.checked++;
      if (!/^\d+$/.test(String(r.headers['retry-after'] ?? ''))) fail(c, `Retry-After is ${JSON.stringify(r.headers['retry-after'])}`, sent);
    }
  }
  // A raw path may lead anywhere (a page, a route without a token): only the routed shape is judged.
  const why = d.rawPath === undefined ? mustRefuse(d) : undefined;
  if (why) {
    const c = check('certainly invalid requests refused');
    c.checked++;
    if (r.status < 400) fail(c, `accepted (${r.status}) although ${why} (${phase})`, sent);
  }
}

/** A 2xx that may have changed state (everything but reads and a join that returned a live token). */
function mayHaveChanged(sent: Sent): boolean {
  const { response: r, wire, draft: d } = sent;
  if (r.status < 200 || r.status >= 300) return false;
  if (['GET', 'HEAD', 'OPTIONS'].includes(wire.method.toUpperCase())) return false;
  if (d.family === 'join' && r.status === 200) return false;
  return true;
}

// ---- the server and the world the requests are built from ----------------------------------------

interface Token {
  token: string;
  userId: string;
  line: 'general' | 'open-sale' | 'prequeue-sale';
  status: 'WAITING' | 'ACTIVE' | 'EXPIRED';
}

interface World {
  origin: URL;
  /** Carries the mutated requests. */
  agent: http.Agent;
  /** Carries the harness's own calls. */
  harness: http.Agent;
  db: Kysely<DB>;
  assertionKey: Uint8Array;
  botCheck: boolean;
  users: string[];
  spareUsers: string[];
  tokens: Token[];
  expiredTokens: Token[];
  general: { concertId: string; dates: string[] };
  saleConcerts: Array<{ concertId: string; dates: string[] }>;
  sales: { open: string; prequeue: string; scheduled: string };
  saleTimes: Map<string, { queueOpensAt: string; opensAt: string; closesAt: string | null }>;
  heldReservation?: { reservationId: string; userId: string };
  otherReservations: string[];
  chargeKey: { userId: string; key: string; amount: number };
  usedProofs: string[];
  staleProofs: Array<{ proof: string; at: number }>;
  /** Solved ahead of a batch, so the joins of the batch need not wait for a challenge each. */
  proofPool: string[];
}

/**
 * One of the harness's own calls (seeding, fingerprints, token refreshes): on sockets of their own, so
 * that nothing a mutated request does to a connection can touch them, and tried again when no answer
 * came back.
 */
async function call(
  world: Pick<World, 'origin' | 'harness'>,
  method: string,
  path: string,
  body?: unknown,
  headers: Array<[string, string]> = [],
): Promise<{ status: number; json: any; text: string; response: WireResponse }> {
  const hs: Array<[string, string]> = [...headers];
  if (body !== undefined) hs.push(['content-type', 'application/json']);
  const wire = { method, path, headers: hs, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) };
  let response = await sendWire(world.origin, world.harness, wire, TIMEOUT_MS);
  for (let attempt = 0; attempt < 2 && response.status === 0; attempt++) response = await sendWire(world.origin, world.harness, wire, TIMEOUT_MS);
  let json: any;
  try {
    json = JSON.parse(response.text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text: response.text, response };
}

const admin = (): Array<[string, string]> => [['x-admin-key', ADMIN_KEY]];

async function expectOk(what: string, p: Promise<{ status: number; text: string; json: any }>): Promise<any> {
  const r = await p;
  if (r.status < 200 || r.status >= 300) throw new Error(`seeding: ${what} answered ${r.status} ${r.text.slice(0, 300)}`);
  return r.json;
}

async function assertion(
  world: Pick<World, 'assertionKey'>,
  sub: string,
  options: { audience?: string | null; expires?: string | number; key?: Uint8Array; alg?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setSubject(sub)
    .setIssuedAt();
  if (options.audience !== null) jwt = jwt.setAudience(options.audience ?? AUDIENCE);
  jwt = jwt.setExpirationTime(options.expires ?? '5m');
  return jwt.sign(options.key ?? world.assertionKey);
}

/** A solved proof from the server's challenge, or undefined when it offers none. */
async function freshProof(world: World): Promise<string | undefined> {
  const r = await call(world, 'GET', '/api/v1/challenge');
  const c = check('GET /api/v1/challenge answers 200 with a challenge (BOT_CHECK=pow)');
  c.checked++;
  if (r.status !== 200 || typeof r.json?.challenge !== 'string' || typeof r.json?.salt !== 'string') {
    if (c.failed === 0) fail(c, `answered ${r.status} ${r.text.slice(0, 200)}`);
    else c.failed++;
    return undefined;
  }
  const { algorithm, challenge, salt, signature, maxnumber } = r.json as {
    algorithm: string;
    challenge: string;
    salt: string;
    signature: string;
    maxnumber?: number;
  };
  const number = solveChallenge(challenge, salt, algorithm, maxnumber ?? 1_000_000);
  if (number === undefined) throw new Error(`could not solve the server's challenge ${r.text.slice(0, 200)}`);
  return Buffer.from(JSON.stringify({ algorithm, challenge, number, salt, signature })).toString('base64');
}

/**
 * ALTCHA's proof of work (v1): the number n in [0, max] with hex(hash(salt + n)) = challenge. Solved
 * synchronously here, which is many times quicker than altcha-lib's WebCrypto loop for a fuzzer that
 * needs thousands of proofs.
 */
function solveChallenge(challenge: string, salt: string, algorithm: string, max: number): number | undefined {
  const hash = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' }[algorithm];
  if (!hash) return undefined;
  for (let n = 0; n <= max; n++) {
    if (
      createHash(hash)
        .update(salt + n)
        .digest('hex') === challenge
    )
      return n;
  }
  return undefined;
}

async function join(world: World, userId: string, saleId?: string): Promise<{ status: number; json: any; text: string }> {
  const proof = world.botCheck ? await freshProof(world) : undefined;
  const body = { userId, ...(saleId ? { saleId } : {}), ...(proof ? { proof } : {}) };
  const r = await call(world, 'POST', '/api/v1/queue/tokens', body, [['authorization', `Bearer ${await assertion(world, userId)}`]]);
  if (proof && r.status < 300) world.usedProofs.push(proof);
  return r;
}

async function startServer(env: Record<string, string>) {
  const backing: Record<string, string> = {};
  if (settings.postgres) backing['DATABASE_URL'] = await throwawayDatabase('fuzz');
  if (settings.redis) {
    const r = throwawayRedisPrefix('fuzz');
    backing['REDIS_URL'] = r.url;
    backing['REDIS_PREFIX'] = r.prefix;
  }
  const config = loadConfig({
    ...backing,
    DATA_DIR: 'memory://',
    PORT: '0',
    ADMIN_KEY,
    TOKEN_SECRET: randomBytes(24).toString('base64url'),
    USER_AUTH_SECRET,
    USER_AUTH_AUDIENCE: AUDIENCE,
    BOT_CHECK: 'pow',
    BOT_CHECK_COST: '1000',
    BOT_CHECK_EXPIRES_SECONDS: '10',
    TRUST_PROXY: 'true',
    SEED_DEMO: 'false',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
    ...env,
  });
  const { app, db } = await buildApp(config);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, db, origin: new URL(address) };
}

function futureIso(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

async function seed(world: World): Promise<void> {
  const { userIds } = await expectOk('POST /admin/v1/users/batch', call(world, 'POST', '/admin/v1/users/batch', { count: 80, namePrefix: 'fuzz' }, admin()));
  world.users = userIds;
  world.spareUsers = userIds.slice(20);
  const dates = ['2027-03-01', '2027-03-02'];
  const concert = async (title: string, seatCount: number, ds: string[]) =>
    (
      await expectOk(
        'POST /admin/v1/concerts',
        call(
          world,
          'POST',
          '/admin/v1/concerts',
          { title, venue: 'Fuzz Hall', dates: ds.map((date) => ({ date, startsAt: `${date}T19:00:00.000Z`, seatCount, price: 1000 })) },
          admin(),
        ),
      )
    ).concertId as string;
  world.general = { concertId: await concert('General night', 40, dates), dates };
  for (const title of ['Open sale', 'Pre-queue sale', 'Scheduled sale'])
    world.saleConcerts.push({ concertId: await concert(title, 10, ['2027-04-01']), dates: ['2027-04-01'] });
  const sale = async (concertId: string, queueOpensAt: string, opensAt: string) => {
    const s = await expectOk(
      'POST /admin/v1/sales',
      call(world, 'POST', '/admin/v1/sales', { concertId, queueOpensAt, opensAt, closesAt: null, activeLimit: 4 }, admin()),
    );
    world.saleTimes.set(s.saleId, { queueOpensAt: s.queueOpensAt, opensAt: s.opensAt, closesAt: s.closesAt });
    return s.saleId as string;
  };
  const day = 86_400_000;
  world.sales = {
    open: await sale(world.saleConcerts[0]!.concertId, futureIso(-120_000), futureIso(-60_000)),
    prequeue: await sale(world.saleConcerts[1]!.concertId, futureIso(-120_000), futureIso(30 * day)),
    scheduled: await sale(world.saleConcerts[2]!.concertId, futureIso(20 * day), futureIso(30 * day)),
  };

  // Is the bot check served? Without it, joins carry no proof (and the check above has failed).
  world.botCheck = (await freshProof(world)) !== undefined;
  for (let i = 0; i < 5 && world.botCheck; i++) world.staleProofs.push({ proof: (await freshProof(world))!, at: Date.now() });

  const lineUsers: Array<[Token['line'], string, string | undefined]> = [];
  for (let i = 0; i < GENERAL_ACTIVE_LIMIT + 4; i++) lineUsers.push(['general', userIds[i]!, undefined]);
  for (let i = 10; i < 13; i++) lineUsers.push(['open-sale', userIds[i]!, world.sales.open]);
  for (let i = 13; i < 16; i++) lineUsers.push(['prequeue-sale', userIds[i]!, world.sales.prequeue]);
  for (const [line, userId, saleId] of lineUsers) {
    const r = await join(world, userId, saleId);
    if (r.status !== 201) throw new Error(`seeding: join answered ${r.status} ${r.text.slice(0, 300)}`);
    world.tokens.push({ token: r.json.token, userId, line, status: r.json.status });
  }
  await refreshTokens(world);

  // A charge with a stored Idempotency-Key, a held seat with no money behind it, a paid one.
  const [a0, a1] = world.tokens.filter((t) => t.line === 'general' && t.status === 'ACTIVE');
  if (!a0 || !a1) throw new Error('seeding: fewer than two ACTIVE tokens in the general line');
  const bearer = (t: Token): Array<[string, string]> => [['authorization', `Bearer ${t.token}`]];
  world.chargeKey = { userId: a1.userId, key: 'seed-charge-1', amount: 5000 };
  await expectOk(
    'charge',
    call(world, 'POST', `/api/v1/users/${a1.userId}/points/charge`, { amount: 5000 }, [...bearer(a1), ['idempotency-key', 'seed-charge-1']]),
  );
  const hold = (t: Token, seatNumber: number, concertId = world.general.concertId, date = world.general.dates[0]) =>
    expectOk('hold', call(world, 'POST', '/api/v1/reservations', { userId: t.userId, concertId, date, seatNumber }, bearer(t)));
  const held = await hold(a0, 1);
  world.heldReservation = { reservationId: held.reservationId, userId: a0.userId };
  const paid = await hold(a1, 2);
  await expectOk(
    'payment',
    call(world, 'POST', '/api/v1/payments', { userId: a1.userId, reservationId: paid.reservationId }, [...bearer(a1), ['idempotency-key', 'seed-pay-1']]),
  );
  world.otherReservations.push(paid.reservationId);
  const saleActive = world.tokens.find((t) => t.line === 'open-sale' && t.status === 'ACTIVE');
  if (saleActive) world.otherReservations.push((await hold(saleActive, 1, world.saleConcerts[0]!.concertId, '2027-04-01')).reservationId);
  await settle(world);
  await refreshTokens(world);
  // The payer joins again: a live token for a user who also has an ended one.
  const again = await join(world, a1.userId);
  if (again.status < 300) world.tokens.push({ token: again.json.token, userId: a1.userId, line: 'general', status: again.json.status });
}

/** Reads each token's status; ended ones move to the expired list. Tops the general line's waiting fans up. */
async function refreshTokens(world: World): Promise<void> {
  const live: Token[] = [];
  const polls = await Promise.all(world.tokens.map((t) => call(world, 'GET', '/api/v1/queue/tokens/me', undefined, [['authorization', `Bearer ${t.token}`]])));
  world.tokens.forEach((t, i) => {
    const r = polls[i]!;
    if (r.status === 200 && (r.json.status === 'ACTIVE' || r.json.status === 'WAITING')) live.push({ ...t, status: r.json.status });
    else world.expiredTokens.push({ ...t, status: 'EXPIRED' });
  });
  world.tokens = live;
  if (world.expiredTokens.length > 40) world.expiredTokens.splice(0, world.expiredTokens.length - 40);
  const waiting = live.filter((t) => t.line === 'general' && t.status === 'WAITING').length;
  for (let i = waiting; i < 3 && world.spareUsers.length > 0; i++) {
    const userId = world.spareUsers.shift()!;
    const r = await join(world, userId);
    if (r.status < 300) world.tokens.push({ token: r.json.token, userId, line: 'general', status: r.json.status });
  }
}

/** The operator settings the run keeps; a mutation that changed them is undone after its batch. */
async function restoreSettings(world: World): Promise<void> {
  const q = await call(world, 'GET', '/admin/v1/queue', undefined, admin());
  if (q.json?.activeLimit !== GENERAL_ACTIVE_LIMIT || q.json?.paused !== false) {
    await call(world, 'PATCH', '/admin/v1/queue', { activeLimit: GENERAL_ACTIVE_LIMIT, paused: false }, admin());
  }
  for (const [saleId, times] of world.saleTimes) {
    const s = await call(world, 'GET', `/admin/v1/sales/${saleId}`, undefined, admin());
    if (s.status !== 200) continue;
    const change: Record<string, unknown> = {};
    if (s.json.activeLimit !== 4) change['activeLimit'] = 4;
    if (s.json.paused !== false) change['paused'] = false;
    const now = Date.now();
    for (const field of ['queueOpensAt', 'opensAt', 'closesAt'] as const) {
      const current = s.json[field] as string | null;
      if (current !== times[field] && (current === null || Date.parse(current) > now) && (times[field] === null || Date.parse(times[field]!) > now))
        change[field] = times[field];
    }
    if (Object.keys(change).length > 0) await call(world, 'PATCH', `/admin/v1/sales/${saleId}`, change, admin());
  }
}

async function fingerprint(world: World): Promise<Fingerprint> {
  const [database, q, sales, places] = await Promise.all([
    databaseFingerprint(world.db),
    call(world, 'GET', '/admin/v1/queue', undefined, admin()),
    call(world, 'GET', '/admin/v1/sales', undefined, admin()),
    // Who stands where: each known fan's status and place (a poll changes neither).
    Promise.all(world.tokens.map((t) => call(world, 'GET', '/api/v1/queue/tokens/me', undefined, [['authorization', `Bearer ${t.token}`]]))),
  ]);
  if (q.status !== 200 || sales.status !== 200) throw new Error(`fingerprint: admin API answered ${q.status}/${sales.status}`);
  const queue: Record<string, string> = { general: lineFingerprint(q.json, ['waiting', 'active', 'activeLimit', 'paused']) };
  world.tokens.forEach((t, i) => {
    const r = places[i]!;
    queue[`fan ${t.userId.slice(0, 8)} (${t.line})`] = r.status === 200 ? `${r.json.status} at ${r.json.position}` : `${r.status} ${codeOf(r.response) ?? ''}`;
  });
  for (const s of sales.json.sales as Array<Record<string, unknown>>) {
    queue[`sale ${String(s['saleId']).slice(0, 8)}`] = lineFingerprint(s, [
      'phase',
      'waiting',
      'active',
      'activeLimit',
      'paused',
      'sold',
      'held',
      'free',
      'seatsLeft',
      'maxSeatsPerUser',
      'queueOpensAt',
      'opensAt',
      'closesAt',
    ]);
  }
  return { database, queue };
}

/** Waits until the state stops moving (admissions after a payment, say): two equal readings in a row. */
async function settle(world: World): Promise<Fingerprint> {
  let last = await fingerprint(world);
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 150));
    const next = await fingerprint(world);
    if (fingerprintDiff(last, next).length === 0) return next;
    last = next;
  }
  return last;
}

// ---- request families ------------------------------------------------------------------------------

type Mutator = [number, (rng: Rng, d: Draft) => void | Promise<void>];

interface Family {
  name: string;
  weight: number;
  build(rng: Rng, world: World): Promise<Draft>;
  /** Mutations that know the family's credentials and ids, beside the generic ones. */
  mutators(world: World): Mutator[];
  hasBody?: boolean;
}

function tokensWhere(world: World, pred: (t: Token) => boolean): Token[] {
  const found = world.tokens.filter(pred);
  return found.length > 0 ? found : world.tokens;
}

function bearer(t: Token): Array<[string, string]> {
  return [['authorization', `Bearer ${t.token}`]];
}

/** The token of a `Bearer <token>` header as the server reads it, else the header's whole value. */
function bearerOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return /^Bearer[ ]+(\S+)\s*$/i.exec(value)?.[1] ?? value;
}

/** Queue-token mutations for routes that take one (in the header, or `?token=` on the stream). */
function tokenMutators(world: World, options: { userBound?: boolean; needsActive?: boolean; expiredRefused?: boolean } = {}): Mutator[] {
  const others = () => [...world.tokens, ...world.expiredTokens].map((t) => t.token);
  // The server reads the header first; the query's token counts only without one.
  const inQuery = (d: Draft) => (header(d, 'authorization') === undefined ? d.query.findIndex(([k]) => k === 'token') : -1);
  return [
    [
      4,
      (rng, d) => {
        const qi = inQuery(d);
        const current = qi >= 0 ? d.query[qi]![1] : bearerOf(header(d, 'authorization'));
        if (!current) return;
        const m = mutateQueueToken(rng, current, others());
        if (qi >= 0) d.query[qi] = ['token', m.value];
        else {
          setHeader(d, 'authorization', `Bearer ${m.value}`);
          unrefuse(d, 'authorization');
        }
        d.notes.push(`token: ${m.what}`);
        // Trailing whitespace is trimmed by the header rules, so it does not alter the token; two edits
        // may also land on a genuine token again (another token's MAC, then the first one's back).
        const genuine = world.tokens.some((t) => t.token === m.value.trim());
        if (m.altered && m.value.trim() !== current && !genuine) refuse(d, 'token', `the queue token was altered (${m.what})`);
        else if (genuine) unrefuse(d, 'token');
      },
    ],
    [
      2,
      (rng, d) => {
        const token = bearerOf(header(d, 'authorization'));
        if (!token) return;
        const v = authorizationVariant(rng, token);
        setHeader(d, 'authorization', v.value);
        d.notes.push(`authorization: ${v.what}`);
        if (v.refused && inQuery(d) < 0) refuse(d, 'authorization', `Authorization is not "Bearer <token>" (${v.what})`);
        else unrefuse(d, 'authorization');
      },
    ],
    [
      2,
      (rng, d) => {
        const kind = rng.int(options.needsActive ? 3 : 2);
        // The whole token is replaced: whatever was wrong with the old one no longer counts.
        unrefuse(d, 'token');
        unrefuse(d, 'authorization');
        let t: Token | undefined;
        if (kind === 0) {
          t = rng.pick(world.tokens);
          d.notes.push(`token: another live token (${t.line}, ${t.status})`);
        } else if (kind === 1 && world.expiredTokens.length > 0) {
          t = rng.pick(world.expiredTokens);
          d.notes.push('token: an ended token');
          if (options.expiredRefused !== false) refuse(d, 'token', 'the token has ended');
        } else {
          // A pre-queue's tokens stay WAITING for the whole run (its sale opens in a month).
          t = rng.pick(tokensWhere(world, (x) => x.line === 'prequeue-sale'));
          d.notes.push(`token: a pre-queue token (${t.status})`);
          if (options.needsActive && t.line === 'prequeue-sale' && t.status === 'WAITING')
            refuse(d, 'token', 'a WAITING token on an endpoint that needs ACTIVE');
        }
        if (options.userBound && d.boundUser && t.userId !== d.boundUser) refuse(d, 'token', 'the token names another user than the path or body');
        const qi = inQuery(d);
        if (qi >= 0) d.query[qi] = ['token', t.token];
        else setHeader(d, 'authorization', `Bearer ${t.token}`);
      },
    ],
  ];
}

function idMutator(weight: number, where: 'segment' | 'body', key: string | number, what: string): Mutator {
  return [
    weight,
    (rng, d) => {
      if (where === 'segment') {
        const i = key as number;
        const current = d.segments[i];
        if (current === undefined) return;
        const v = uuidVariant(rng, current);
        d.segments[i] = v.value;
        d.notes.push(`${what}: ${v.what}`);
      } else if (d.json && typeof d.json === 'object' && d.raw === undefined) {
        const obj = d.json as Record<string, unknown>;
        const v = uuidVariant(rng, String(obj[key as string] ?? rng.uuid()));
        obj[key as string] = v.value;
        d.notes.push(`${what}: ${v.what}`);
      }
    },
  ];
}

function adminKeyMutator(): Mutator {
  return [
    4,
    (rng, d) => {
      const kind = rng.int(7);
      if (kind === 0) {
        setHeader(d, 'x-admin-key', undefined);
        d.notes.push('x-admin-key removed');
        refuse(d, 'adminKey', 'X-Admin-Key is missing');
      } else if (kind === 1) {
        d.headers = d.headers.map(([n, v]) => (n === 'x-admin-key' ? ['X-ADMIN-KEY', v] : [n, v]));
        d.notes.push('x-admin-key name uppercased');
      } else if (kind === 2) {
        d.headers.push(['x-admin-key', 'wrong-key-0123456789']);
        d.notes.push('second x-admin-key header');
      } else if (kind === 3) {
        setHeader(d, 'authorization', `Bearer ${ADMIN_KEY}`);
        setHeader(d, 'x-admin-key', undefined);
        d.notes.push('admin key as a bearer token');
        refuse(d, 'adminKey', 'X-Admin-Key is missing');
      } else {
        const t = tweakString(rng, ADMIN_KEY);
        setHeader(d, 'x-admin-key', t.value);
        d.notes.push(`x-admin-key ${t.what}`);
        if (t.value.trim() !== ADMIN_KEY) refuse(d, 'adminKey', 'X-Admin-Key is wrong');
        else unrefuse(d, 'adminKey');
      }
    },
  ];
}

function idempotencyMutator(world: World): Mutator {
  return [
    2,
    (rng, d) => {
      const value = rng.pick(['', ' ', 'k'.repeat(129), 'k'.repeat(128), 'key\u007f', 'ключ', 'key\u00e9', world.chargeKey.key, 'seed-pay-1', junkString(rng)]);
      setHeader(d, 'idempotency-key', value.replace(/[\u0100-\uffff]/g, '?'));
      if (rng.chance(0.2)) d.headers.push(['idempotency-key', 'second']);
      d.notes.push(`idempotency-key ${JSON.stringify(value.slice(0, 30))}`);
    },
  ];
}

function bodyField(key: string, values: (rng: Rng) => unknown, weight = 2): Mutator {
  return [
    weight,
    (rng, d) => {
      if (!d.json || typeof d.json !== 'object' || d.raw !== undefined) return;
      const v = values(rng);
      (d.json as Record<string, unknown>)[key] = v;
      d.notes.push(`${key} = ${JSON.stringify(v)?.slice(0, 40)}`);
    },
  ];
}

const amounts = (rng: Rng) => rng.pick<unknown>([0, -1, 10_000_001, 1.5, 1e308, '100', null, 2 ** 53, -(2 ** 31), 1, 10_000_000, [100], { amount: 1 }]);

function families(): Family[] {
  return [
    {
      name: 'join',
      weight: 12,
      hasBody: true,
      async build(rng, world) {
        const kind = rng.int(20);
        let userId: string;
        let saleId: string | undefined;
        if (kind < 16) {
          const t = rng.pick(world.tokens);
          userId = t.userId;
          if (t.line === 'open-sale') saleId = world.sales.open;
          if (t.line === 'prequeue-sale') saleId = world.sales.prequeue;
        } else if (kind < 17) {
          userId = world.spareUsers.length > 0 ? rng.pick(world.spareUsers) : rng.pick(world.users);
        } else {
          userId = rng.pick(world.users);
          saleId = rng.pick([world.sales.scheduled, world.sales.prequeue, world.sales.open]);
        }
        const proof = world.botCheck ? (world.proofPool.pop() ?? (await freshProof(world))) : undefined;
        const d = draft('join', 'POST', '/api/v1/queue/tokens', {
          json: { userId, ...(saleId ? { saleId } : {}), ...(proof ? { proof } : {}) },
          headers: [['authorization', `Bearer ${await assertion(world, userId)}`]],
        });
        if (rng.chance(0.5)) d.headers.push(['x-forwarded-for', `198.51.100.${rng.int(256)}`]);
        return d;
      },
      mutators(world) {
        const assertionMutator = async (rng: Rng, d: Draft) => {
          const body = (d.json ?? {}) as Record<string, unknown>;
          const sub = typeof body['userId'] === 'string' ? (body['userId'] as string) : rng.uuid();
          const kind = rng.int(13);
          let value: string | undefined;
          let what: string;
          let refused = true;
          switch (kind) {
            case 0:
              value = await assertion(world, sub, { key: randomBytes(32) });
              what = 'signed with another key';
              break;
            case 1: {
              const [, payload] = (await assertion(world, sub)).split('.');
              value = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
              what = 'alg none';
              break;
            }
            case 2:
              value = await assertion(world, sub, { expires: Math.floor(Date.now() / 1000) - 3600 });
              what = 'expired';
              break;
            case 3:
              value = await assertion(world, rng.pick(world.users.filter((u) => u !== sub)));
              what = 'sub is another user';
              break;
            case 4:
              value = await assertion(world, sub, { audience: 'someone-else' });
              what = 'wrong aud';
              break;
            case 5:
              value = await assertion(world, sub, { audience: null });
              what = 'no aud';
              break;
            case 6: {
              const jwt = await assertion(world, sub);
              const t = tweakString(rng, jwt.slice(jwt.lastIndexOf('.') + 1));
              value = jwt.slice(0, jwt.lastIndexOf('.') + 1) + t.value;
              what = `signature ${t.what}`;
              refused = t.value !== jwt.slice(jwt.lastIndexOf('.') + 1);
              break;
            }
            case 7: {
              const jwt = await assertion(world, sub);
              const [h, , s] = jwt.split('.');
              const forged = Buffer.from(
                JSON.stringify({ sub: rng.pick(world.users), aud: AUDIENCE, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 }),
              ).toString('base64url');
              value = `${h}.${forged}.${s}`;
              what = 'payload swapped under the signature';
              break;
            }
            case 8:
              value = undefined;
              what = 'missing';
              break;
            case 9:
              value = junkString(rng).replace(/[^\u0020-\u00ff]/g, '?');
              what = 'garbage';
              break;
            case 10: {
              const t = rng.pick(world.tokens);
              value = t.token;
              what = 'a queue token instead';
              break;
            }
            case 11:
              value = await new SignJWT({})
                .setProtectedHeader({ alg: 'HS256' })
                .setSubject(sub)
                .setAudience(AUDIENCE)
                .setNotBefore('10m')
                .setExpirationTime('20m')
                .sign(world.assertionKey);
              what = 'not yet valid (nbf)';
              break;
            default: {
              const jwt = await assertion(world, sub);
              value = `${jwt}.${jwt.split('.')[2]}`;
              what = 'four segments';
            }
          }
          setHeader(d, 'authorization', value === undefined ? undefined : `${rng.chance(0.9) ? 'Bearer' : 'Basic'} ${value}`);
          d.notes.push(`user assertion: ${what}`);
          if (refused) refuse(d, 'assertion', `the user assertion is ${what}`);
          else unrefuse(d, 'assertion');
        };
        const proofMutator = (rng: Rng, d: Draft) => {
          const body = d.json as Record<string, unknown> | undefined;
          // Once the body is raw bytes, edits to its JSON no longer reach the wire.
          if (!body || typeof body !== 'object' || d.raw !== undefined) return;
          d.validProof ??= typeof body['proof'] === 'string' ? (body['proof'] as string) : undefined;
          const kind = rng.int(4);
          if (kind === 0) {
            delete body['proof'];
            d.notes.push('proof removed');
            refuse(d, 'proof', 'the proof is missing');
          } else if (kind === 1 && world.usedProofs.length > 0) {
            body['proof'] = rng.pick(world.usedProofs);
            d.notes.push('proof replayed');
            refuse(d, 'proof', 'the proof was used before');
          } else if (kind === 2 && world.staleProofs.some((p) => Date.now() - p.at > 11_000)) {
            body['proof'] = rng.pick(world.staleProofs.filter((p) => Date.now() - p.at > 11_000)).proof;
            d.notes.push('proof expired');
            refuse(d, 'proof', 'the proof has expired');
          } else {
            const m = mutateProof(rng, String(body['proof'] ?? ''));
            body['proof'] = m.value;
            d.notes.push(`proof: ${m.what}`);
            if (m.what !== 'proof re-encoded as base64url') refuse(d, 'proof', `the proof is wrong (${m.what})`);
          }
          // Two edits may undo each other (a string reversed twice).
          if (d.validProof !== undefined && body['proof'] === d.validProof) unrefuse(d, 'proof');
        };
        return [
          [5, assertionMutator],
          [world.botCheck ? 4 : 0, proofMutator],
          idMutator(2, 'body', 'userId', 'userId'),
          idMutator(1, 'body', 'saleId', 'saleId'),
        ];
      },
    },
    {
      name: 'challenge',
      weight: 2,
      async build() {
        return draft('challenge', 'GET', '/api/v1/challenge');
      },
      mutators: () => [],
    },
    {
      name: 'poll',
      weight: 6,
      async build(rng, world) {
        return draft('poll', 'GET', '/api/v1/queue/tokens/me', { headers: bearer(rng.pick(world.tokens)) });
      },
      mutators: (world) => tokenMutators(world),
    },
    {
      name: 'stream',
      weight: 3,
      async build(rng, world) {
        const t = rng.pick(world.tokens);
        return rng.chance(0.5)
          ? draft('stream', 'GET', `/api/v1/queue/tokens/me/events?token=${encodeURIComponent(t.token)}`)
          : draft('stream', 'GET', '/api/v1/queue/tokens/me/events', { headers: bearer(t) });
      },
      mutators: (world) => tokenMutators(world),
    },
    {
      name: 'concerts',
      weight: 6,
      async build(rng, world) {
        const t = rng.pick(tokensWhere(world, (x) => x.status === 'ACTIVE'));
        const c = rng.chance(0.8) ? world.general : rng.pick(world.saleConcerts);
        const path = rng.pick([
          `/api/v1/concerts`,
          `/api/v1/concerts/${c.concertId}/dates`,
          `/api/v1/concerts/${c.concertId}/dates/${rng.pick(c.dates)}/seats`,
        ]);
        return draft('concerts', 'GET', path, { headers: bearer(t) });
      },
      mutators: (world) => [
        ...tokenMutators(world, { needsActive: true }),
        idMutator(2, 'segment', 3, 'concertId'),
        [
          2,
          (rng, d) => {
            if (d.segments.length < 6) return;
            const v = dateVariant(rng, d.segments[5]!);
            d.segments[5] = v.value;
            d.notes.push(v.what);
          },
        ],
      ],
    },
    {
      name: 'hold',
      weight: 7,
      hasBody: true,
      async build(rng, world) {
        const t = rng.pick(tokensWhere(world, (x) => x.status === 'ACTIVE' && x.line === 'general'));
        // Mostly the held or sold seats, so that a mutation which stays valid rarely takes a seat.
        const seatNumber = rng.chance(0.85) ? rng.pick([1, 2]) : rng.range(3, 40);
        return {
          ...draft('hold', 'POST', '/api/v1/reservations', {
            json: { userId: t.userId, concertId: world.general.concertId, date: world.general.dates[0], seatNumber },
            headers: bearer(t),
          }),
          boundUser: t.userId,
        };
      },
      mutators: (world) => [
        ...tokenMutators(world, { userBound: true, needsActive: true }),
        idMutator(2, 'body', 'userId', 'userId'),
        idMutator(2, 'body', 'concertId', 'concertId'),
        bodyField('seatNumber', (rng) => rng.pick<unknown>([0, -1, 41, 1_000_001, 1.5, '1', null, 2 ** 53, 1e308, [1]])),
        bodyField('date', (rng) => dateVariant(rng, '2027-03-01').value),
        bodyField('concertId', (rng) => rng.pick(world.saleConcerts).concertId, 1),
      ],
    },
    {
      name: 'reservation',
      weight: 3,
      async build(rng, world) {
        const id = rng.pick([world.heldReservation?.reservationId ?? rng.uuid(), ...world.otherReservations]);
        const t = rng.pick(tokensWhere(world, (x) => x.status === 'ACTIVE'));
        return draft('reservation', 'GET', `/api/v1/reservations/${id}`, { headers: bearer(t) });
      },
      mutators: (world) => [...tokenMutators(world, { needsActive: true }), idMutator(3, 'segment', 3, 'reservationId')],
    },
    {
      name: 'balance',
      weight: 4,
      async build(rng, world) {
        const t = rng.pick(world.tokens);
        return { ...draft('balance', 'GET', `/api/v1/users/${t.userId}/points`, { headers: bearer(t) }), boundUser: t.userId };
      },
      mutators: (world) => [...tokenMutators(world, { userBound: true }), idMutator(3, 'segment', 3, 'userId')],
    },
    {
      name: 'charge',
      weight: 5,
      hasBody: true,
      async build(rng, world) {
        const owner = world.tokens.find((t) => t.userId === world.chargeKey.userId);
        const t = owner && rng.chance(0.6) ? owner : rng.pick(world.tokens);
        const replay = t.userId === world.chargeKey.userId;
        const d = draft('charge', 'POST', `/api/v1/users/${t.userId}/points/charge`, {
          json: { amount: replay ? world.chargeKey.amount : rng.pick([100, 1000]) },
          headers: [...bearer(t), ['idempotency-key', replay ? world.chargeKey.key : `fuzz-${rng.u32()}`]],
        });
        return { ...d, boundUser: t.userId };
      },
      mutators: (world) => [
        ...tokenMutators(world, { userBound: true }),
        idMutator(2, 'segment', 3, 'userId'),
        bodyField('amount', amounts, 4),
        idempotencyMutator(world),
      ],
    },
    {
      name: 'payment',
      weight: 5,
      hasBody: true,
      async build(rng, world) {
        const held = world.heldReservation;
        const owner = held && world.tokens.find((t) => t.userId === held.userId);
        const t = owner ?? rng.pick(world.tokens);
        const reservationId = held && rng.chance(0.7) ? held.reservationId : rng.pick(world.otherReservations);
        const headers = bearer(t);
        if (rng.chance(0.5)) headers.push(['idempotency-key', rng.pick(['seed-pay-1', `pay-${rng.u32()}`])]);
        return { ...draft('payment', 'POST', '/api/v1/payments', { json: { userId: t.userId, reservationId }, headers }), boundUser: t.userId };
      },
      mutators: (world) => [
        // An ended token may still fetch a payment's first answer by its Idempotency-Key.
        ...tokenMutators(world, { userBound: true, needsActive: false, expiredRefused: false }),
        idMutator(2, 'body', 'userId', 'userId'),
        idMutator(3, 'body', 'reservationId', 'reservationId'),
        idempotencyMutator(world),
      ],
    },
    {
      name: 'sales',
      weight: 3,
      async build(rng, world) {
        const id = rng.pick([world.sales.open, world.sales.prequeue, world.sales.scheduled]);
        return draft('sales', 'GET', rng.pick(['/api/v1/sales', `/api/v1/sales/${id}`, `/api/v1/sales/${id}/draw`]));
      },
      mutators: () => [idMutator(3, 'segment', 3, 'saleId')],
    },
    {
      name: 'admin',
      weight: 6,
      hasBody: true,
      async build(rng, world) {
        const saleId = rng.pick([world.sales.open, world.sales.prequeue, world.sales.scheduled]);
        const sc = rng.pick(world.saleConcerts);
        const far = (days: number) => futureIso(days * 86_400_000);
        const choice = rng.int(10);
        const h = admin();
        switch (choice) {
          case 0:
            return draft('admin', 'GET', '/admin/v1/queue', { headers: h });
          case 1:
            return draft('admin', 'PATCH', '/admin/v1/queue', { headers: h, json: rng.pick([{ activeLimit: GENERAL_ACTIVE_LIMIT }, { paused: false }, {}]) });
          case 2:
            return draft('admin', 'POST', '/admin/v1/users', { headers: h, json: { name: 'fuzz user' } });
          case 3:
            return draft('admin', 'POST', '/admin/v1/users/batch', { headers: h, json: { count: 2, namePrefix: 'fz' } });
          case 4:
            return draft('admin', 'POST', '/admin/v1/concerts', {
              headers: h,
              json: { title: 'Fuzz', venue: 'Hall', dates: [{ date: '2027-05-01', startsAt: '2027-05-01T19:00:00.000Z', seatCount: 2, price: 10 }] },
            });
          case 5:
            return draft('admin', 'GET', '/admin/v1/sales', { headers: h });
          case 6:
            return draft('admin', 'GET', `/admin/v1/sales/${saleId}`, { headers: h });
          case 7:
            // The concert already has a sale: 409 SALE_EXISTS unless a mutation breaks it first.
            return draft('admin', 'POST', '/admin/v1/sales', {
              headers: h,
              json: { concertId: sc.concertId, queueOpensAt: far(40), opensAt: far(41), closesAt: null },
            });
          default:
            // Only the open sale: its times have passed (409 SALE_STARTED), so no edit can open or move a
            // sale under the run; its limit and pause are put back after any batch that changed them.
            return draft('admin', 'PATCH', `/admin/v1/sales/${world.sales.open}`, {
              headers: h,
              json: rng.pick([{ activeLimit: 4 }, { paused: false }, { closesAt: null }]),
            });
        }
      },
      mutators: () => [
        adminKeyMutator(),
        bodyField('activeLimit', (rng) => rng.pick<unknown>([-1, 1_000_001, 1.5, '5', null, 2 ** 53])),
        bodyField('paused', (rng) => rng.pick<unknown>(['true', 1, null, 'yes'])),
        bodyField('count', (rng) => rng.pick<unknown>([0, 10_001, -1, '1', 1e308])),
        bodyField('dates', (rng) =>
          rng.pick<unknown>([
            [],
            null,
            [{ date: '2027-02-30', startsAt: 'x', price: -1 }],
            [{ date: '2027-05-01', startsAt: '2027-05-01T19:00:00Z', seatCount: 201, price: 1 }],
            Array.from({ length: 367 }, () => ({})),
          ]),
        ),
        bodyField('queueOpensAt', (rng) => rng.pick<unknown>(['yesterday', '2027-01-01', '2027-13-01T00:00:00Z', futureIso(-86_400_000), 0])),
        bodyField('opensAt', (rng) => rng.pick<unknown>(['2020-01-01T00:00:00Z', 'x', null, futureIso(-1000)])),
        bodyField('closesAt', (rng) => rng.pick<unknown>(['2020-01-01T00:00:00Z', 'never', 5])),
        idMutator(2, 'segment', 3, 'saleId'),
      ],
    },
    {
      name: 'service',
      weight: 4,
      async build(rng) {
        const path = rng.pick(['/healthz', '/readyz', '/openapi.json', '/docs', '/docs/json', '/', '/index.html', '/admin', '/favicon.ico']);
        return draft('service', 'GET', path);
      },
      mutators: () => [],
    },
    {
      name: 'junk',
      weight: 2,
      async build(rng) {
        const path = rng.pick([
          '/api/v1/nothing',
          '/api/v2/concerts',
          '/admin/v1/nothing',
          '/api',
          '/.env',
          '/wp-login.php',
          '/api/v1/queue',
          '/api/v1/users',
          '/api/v1/queue/tokens/me/events/x',
        ]);
        return draft('junk', rng.pick(['GET', 'POST', 'DELETE']), path);
      },
      mutators: () => [],
    },
  ];
}

const GENERIC: Mutator[] = [
  [2, mutatePath],
  [1, mutateQuery],
  [1, mutateMethod],
  [1.5, mutateHeaders],
];

async function generate(rng: Rng, world: World, fams: Family[], cache: Map<string, Mutator[]>): Promise<Draft> {
  const fam = rng.weighted(fams.map((f) => [f.weight, f] as const));
  const d = await fam.build(rng, world);
  let own = cache.get(fam.name);
  if (!own) cache.set(fam.name, (own = fam.mutators(world)));
  const pool: Mutator[] = [...own.filter(([w]) => w > 0), ...GENERIC, [fam.hasBody ? 1.5 : 0.3, mutateContentType], [fam.hasBody ? 4 : 0.5, mutateBody]];
  const count = rng.weighted([
    [6, 1],
    [3, 2],
    [1, 3],
  ] as const);
  for (let i = 0; i < count; i++) await rng.weighted(pool.map(([w, m]) => [w, m] as const))(rng, d);
  if (d.notes.length === 0) mutatePath(rng, d);
  // A request shape that has hung three times is a reported defect; more of them would only stall
  // every batch they land in for the whole timeout.
  if ((hangs.get(`${d.method} ${d.family}`) ?? 0) >= 3) {
    d.notes.push(`method ${d.method} → GET (this shape hung three times already)`);
    d.method = 'GET';
  }
  return d;
}

// ---- batches and the state check --------------------------------------------------------------------

/** Where the run's time goes, for the summary. */
const timing = { generate: 0, send: 0, fingerprint: 0, afterChange: 0 };

const stateCheck = {
  batches: 0,
  cleanBatches: 0,
  /** Refused requests covered by an unchanged fingerprint. */
  refusedChecked: 0,
  /** Refused requests sent again in a re-check batch after a batch with a 2xx that changed state. */
  rechecked: 0,
  /** Refused requests left unchecked (their re-checks kept containing state-changing 2xx). */
  excluded: 0,
  /** 2xx answers that may have changed state: excluded from the check by design. */
  mutating2xx: 0,
};

const closingAgent = new http.Agent({ keepAlive: false });

async function sendAll(world: World, drafts: Draft[], concurrency: number): Promise<Sent[]> {
  const out: Sent[] = new Array(drafts.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, drafts.length) }, async () => {
      while (next < drafts.length) {
        const i = next++;
        let wire: WireRequest;
        try {
          wire = toWire(drafts[i]!);
        } catch (err) {
          wire = { method: drafts[i]!.method, path: '(could not be written)', headers: [] };
          out[i] = {
            draft: drafts[i]!,
            wire,
            response: { status: 0, headers: {}, text: '', ms: 0, error: { kind: 'unsendable', message: (err as Error).message } },
          };
          continue;
        }
        // An answer to HEAD that carries a body anyway would leave bytes on a kept-alive socket, and a
        // method the server's parser does not know ends the connection after the answer: both go on a
        // connection of their own, so that the next request on a shared one is not broken by them.
        const method = wire.method.toUpperCase();
        const agent = method === 'HEAD' || !http.METHODS.includes(method) ? closingAgent : world.agent;
        out[i] = { draft: drafts[i]!, wire, response: await sendWire(world.origin, agent, wire, TIMEOUT_MS) };
      }
    }),
  );
  return out;
}

/** Sends one by one, each between two fingerprints: which request changed the state. */
async function bisect(world: World, sentBefore: Sent[], diff: string[], phase: string): Promise<void> {
  const c = check('no state change from a refused request');
  let found = 0;
  let base = await settle(world);
  for (const s of sentBefore) {
    const [again] = await sendAll(world, [s.draft], 1);
    checkAnswer(again!, `${phase}-bisect`);
    const after = await fingerprint(world);
    const d = fingerprintDiff(base, after);
    if (d.length > 0 && again!.response.status >= 400) {
      found++;
      fail(c, `a ${again!.response.status} changed: ${d.join('; ')}`, again!);
    }
    base = d.length > 0 ? await settle(world) : after;
  }
  if (found === 0) fail(c, `state changed during a batch with no state-changing 2xx, and no single request reproduces it: ${diff.join('; ')}`);
}

async function runBatch(world: World, drafts: Draft[], phase: string, round = 0): Promise<void> {
  let t = performance.now();
  const before = await fingerprint(world);
  timing.fingerprint += performance.now() - t;
  t = performance.now();
  const sent = await sendAll(world, drafts, settings.concurrency);
  timing.send += performance.now() - t;
  for (const s of sent) checkAnswer(s, phase);
  t = performance.now();
  const after = await fingerprint(world);
  timing.fingerprint += performance.now() - t;
  stateCheck.batches++;
  const changers = sent.filter(mayHaveChanged);
  const refused = sent.filter((s) => s.response.status >= 400);
  const c = check('no state change from a refused request');
  if (changers.length === 0) {
    const diff = fingerprintDiff(before, after);
    c.checked += refused.length;
    if (diff.length === 0) {
      stateCheck.cleanBatches++;
      stateCheck.refusedChecked += refused.length;
      if (round > 0) stateCheck.rechecked += refused.length;
      return;
    }
    await bisect(
      world,
      sent.filter((s) => s.response.status >= 300 || ['GET', 'HEAD'].includes(s.wire.method)),
      diff,
      phase,
    );
    await afterChange(world);
    return;
  }
  stateCheck.mutating2xx += changers.length;
  await afterChange(world);
  if (refused.length === 0) return;
  if (round >= 2) {
    stateCheck.excluded += refused.length;
    return;
  }
  // The batch's refused requests again, now without the 2xx that moved the state.
  await runBatch(
    world,
    refused.map((s) => s.draft),
    `${phase}-recheck`,
    round + 1,
  );
}

/** After a 2xx that changed state: undo operator changes, wait for admissions, refresh the tokens. */
async function afterChange(world: World): Promise<void> {
  const t = performance.now();
  await restoreSettings(world);
  await refreshTokens(world);
  const { rows } = await sql<{ id: string; user_id: string }>`
    select id, user_id from reservations where status = 'HELD' and concert_id = ${world.general.concertId} order by created_at limit 20`.execute(world.db);
  const live = rows.find((r) => world.tokens.some((t) => t.userId === r.user_id && t.status === 'ACTIVE'));
  if (live) world.heldReservation = { reservationId: live.id, userId: live.user_id };
  await settle(world);
  timing.afterChange += performance.now() - t;
}

// ---- the rate-limit phase ------------------------------------------------------------------------

async function ratePhase(): Promise<void> {
  // The contract's defaults: 30 joins/min per address, 60 holds/min per token, 600/min per address.
  const server = await startServer({});
  const world = {
    origin: server.origin,
    agent: new http.Agent({ keepAlive: true, maxSockets: 16 }),
    harness: new http.Agent({ keepAlive: true, maxSockets: 8 }),
    db: server.db,
    assertionKey: new TextEncoder().encode(USER_AUTH_SECRET),
  } as World;
  world.usedProofs = [];
  world.tokens = [];
  world.botCheck = true;
  const started = performance.now();
  try {
    const { userIds } = await expectOk(
      'POST /admin/v1/users/batch',
      call(world, 'POST', '/admin/v1/users/batch', { count: 3 }, [...admin(), ['x-forwarded-for', '192.0.2.1']]),
    );
    const { concertId } = await expectOk(
      'POST /admin/v1/concerts',
      call(
        world,
        'POST',
        '/admin/v1/concerts',
        { title: 'Rate night', venue: 'Hall', dates: [{ date: '2027-06-01', startsAt: '2027-06-01T19:00:00.000Z', seatCount: 5, price: 10 }] },
        [...admin(), ['x-forwarded-for', '192.0.2.1']],
      ),
    );
    const proof = await freshProof(world);
    world.botCheck = proof !== undefined;
    const joined = await call(world, 'POST', '/api/v1/queue/tokens', { userId: userIds[0], ...(proof ? { proof } : {}) }, [
      ['authorization', `Bearer ${await assertion(world, userIds[0])}`],
      ['x-forwarded-for', '192.0.2.2'],
    ]);
    if (joined.status !== 201) throw new Error(`rate phase: join answered ${joined.status} ${joined.text.slice(0, 200)}`);
    const token: string = joined.json.token;
    for (let i = 0; i < 40 && joined.json.status !== 'ACTIVE'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const p = await call(world, 'GET', '/api/v1/queue/tokens/me', undefined, [['authorization', `Bearer ${token}`]]);
      if (p.json?.status === 'ACTIVE') break;
    }
    const before = await fingerprint(world);

    const burst = async (what: string, n: number, limit: number, make: (i: number) => Draft, expectLimited: boolean) => {
      const drafts = Array.from({ length: n }, (_, i) => make(i));
      // One at a time, so the count the server keeps is the order they were sent in.
      const sent = await sendAll(world, drafts, 1);
      for (const s of sent) checkAnswer(s, 'rate');
      const c = check(`rate limit: ${what}`);
      c.checked++;
      const firstLimited = sent.findIndex((s) => s.response.status === 429);
      if (expectLimited && firstLimited < 0) fail(c, `no 429 in ${n} requests (limit ${limit}/min)`, sent[n - 1]);
      else if (expectLimited && firstLimited < limit) fail(c, `429 after only ${firstLimited} requests (limit ${limit}/min)`, sent[firstLimited]);
      else if (!expectLimited && firstLimited >= 0) fail(c, `429 on request ${firstLimited + 1} of ${n}, which the limits leave alone`, sent[firstLimited]);
      return sent;
    };
    const h = (ip: string, extra: Array<[string, string]> = []): Array<[string, string]> => [['x-forwarded-for', ip], ...extra];
    await burst(
      'joins per address (30/min)',
      36,
      30,
      () => draft('join', 'POST', '/api/v1/queue/tokens', { json: { userId: userIds[1] }, headers: h('203.0.113.10') }),
      true,
    );
    // Another address is counted apart.
    await burst(
      'joins from another address are counted apart',
      5,
      30,
      () => draft('join', 'POST', '/api/v1/queue/tokens', { json: { userId: userIds[1] }, headers: h('203.0.113.11') }),
      false,
    );
    await burst(
      'holds per token (60/min)',
      66,
      60,
      (i) =>
        draft('hold', 'POST', '/api/v1/reservations', {
          json: { userId: userIds[0], concertId, date: '2027-06-01', seatNumber: 999 },
          headers: h(`203.0.113.${20 + (i % 200)}`, [['authorization', `Bearer ${token}`]]),
        }),
      true,
    );
    await burst(
      'requests per address (600/min)',
      606,
      600,
      () => draft('concerts', 'GET', '/api/v1/concerts', { headers: h('203.0.113.250', [['authorization', `Bearer ${token}`]]) }),
      true,
    );
    await burst(
      'polls are not limited',
      650,
      600,
      () => draft('poll', 'GET', '/api/v1/queue/tokens/me', { headers: h('203.0.113.251', [['authorization', `Bearer ${token}`]]) }),
      false,
    );

    const after = await fingerprint(world);
    const diff = fingerprintDiff(before, after);
    const c = check('no state change from a refused request');
    c.checked++;
    if (diff.length > 0) fail(c, `the rate-limit phase (every answer a refusal or a read) changed: ${diff.join('; ')}`);
  } finally {
    world.agent.destroy();
    world.harness.destroy();
    await server.app.close();
  }
  console.log(`rate-limit phase: ${Math.round(performance.now() - started)} ms`);
}

// ---- main ------------------------------------------------------------------------------------------

function printSummary(durationMs: number, sentMain: number): void {
  const statuses = new Set<string>();
  for (const row of table.values()) for (const s of row.keys()) statuses.add(s);
  const cols = [...statuses].sort();
  const width = Math.max(...[...table.keys()].map((k) => k.length), 8);
  console.log(`\nrequests by endpoint family and status`);
  console.log(['family'.padEnd(width), ...cols.map((c) => c.padStart(7)), 'total'.padStart(8)].join(' '));
  const totals = new Map<string, number>();
  for (const [family, row] of [...table.entries()].sort()) {
    let total = 0;
    const cells = cols.map((c) => {
      const n = row.get(c) ?? 0;
      total += n;
      totals.set(c, (totals.get(c) ?? 0) + n);
      return (n ? String(n) : '').padStart(7);
    });
    console.log([family.padEnd(width), ...cells, String(total).padStart(8)].join(' '));
  }
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  console.log(['all'.padEnd(width), ...cols.map((c) => String(totals.get(c) ?? 0).padStart(7)), String(all).padStart(8)].join(' '));

  console.log(`\nchecks`);
  for (const c of checks.values()) {
    const verdict = c.name.startsWith('unsendable') ? 'info' : c.failed === 0 ? 'pass' : 'FAIL';
    console.log(`  ${verdict.padEnd(4)}  ${c.name}: ${c.checked} checked, ${c.failed} failed`);
  }
  console.log(
    `\nstate check: ${stateCheck.refusedChecked} refused requests covered by an unchanged fingerprint over ${stateCheck.cleanBatches} of ${stateCheck.batches} batches ` +
      `(${stateCheck.rechecked} of them sent again after a batch whose 2xx changed state); ${stateCheck.mutating2xx} state-changing 2xx excluded by design; ` +
      `${stateCheck.excluded} refused requests left unchecked`,
  );
  console.log(`main run: ${sentMain} mutated requests in ${(durationMs / 1000).toFixed(1)} s (${Math.round((sentMain / durationMs) * 1000)}/s)`);
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `  time: generating ${secs(timing.generate)}, sending ${secs(timing.send)}, fingerprints ${secs(timing.fingerprint)}, after a state-changing 2xx ${secs(timing.afterChange)}`,
  );
}

async function main(): Promise<void> {
  installExitHandlers();
  const started = performance.now();
  const backing = `${settings.postgres ? 'PostgreSQL' : 'embedded PGlite'}, ${settings.redis ? 'Redis queue' : 'in-process queue'}`;
  console.log(`fuzz: seed ${settings.seed}, ${settings.requests} requests, concurrency ${settings.concurrency}, batch ${settings.batch}, ${backing}`);
  console.log(
    `replay with: npm run fuzz -- --seed ${settings.seed} --requests ${settings.requests}${settings.postgres ? ' --postgres' : ''}${settings.redis ? ' --redis' : ''}`,
  );
  const rng = new Rng(settings.seed);
  const server = await startServer({
    RATE_LIMIT_PER_MINUTE: '1000000000',
    RATE_LIMIT_JOIN_PER_MINUTE: '1000000000',
    RATE_LIMIT_HOLD_PER_MINUTE: '1000000000',
    QUEUE_ACTIVE_LIMIT: String(GENERAL_ACTIVE_LIMIT),
    QUEUE_ACTIVE_TTL_SECONDS: '86400',
    QUEUE_WAITING_IDLE_SECONDS: '86400',
    QUEUE_TICK_MS: '50',
    RESERVATION_HOLD_SECONDS: '86400',
  });
  const world: World = {
    origin: server.origin,
    agent: new http.Agent({ keepAlive: true, maxSockets: settings.concurrency + 4, maxFreeSockets: settings.concurrency + 4 }),
    harness: new http.Agent({ keepAlive: true, maxSockets: 24, maxFreeSockets: 24 }),
    db: server.db,
    assertionKey: new TextEncoder().encode(USER_AUTH_SECRET),
    botCheck: false,
    users: [],
    spareUsers: [],
    tokens: [],
    expiredTokens: [],
    general: { concertId: '', dates: [] },
    saleConcerts: [],
    sales: { open: '', prequeue: '', scheduled: '' },
    saleTimes: new Map(),
    otherReservations: [],
    chargeKey: { userId: '', key: '', amount: 0 },
    usedProofs: [],
    staleProofs: [],
    proofPool: [],
  };
  let sentMain = 0;
  let mainMs = 0;
  try {
    await seed(world);
    console.log(
      `seeded: ${world.users.length} users, ${world.tokens.length} live tokens, bot check ${world.botCheck ? 'served' : 'NOT served'}; fuzzing ${server.origin.href}`,
    );
    const fams = families();
    const joinShare = fams.find((f) => f.name === 'join')!.weight / fams.reduce((a, f) => a + f.weight, 0);
    const cache = new Map<string, Mutator[]>();
    const mainStarted = performance.now();
    let lastReport = mainStarted;
    while (sentMain < settings.requests) {
      const n = Math.min(settings.batch, settings.requests - sentMain);
      const t0 = performance.now();
      if (world.botCheck) {
        // About as many as the batch's joins will take (the rest are fetched on demand).
        const want = Math.ceil(n * joinShare * 1.2) - world.proofPool.length;
        const fetched = await Promise.all(Array.from({ length: Math.max(0, want) }, () => freshProof(world)));
        for (const p of fetched) if (p) world.proofPool.push(p);
      }
      const drafts: Draft[] = [];
      for (let i = 0; i < n; i++) {
        // A mutation that throws is the fuzzer's bug: reported as a failed check, not the end of the run.
        const made = check('fuzzer built every request');
        made.checked++;
        try {
          drafts.push(await generate(rng, world, fams, cache));
        } catch (err) {
          fail(made, `building request ${sentMain + i} failed: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
        }
      }
      timing.generate += performance.now() - t0;
      await runBatch(world, drafts, 'main');
      sentMain += n;
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        const failed = [...checks.values()].filter((c) => !c.name.startsWith('unsendable')).reduce((a, c) => a + c.failed, 0);
        console.log(`  ${sentMain} sent, ${failed} check failures so far`);
      }
    }
    mainMs = performance.now() - mainStarted;
  } finally {
    world.agent.destroy();
    world.harness.destroy();
    await server.app.close();
  }
  if (settings.ratePhase) await ratePhase();

  printSummary(mainMs, sentMain);
  const failures = [...checks.values()].filter((c) => c.failed > 0 && !c.name.startsWith('unsendable'));
  for (const c of failures) {
    console.log(`\nFAILED: ${c.name}: ${c.failed} failures of ${c.kinds.size} kinds`);
    for (const [kind, n] of [...c.kinds.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${String(n).padStart(6)} × ${kind}`);
    console.log(`one request of each of the first ${c.examples.length} kinds:`);
    for (const e of c.examples) console.log(`- ${e}`);
  }
  console.log(
    `\nfuzz: ${failures.length === 0 ? 'all checks passed' : `${failures.length} check(s) failed`} in ${((performance.now() - started) / 1000).toFixed(1)} s (seed ${settings.seed})`,
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 2;
  })
  .finally(() => cleanUp());

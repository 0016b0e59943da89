// `npm run simulate -- --users 100000 --seats 500`: a whole sale against a real boxoffice. Virtual fans
// arrive in a burst, join the line, poll (or stream) as told, browse once admitted, race for seats, top
// up, pay, or give up along the way. Afterwards the database is audited for the invariants that must
// hold whatever the load: no seat sold twice, one payment per sale, balances equal to their ledger, no
// payment for a lapsed hold, admission in arrival order, never more ACTIVE than the limit.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql, type RawBuilder } from 'kysely';
import { openDatabase, type Database } from '../src/db/database.js';
import { adminClient, type IssuedToken, type QueueState } from './lib/admin.js';
import { parseFlags } from './lib/args.js';
import { errorCode, keepAliveAgent, requestJson, type JsonResponse } from './lib/http.js';
import { cleanUp, ensureBuilt, installExitHandlers, onCleanUp, repoRoot, startService } from './lib/service.js';
import { openSse, type SseStream } from './lib/sse.js';
import { formatInt, formatMs, LatencyLog, markdownTable, progressLine, textTable } from './lib/stats.js';

const USAGE = `usage: npm run simulate -- [flags]
  --users N            virtual fans (default 10000)
  --seats N            seats on sale, spread over dates of at most 200 (default 500)
  --postgres           a throwaway database on the local PostgreSQL (default: embedded PGlite)
  --redis              the Redis queue store (local Redis, a unique key prefix)
  --instances N        server processes (needs --redis and --postgres)
  --active-limit N     QUEUE_ACTIVE_LIMIT (default 100)
  --hold-seconds S     RESERVATION_HOLD_SECONDS (default 10)
  --think-ms MS        mean pause between a fan's steps once admitted (default 400)
  --join-sockets N     concurrent joins: how hard the burst arrives (default 48)
  --sockets N          concurrent requests of admitted and waiting fans (default 192)
  --sse-percent P      share of fans that stream instead of polling (default 3)
  --max-seconds S      give up (and fail) after this long (default 900)
  --seed N             random seed, to replay a run's choices
  --build              rebuild dist/ first (default: only when missing)
  --smoke              2,000 fans, 50 seats, short pauses: a CI check in seconds`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    booleans: ['postgres', 'redis', 'smoke', 'build'],
    numbers: ['users', 'seats', 'instances', 'active-limit', 'hold-seconds', 'think-ms', 'join-sockets', 'sockets', 'sse-percent', 'max-seconds', 'seed'],
  },
  USAGE,
);
const smoke = flags.bool('smoke');
const opts = {
  users: flags.num('users', smoke ? 2_000 : 10_000),
  seats: flags.num('seats', smoke ? 50 : 500),
  postgres: flags.bool('postgres'),
  redis: flags.bool('redis'),
  instances: flags.num('instances', 1),
  activeLimit: flags.num('active-limit', smoke ? 50 : 100),
  holdSeconds: flags.num('hold-seconds', smoke ? 5 : 10),
  thinkMs: flags.num('think-ms', smoke ? 30 : 400),
  joinSockets: flags.num('join-sockets', 48),
  sockets: flags.num('sockets', 192),
  ssePercent: flags.num('sse-percent', 3),
  maxSeconds: flags.num('max-seconds', smoke ? 120 : 900),
  seed: flags.num('seed', randomBytes(4).readUInt32BE(0)),
};

// Service timings: short, so a whole sale fits in minutes. The idle window is generous because a
// 2-core machine running the server and 100,000 fans delays polls; it caps pollAfterSeconds at idle/3.
const TIMINGS = {
  // A fan who leaves without paying keeps a slot until this ends; the smoke keeps that tail short.
  // It stays above the longest pollAfterSeconds (idle/3), or a fan could be admitted and lapse unseen.
  QUEUE_ACTIVE_TTL_SECONDS: smoke ? '12' : '30',
  QUEUE_WAITING_IDLE_SECONDS: smoke ? '30' : '60',
  QUEUE_TICK_MS: '100',
  RESERVATION_SWEEP_MS: '500',
};
const PRICE = 50_000;

/** Deterministic choices per run (mulberry32), so --seed replays the same crowd. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(opts.seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** How a fan behaves, decided at arrival. */
interface Persona {
  abandonQueue: boolean;
  streams: boolean;
  topUpWhileWaiting: boolean;
  /** Charges less than the price first, so the first payment is refused for the balance. */
  underCharges: boolean;
  abandonHold: boolean;
  /** Pays only after the hold lapsed: must be refused, and the audit proves no such payment exists. */
  paysLate: boolean;
  retriesPayment: boolean;
}

function persona(): Persona {
  return {
    abandonQueue: random() < 0.04,
    streams: random() * 100 < opts.ssePercent,
    topUpWhileWaiting: random() < 0.25,
    underCharges: random() < 0.1,
    abandonHold: random() < 0.07,
    paysLate: random() < 0.03,
    retriesPayment: random() < 0.1,
  };
}

type Outcome =
  | 'bought'
  | 'abandoned queue'
  | 'abandoned hold'
  | 'paid too late (refused)'
  | 'refused: sent in time, arrived late'
  | 'found no seat'
  | 'token expired while waiting'
  | 'token expired while active'
  | 'stopped at sell-out'
  | 'error';

/** What a fan saw of the line: the basis of the admission-order audit. */
interface FanLog {
  index: number;
  joinSentAt: number;
  joinReceivedAt: number;
  joinPosition: number;
  /** Latest time a request was sent whose answer said WAITING (polling fans and the join itself). */
  lastWaitingSentAt: number;
  /** When the fan first received an answer saying ACTIVE. */
  activeSeenAt: number;
  streams: boolean;
}

// ---- shared run state ----------------------------------------------------------------------------

const latency = new LatencyLog();
const outcomes = new Map<Outcome, number>();
const anomalies = new Map<string, number>();
const fans: FanLog[] = [];
const paymentIds = new Set<string>();
let stopping = false;
let soldAt = 0;
let joined = 0;
let admitted = 0;
let done = 0;
let sold = 0;
let errors = 0;
const sleepers = new Set<() => void>();
const streams = new Set<SseStream>();

function note(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** A sleep that ends early when the simulation stops. */
function sleep(ms: number): Promise<void> {
  if (stopping) return Promise.resolve();
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      sleepers.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    sleepers.add(wake);
  });
}

const think = () => sleep(opts.thinkMs * (0.5 + random()));

class Gate {
  private free: number;
  private readonly waiters: Array<(ok: boolean) => void> = [];
  constructor(slots: number) {
    this.free = slots;
  }
  acquire(): Promise<boolean> {
    if (stopping) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next(!stopping);
    else this.free++;
  }
  openAll(): void {
    for (const w of this.waiters.splice(0)) w(false);
  }
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  for (const wake of [...sleepers]) wake();
  for (const s of streams) s.close();
  joinGate.openAll();
}

// ---- one fan ---------------------------------------------------------------------------------------

let urls: string[] = [];
let rr = 0;
const nextUrl = () => urls[rr++ % urls.length]!;
const joinGate = new Gate(opts.joinSockets);
const joinAgent = keepAliveAgent(opts.joinSockets);
// Payments get sockets of their own, as each fan's browser would: queued behind thousands of polls in
// the shared pool, a payment made in time would reach the server late through the load generator's fault.
const payAgent = keepAliveAgent(32);
const agent = keepAliveAgent(opts.sockets);

async function call<T>(label: string, method: 'GET' | 'POST', route: string, token: string | undefined, body?: unknown, extra?: Record<string, string>): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...extra };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await requestJson<T>({ method, url: `${nextUrl()}${route}`, headers, body, agent: label === 'join' ? joinAgent : label === 'pay' ? payAgent : agent, timeoutMs: 30_000 });
    latency.record(label, res.receivedAt - res.sentAt, res.status);
    return res;
  } catch (err) {
    errors++;
    latency.record(`${label} (socket error)`, 0, 'error');
    throw err;
  }
}

interface Sale {
  concertId: string;
  totalSeats: number;
}

async function runFan(index: number, userId: string, sale: Sale): Promise<Outcome> {
  const me = persona();
  if (!(await joinGate.acquire())) return 'stopped at sell-out';
  let issued: JsonResponse<IssuedToken & { expiresAt: string }>;
  try {
    issued = await call('join', 'POST', '/api/v1/queue/tokens', undefined, { userId });
  } finally {
    joinGate.release();
  }
  if (issued.status !== 201) {
    note(anomalies, `join answered ${issued.status} ${errorCode(issued.body) ?? ''}`);
    return 'error';
  }
  joined++;
  const { token } = issued.body;
  const log: FanLog = {
    index,
    joinSentAt: issued.sentAt,
    joinReceivedAt: issued.receivedAt,
    joinPosition: issued.body.position,
    lastWaitingSentAt: issued.body.status === 'WAITING' ? issued.sentAt : -Infinity,
    activeSeenAt: issued.body.status === 'ACTIVE' ? issued.receivedAt : Infinity,
    streams: me.streams,
  };
  fans.push(log);

  let balance = 0;
  let charges = 0;
  let tokenEndedDuringCharge = false;
  /** False when refused; a token that ended meanwhile (ACTIVE time over) is an outcome, not an anomaly. */
  const charge = async (amount: number): Promise<boolean> => {
    const key = `sim-${index}-charge-${++charges}`;
    const res = await call<{ balance: number }>('charge', 'POST', `/api/v1/users/${userId}/points/charge`, token, { amount }, { 'idempotency-key': key });
    if (res.status !== 200) {
      if (res.status !== 401) note(anomalies, `charge answered ${res.status} ${errorCode(res.body) ?? ''}`);
      else tokenEndedDuringCharge = true;
      return false;
    }
    balance = res.body.balance;
    return true;
  };

  // ---- waiting ----
  if (me.topUpWhileWaiting && !stopping) await charge(me.underCharges ? PRICE / 2 : PRICE * (1 + Math.floor(random() * 2)));
  if (log.activeSeenAt === Infinity) {
    if (me.streams) {
      const result = await streamUntilActive(token, log);
      if (result !== 'active') return result;
    } else {
      let pollAfter = 1;
      let polls = me.abandonQueue ? Math.floor(random() * 3) : Infinity;
      for (;;) {
        if (polls-- <= 0) return 'abandoned queue';
        await sleep(pollAfter * 1000);
        if (stopping) return 'stopped at sell-out';
        const res = await call<{ status: string; pollAfterSeconds: number }>('poll', 'GET', '/api/v1/queue/tokens/me', token);
        if (res.status === 401) return 'token expired while waiting';
        if (res.status !== 200) {
          note(anomalies, `poll answered ${res.status} ${errorCode(res.body) ?? ''}`);
          return 'error';
        }
        if (res.body.status === 'ACTIVE') {
          log.activeSeenAt = res.receivedAt;
          break;
        }
        log.lastWaitingSentAt = res.sentAt;
        pollAfter = res.body.pollAfterSeconds;
      }
    }
  }
  admitted++;

  // ---- admitted: browse, race, pay ----
  const expiredWhileActive = (res: JsonResponse<unknown>) => res.status === 401 || errorCode(res.body) === 'TOKEN_NOT_ACTIVE';
  for (let attempt = 0; attempt < 6 && !stopping; attempt++) {
    await think();
    const dates = await call<{ dates: Array<{ date: string; availableSeats: number }> }>('dates', 'GET', `/api/v1/concerts/${sale.concertId}/dates`, token);
    if (expiredWhileActive(dates)) return 'token expired while active';
    if (dates.status !== 200) return anomaly(`dates answered ${dates.status}`);
    if (dates.body.dates.length === 0) return 'found no seat';
    const date = pick(dates.body.dates).date;
    await think();
    const seats = await call<{ seats: Array<{ number: number }> }>('seats', 'GET', `/api/v1/concerts/${sale.concertId}/dates/${date}/seats`, token);
    if (expiredWhileActive(seats)) return 'token expired while active';
    if (seats.status !== 200) return anomaly(`seats answered ${seats.status}`);
    const free = seats.body.seats.map((s) => s.number);
    // Race for a random free seat; on a conflict try another from the same list.
    while (free.length > 0 && !stopping) {
      const seatNumber = free.splice(Math.floor(random() * free.length), 1)[0]!;
      const hold = await call<{ reservationId: string; heldUntil: string; price: number }>('hold', 'POST', '/api/v1/reservations', token, {
        userId,
        concertId: sale.concertId,
        date,
        seatNumber,
      });
      if (hold.status === 409) continue;
      if (expiredWhileActive(hold)) return 'token expired while active';
      if (hold.status !== 201) return anomaly(`hold answered ${hold.status} ${errorCode(hold.body) ?? ''}`);
      return pay(hold.body, token, userId, index, me, () => balance, charge, () => tokenEndedDuringCharge);
    }
  }
  return stopping ? 'stopped at sell-out' : 'found no seat';
}

function anomaly(what: string): Outcome {
  note(anomalies, what);
  return 'error';
}

/** A payment sent this long before heldUntil counts as sent in time. */
const ON_TIME_MARGIN_MS = 1_000;

async function pay(
  hold: { reservationId: string; heldUntil: string; price: number },
  token: string,
  userId: string,
  index: number,
  me: Persona,
  balance: () => number,
  charge: (amount: number) => Promise<boolean>,
  tokenEnded: () => boolean,
): Promise<Outcome> {
  if (me.abandonHold) return 'abandoned hold';
  if (me.paysLate) {
    // Wait until the hold has surely lapsed (the contract allows up to 1 s), then try to pay.
    await sleep(Date.parse(hold.heldUntil) - Date.now() + 1_500);
    if (stopping) return 'stopped at sell-out';
  } else {
    await think();
  }
  if (balance() < hold.price && !me.underCharges && !(await charge(hold.price))) return tokenEnded() ? 'token expired while active' : 'error';
  const key = `sim-${index}-pay-${hold.reservationId}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    // A client cannot see when its request arrived, only when it sent it: sent well before heldUntil but
    // refused means it reached the server late (the server judges a hold at arrival, which the
    // integration tests prove). That is latency, so it is counted and shown, not failed on.
    const sentInTime = Date.now() < Date.parse(hold.heldUntil) - ON_TIME_MARGIN_MS;
    const res = await call<{ paymentId: string }>('pay', 'POST', '/api/v1/payments', token, { userId, reservationId: hold.reservationId }, { 'idempotency-key': key });
    if (res.status === 201) {
      paymentIds.add(res.body.paymentId);
      if (me.paysLate) note(anomalies, 'a payment after the hold lapsed was accepted');
      if (me.retriesPayment) {
        // The same request again, as a flaky network would: it must answer the first payment.
        const again = await call<{ paymentId: string }>('pay', 'POST', '/api/v1/payments', token, { userId, reservationId: hold.reservationId }, { 'idempotency-key': key });
        if (again.status !== 201 || again.body.paymentId !== res.body.paymentId) note(anomalies, `payment retry answered ${again.status} ${errorCode(again.body) ?? ''}`);
      }
      sold++;
      if (sold >= currentSale!.totalSeats && soldAt === 0) {
        soldAt = performance.now();
        stop();
      }
      return 'bought';
    }
    const code = errorCode(res.body);
    if (code === 'RESERVATION_EXPIRED') return me.paysLate || !sentInTime ? 'paid too late (refused)' : 'refused: sent in time, arrived late';
    if (code === 'INSUFFICIENT_BALANCE' && attempt === 0) {
      if (!(await charge(hold.price))) return tokenEnded() ? 'token expired while active' : 'error';
      continue;
    }
    if (res.status === 401) return 'token expired while active';
    return anomaly(`pay answered ${res.status} ${code ?? ''}`);
  }
  return anomaly('payment refused twice');
}

async function streamUntilActive(token: string, log: FanLog): Promise<'active' | Outcome> {
  const opened = performance.now();
  let firstEvent = true;
  let outcome: 'active' | Outcome = 'stopped at sell-out';
  const stream = openSse(`${nextUrl()}/api/v1/queue/tokens/me/events`, { authorization: `Bearer ${token}` }, (data, at) => {
    if (firstEvent) {
      latency.record('stream (first event)', at - opened, 200);
      firstEvent = false;
    }
    const status = (data as { status?: string }).status;
    if (status === 'ACTIVE') {
      log.activeSeenAt = at;
      outcome = 'active';
      stream.close();
    } else if (status === 'EXPIRED') {
      outcome = 'token expired while waiting';
      stream.close();
    }
  });
  streams.add(stream);
  const end = await stream.done;
  streams.delete(stream);
  if (outcome === 'stopped at sell-out' && !stopping) {
    if (end.status !== 200) note(anomalies, `stream answered ${end.status}`);
    else note(anomalies, 'stream ended before ACTIVE');
    return 'error';
  }
  return outcome;
}

// ---- audits ------------------------------------------------------------------------------------

interface Audit {
  name: string;
  pass: boolean;
  detail: string;
}

async function count(db: Database, query: RawBuilder<unknown>): Promise<number> {
  const { rows } = await query.execute(db);
  return Number((rows[0] as { n?: number | string } | undefined)?.n ?? 0);
}

async function auditDatabase(db: Database, sale: Sale): Promise<Audit[]> {
  const audits: Audit[] = [];
  const sold = await count(db, sql`select count(*) as n from seats where concert_id = ${sale.concertId} and status = 'SOLD'`);
  const confirmed = await count(db, sql`select count(*) as n from reservations where status = 'CONFIRMED'`);
  const confirmedSeats = await count(db, sql`select count(distinct seat_id) as n from reservations where status = 'CONFIRMED'`);
  const twice = await count(db, sql`select count(*) as n from (select seat_id from reservations where status = 'CONFIRMED' group by seat_id having count(*) > 1) t`);
  const seatMismatch = await count(
    db,
    sql`select count(*) as n from seats s left join reservations r on r.id = s.reservation_id
        where s.status = 'SOLD' and (r.id is null or r.status <> 'CONFIRMED' or r.seat_id <> s.id)`,
  );
  const reservationMismatch = await count(
    db,
    sql`select count(*) as n from reservations r join seats s on s.id = r.seat_id
        where r.status = 'CONFIRMED' and (s.status <> 'SOLD' or s.reservation_id is distinct from r.id)`,
  );
  audits.push({
    name: 'no seat sold twice',
    pass: twice === 0 && seatMismatch === 0 && reservationMismatch === 0 && sold === confirmed && confirmed === confirmedSeats,
    detail: `${sold} seats SOLD, ${confirmed} CONFIRMED reservations on ${confirmedSeats} distinct seats, ${twice} seats confirmed twice, ${seatMismatch + reservationMismatch} seat/reservation disagreements`,
  });

  const withoutOne = await count(
    db,
    sql`select count(*) as n from reservations r where r.status = 'CONFIRMED' and (select count(*) from payments p where p.reservation_id = r.id) <> 1`,
  );
  const orphanPayments = await count(
    db,
    sql`select count(*) as n from payments p left join reservations r on r.id = p.reservation_id
        where r.id is null or r.status <> 'CONFIRMED' or r.user_id <> p.user_id or r.price <> p.amount`,
  );
  const payments = await count(db, sql`select count(*) as n from payments`);
  audits.push({
    name: 'every CONFIRMED seat has exactly one payment, and every payment a CONFIRMED seat',
    pass: withoutOne === 0 && orphanPayments === 0 && payments === confirmed,
    detail: `${payments} payments, ${confirmed} CONFIRMED; ${withoutOne} CONFIRMED without exactly one payment, ${orphanPayments} payments without a matching CONFIRMED reservation`,
  });

  const users = await count(db, sql`select count(*) as n from users`);
  const badBalances = await count(
    db,
    sql`select count(*) as n from users u left join (select user_id, sum(amount) as s from point_ledger group by user_id) l on l.user_id = u.id
        where u.balance <> coalesce(l.s, 0)`,
  );
  const badPaymentLedger = await count(
    db,
    sql`select count(*) as n from payments p where (select coalesce(sum(amount), 0) from point_ledger l where l.payment_id = p.id and l.kind = 'PAYMENT') <> -p.amount`,
  );
  const ledgerRows = await count(db, sql`select count(*) as n from point_ledger`);
  audits.push({
    name: 'every balance equals its ledger sum',
    pass: badBalances === 0 && badPaymentLedger === 0,
    detail: `${users} users, ${ledgerRows} ledger rows; ${badBalances} balances differ from their ledger, ${badPaymentLedger} payments without their one ledger debit`,
  });

  const late = await count(db, sql`select count(*) as n from payments p join reservations r on r.id = p.reservation_id where p.paid_at > r.held_until`);
  audits.push({
    name: 'no payment for a lapsed hold',
    pass: late === 0,
    detail: `${late} of ${payments} payments were made after their hold's heldUntil; ${outcomes.get('paid too late (refused)') ?? 0} late payment attempts were refused`,
  });

  audits.push({
    name: "the client's successful payments are the database's",
    pass: paymentIds.size === payments && paymentIds.size === sold,
    detail: `${paymentIds.size} payments answered 201 to fans, ${payments} in the database, ${sold} seats SOLD`,
  });
  return audits;
}

/**
 * Admission order, as far as clients can prove it. Fan A surely joined before fan B when A's join
 * answer arrived before B's join was sent (so A's arrival number is lower). If such an A is later
 * seen WAITING by a poll that was sent after B had already been told it was ACTIVE, the server
 * admitted B while A — earlier, live and still polling — waited: an overtake. Polling delay cannot
 * fake one: a WAITING answer to a request sent at time t means A was still waiting at some time ≥ t,
 * and B's ACTIVE answer received at t' means B was admitted at some time ≤ t' < t. Streaming fans
 * count as B only (an event's send time is unknown); fans who stopped polling simply contribute no
 * late WAITING observations.
 */
function auditAdmissionOrder(): Audit {
  const byJoinAnswer = fans.slice().sort((a, b) => a.joinReceivedAt - b.joinReceivedAt);
  const answers = byJoinAnswer.map((f) => f.joinReceivedAt);
  const prefixMaxWaiting: number[] = [];
  let max = -Infinity;
  for (const f of byJoinAnswer) {
    if (!f.streams) max = Math.max(max, f.lastWaitingSentAt);
    prefixMaxWaiting.push(max);
  }
  let checked = 0;
  let pairs = 0;
  let overtakes = 0;
  let worstMs = 0;
  for (const b of fans) {
    if (b.activeSeenAt === Infinity) continue;
    // How many fans' join answers arrived before b's join was sent.
    let lo = 0;
    let hi = answers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (answers[mid]! < b.joinSentAt) lo = mid + 1;
      else hi = mid;
    }
    checked++;
    pairs += lo;
    if (lo > 0 && prefixMaxWaiting[lo - 1]! > b.activeSeenAt) {
      overtakes++;
      worstMs = Math.max(worstMs, prefixMaxWaiting[lo - 1]! - b.activeSeenAt);
    }
  }
  return {
    name: 'admission in arrival order among fans still in line',
    pass: overtakes === 0,
    detail: `${checked} admitted fans checked against ${formatInt(pairs)} surely-earlier fans; ${overtakes} admitted while a surely-earlier fan was later seen WAITING${
      overtakes ? ` (worst by ${worstMs.toFixed(0)} ms)` : ''
    }`,
  };
}

function auditActiveLimit(samples: Array<QueueState & { t: number }>, failed: number): Audit {
  const over = samples.filter((s) => s.active > s.activeLimit);
  const peak = samples.reduce((m, s) => Math.max(m, s.active), 0);
  return {
    name: 'ACTIVE never above the limit',
    pass: samples.length > 0 && over.length === 0,
    detail: `${samples.length} samples every 500 ms (${failed} failed); peak ${peak} ACTIVE of limit ${opts.activeLimit}; ${over.length} samples over the limit`,
  };
}

// ---- main --------------------------------------------------------------------------------------

let currentSale: Sale | undefined;

function seatsPerDate(total: number): number[] {
  const dates: number[] = [];
  for (let left = total; left > 0; left -= 200) dates.push(Math.min(200, left));
  return dates;
}

async function main(): Promise<number> {
  installExitHandlers();
  if (opts.instances > 1 && !(opts.redis && opts.postgres)) throw new Error('--instances above 1 needs --redis and --postgres');
  if (opts.seats < 1 || opts.users < 1) throw new Error('--users and --seats must be at least 1');
  ensureBuilt(flags.bool('build'));

  // Embedded mode: the server keeps its PGlite files in a scratch folder, so that once it has stopped
  // this process can open the very same database for the audit (PGlite is one process at a time).
  let dataDir: string | undefined;
  if (!opts.postgres) {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'boxoffice-sim-'));
    const dir = dataDir;
    onCleanUp(async () => rmSync(dir, { recursive: true, force: true }));
  }
  const service = await startService({
    postgres: opts.postgres,
    redis: opts.redis,
    instances: opts.instances,
    label: 'sim',
    dataDir,
    env: { ...TIMINGS, QUEUE_ACTIVE_LIMIT: String(opts.activeLimit), RESERVATION_HOLD_SECONDS: String(opts.holdSeconds) },
  });
  urls = service.urls;
  const admin = adminClient(urls, service.adminKey, 64);
  const samplerAdmin = adminClient(urls, service.adminKey, 2);
  process.stderr.write(`service: ${service.describe}; seed ${opts.seed}\n`);

  const { concertId } = await admin.createConcert(seatsPerDate(opts.seats), PRICE);
  const sale: Sale = { concertId, totalSeats: opts.seats };
  currentSale = sale;
  let t = performance.now();
  const userIds = await admin.createUsers(opts.users, (n) => process.stderr.write(progressLine(n / opts.users, `creating fans ${formatInt(n)}/${formatInt(opts.users)}`)));
  process.stderr.write(progressLine(1, `created ${formatInt(opts.users)} fans in ${((performance.now() - t) / 1000).toFixed(1)} s`) + '\n');
  admin.close();

  // The sale.
  const samples: Array<QueueState & { t: number }> = [];
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  // One sample in flight at a time; a sample that fails (an overloaded server) is counted, not guessed.
  let sampling: Promise<void> | undefined;
  let failedSamples = 0;
  const sampler = setInterval(() => {
    sampling ??= samplerAdmin
      .queue()
      .then(
        (q) => void samples.push({ ...q, t: elapsed() }),
        () => void failedSamples++,
      )
      .finally(() => (sampling = undefined));
  }, 500);
  const bar = setInterval(() => {
    const q = samples[samples.length - 1];
    process.stderr.write(
      progressLine(
        Math.max(done / opts.users, sold / opts.seats),
        `fans done ${formatInt(done)}/${formatInt(opts.users)} · joined ${formatInt(joined)} · admitted ${formatInt(admitted)} · active ${q?.active ?? '?'}/${opts.activeLimit} · sold ${sold}/${opts.seats} · ${elapsed().toFixed(0)} s`,
      ),
    );
  }, 250);
  const deadline = setTimeout(() => {
    note(anomalies, `gave up after --max-seconds ${opts.maxSeconds}`);
    stop();
  }, opts.maxSeconds * 1000);

  const finished = Promise.all(
    userIds.map((userId, i) =>
      runFan(i, userId, sale).then(
        (o) => {
          note(outcomes, o);
          done++;
        },
        () => {
          note(outcomes, 'error');
          done++;
        },
      ),
    ),
  );
  await finished;
  stop();
  const endedAt = elapsed();
  clearInterval(sampler);
  await sampling;
  clearInterval(bar);
  clearTimeout(deadline);
  process.stderr.write(progressLine(1, `fans done ${formatInt(done)} · sold ${sold}/${opts.seats} · ${endedAt.toFixed(1)} s`) + '\n');
  samplerAdmin.close();
  agent.destroy();
  joinAgent.destroy();
  payAgent.destroy();
  await service.stop();

  // The audit, on the database the servers used.
  const db = await openDatabase({ databaseUrl: service.databaseUrl, dataDir: dataDir ?? 'memory://' });
  let audits: Audit[];
  try {
    audits = await auditDatabase(db, sale);
  } finally {
    await db.destroy();
  }
  audits.push(auditAdmissionOrder(), auditActiveLimit(samples, failedSamples));
  const errorFree = errors === 0 && [...anomalies.keys()].length === 0;
  audits.push({
    name: 'no transport errors or unexpected answers',
    pass: errorFree,
    detail: errorFree ? 'none' : `${errors} socket errors; ${JSON.stringify(Object.fromEntries(anomalies))}`,
  });

  // ---- report ----
  const sellOut = soldAt > 0 ? (soldAt - started) / 1000 : undefined;
  const endpointRows = latency.summary().map((s) => [s.label, formatInt(s.count), formatMs(s.p50), formatMs(s.p99), formatMs(s.max), JSON.stringify(s.statuses)]);
  const endpointHeader = ['endpoint', 'calls', 'p50 ms', 'p99 ms', 'max ms', 'statuses'];
  const outcomeLines = [...outcomes.entries()].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o}: ${formatInt(n)}`);
  const summary = [
    `boxoffice sale simulation — ${service.describe}`,
    `${formatInt(opts.users)} fans, ${opts.seats} seats on ${seatsPerDate(opts.seats).length} dates, active limit ${opts.activeLimit}, hold ${opts.holdSeconds} s, seed ${opts.seed}`,
    sellOut !== undefined ? `sold out in ${sellOut.toFixed(1)} s after the first fan arrived` : `not sold out: ${sold}/${opts.seats} sold when every fan had finished (${endedAt.toFixed(1)} s)`,
    `joined ${formatInt(joined)}, admitted ${formatInt(admitted)}; outcomes: ${outcomeLines.join(', ')}`,
  ];
  console.log(`\n${summary.join('\n')}\n`);
  console.log(textTable(endpointHeader, endpointRows));
  console.log('\naudit:');
  for (const a of audits) console.log(`  ${a.pass ? 'PASS' : 'FAIL'}  ${a.name}: ${a.detail}`);

  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..+$/, 'Z');
  const outDir = path.join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const command = `npm run simulate --${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  writeFileSync(
    path.join(outDir, `simulate-${stamp}.md`),
    [
      `# boxoffice sale simulation, ${new Date().toISOString()}`,
      '',
      `- command: \`${command}\``,
      ...summary.map((l) => `- ${l}`),
      '',
      markdownTable(endpointHeader, endpointRows),
      '',
      '## Audit',
      '',
      ...audits.map((a) => `- ${a.pass ? 'PASS' : 'FAIL'} ${a.name}: ${a.detail}`),
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(outDir, `simulate-${stamp}.json`),
    JSON.stringify(
      { command, opts, sellOutSeconds: sellOut, endedAtSeconds: endedAt, joined, admitted, sold, outcomes: Object.fromEntries(outcomes), anomalies: Object.fromEntries(anomalies), endpoints: latency.summary(), audits, samples },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote bench-results/simulate-${stamp}.{md,json}`);
  return audits.every((a) => a.pass) ? 0 : 1;
}

main()
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error('\nsimulation failed:', err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  )
  .finally(() => cleanUp());

// `npm run simulate -- --users 100000 --seats 500`: a whole sale against a real boxoffice. Virtual fans
// arrive in a burst, join the line, poll (or stream) as told, browse once admitted, race for seats, top
// up, pay, or give up along the way. Afterwards the database is audited for the invariants that must
// hold whatever the load: no seat sold twice, one payment per sale, balances equal to their ledger, no
// payment for a lapsed hold, admission in arrival order, never more ACTIVE than the limit.
//
// `--sale` runs a scheduled on-sale instead of the general line: the concert goes on sale through a sale
// of its own whose pre-queue opens at once and which opens --prequeue-seconds later. A share of the fans
// arrives during the pre-queue, the rest in a burst after the open; they join the sale's line, are drawn
// (pre-queue) or queued (later arrivals), stop when told SOLD_OUT, and the audits add the draw, the order
// of admission, admission only while a seat is free, no live token after the sell-out and the seats per fan.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql, type RawBuilder } from 'kysely';
import { openDatabase, type Database } from '../src/db/database.js';
import { adminClient, type AdminSale } from './lib/admin.js';
import { parseFlags } from './lib/args.js';
import { errorCode, keepAliveAgent, requestJson, runPool, type JsonResponse } from './lib/http.js';
import {
  arrivalOvertakes,
  auditAdmissionWithoutSeat,
  auditAfterSoldOut,
  auditDrawRecord,
  auditHoldsWithinTurns,
  auditSaleOrder,
  peakSeatsPerUser,
  recomputeDraw,
  type Audit,
  type GrantedHold,
  type FinalPoll,
  type ReservationSpan,
  type SaleEntryLog,
  type SaleRead,
} from './lib/sale-audit.js';
import { cleanUp, ensureBuilt, installExitHandlers, onCleanUp, repoRoot, SERVICE_FLAGS, SERVICE_USAGE, startService, useServiceFlags } from './lib/service.js';
import { openSse, type SseStream } from './lib/sse.js';
import { formatInt, formatMs, LatencyLog, markdownTable, progressWriter, textTable } from './lib/stats.js';

const USAGE = `usage: npm run simulate -- [flags]
  --users N            virtual fans (default 10000)
  --seats N            seats on sale, spread over dates of at most 200 (default 500)
  --postgres           a throwaway database on the local PostgreSQL (default: embedded PGlite)
  --redis              the Redis queue store (local Redis, a unique key prefix)
  --instances N        server processes (needs --redis and --postgres)
${SERVICE_USAGE}
  --active-limit N     QUEUE_ACTIVE_LIMIT (default 100)
  --hold-seconds S     RESERVATION_HOLD_SECONDS (default 10)
  --think-ms MS        mean pause between a fan's steps once admitted (default 400)
  --join-sockets N     concurrent joins: how hard the burst arrives (default 48)
  --sockets N          concurrent requests of admitted and waiting fans (default 192)
  --sse-percent P      share of fans that stream instead of polling (default 3)
  --max-seconds S      give up (and fail) after this long (default 900)
  --seed N             random seed, to replay a run's choices
  --build              rebuild dist/ first (default: only when missing)
  --smoke              2,000 fans, 50 seats, short pauses: a CI check in seconds
  --sale               a scheduled on-sale with its own line, pre-queue and draw (instead of the general line)
  --prequeue-seconds S with --sale: from the pre-queue's start to opensAt (default 10; smoke 4)
  --early-percent P    with --sale: share of fans arriving before opensAt (default 60)
  --burst-seconds S    with --sale: mean delay after opensAt of the later arrivals (default 3; smoke 1)
  --max-seats-per-user N  with --sale: the sale's maxSeatsPerUser (default 4)
  --nice N             the load generator's CPU niceness once the service runs (default 10; 0: compete
                       with the service for the cores as an equal)`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    booleans: ['postgres', 'redis', 'smoke', 'build', 'sale'],
    strings: SERVICE_FLAGS.strings,
    numbers: [
      ...SERVICE_FLAGS.numbers,
      'users',
      'seats',
      'instances',
      'active-limit',
      'hold-seconds',
      'think-ms',
      'join-sockets',
      'sockets',
      'sse-percent',
      'max-seconds',
      'seed',
      'prequeue-seconds',
      'early-percent',
      'burst-seconds',
      'max-seats-per-user',
      'nice',
    ],
  },
  USAGE,
);
useServiceFlags(flags, USAGE);
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
  sale: flags.bool('sale'),
  prequeueSeconds: flags.num('prequeue-seconds', smoke ? 4 : 10),
  earlyPercent: flags.num('early-percent', 60),
  burstSeconds: flags.num('burst-seconds', smoke ? 1 : 3),
  maxSeatsPerUser: flags.num('max-seats-per-user', 4),
  nice: flags.num('nice', 10),
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

/** Sets this thread's niceness (0..19; raising it needs no privilege) and returns what it is now. */
function lowerOwnPriority(niceness: number): number {
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new Error('--nice must be an integer from 0 to 19');
  try {
    if (niceness > os.getPriority()) os.setPriority(niceness);
  } catch {
    // Not permitted here: the run goes on at the priority it has, and says which.
  }
  return os.getPriority();
}

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
// The sale's own choices come from a second stream, so that with the same --seed a sale run and a
// general-line run draw the very same personas for the same fans.
const saleRandom = rng(opts.seed ^ 0x5a1e_0a1e);

/** performance.now() + this = epoch ms (measured once, so the simulator's times and the database's compare). */
const clockOffset = Date.now() - performance.now();
const toEpoch = (t: number) => t + clockOffset;
const fromEpoch = (ms: number) => ms - clockOffset;

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

/** How a fan behaves in a sale, decided at arrival from the sale's own random stream. */
interface SaleTraits {
  /** Arrival relative to opensAt (negative: in the pre-queue). */
  arrivalMs: number;
  /**
   * Tries to hold a second seat with the same token (refused HOLD_EXISTS: a token holds one seat at a
   * time), then pays for the one it has.
   */
  greedy: boolean;
  /** Joins the line again after paying, to buy one more seat. */
  buysAgain: boolean;
}

function saleTraits(): SaleTraits {
  const early = saleRandom() * 100 < opts.earlyPercent;
  const u = saleRandom();
  return {
    // Early fans spread over the pre-queue (ending a little before the open); the rest in a burst after it.
    arrivalMs: early ? -opts.prequeueSeconds * 1000 * (1 - 0.95 * u) : -Math.log(1 - u) * opts.burstSeconds * 1000,
    greedy: saleRandom() < 0.03,
    buysAgain: saleRandom() < 0.05,
  };
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
  | 'sold out before joining'
  | 'told sold out while waiting'
  | 'told sold out while active'
  | 'error';

/**
 * What a fan saw of one place in line: the basis of the order audits. In the general line only the
 * join, WAITING and ACTIVE times are used; a sale adds the entry, the draw and the sell-out.
 */
type FanLog = SaleEntryLog;

/** A token's answer: join, poll or stream event (a sale's line adds saleId, phase, seatsLeft, entryId, drawRank). */
interface TokenAnswer {
  token?: string;
  status: 'WAITING' | 'ACTIVE' | 'EXPIRED' | 'SOLD_OUT';
  position: number;
  expiresAt?: string;
  pollAfterSeconds?: number;
  saleId?: string;
  phase?: string;
  seatsLeft?: number;
  entryId?: string;
  drawRank?: number | null;
}

/** What one answer tells of the token. `sentAt` undefined: a stream event, whose send time is unknown. */
function observe(log: FanLog, body: TokenAnswer, sentAt: number | undefined, receivedAt: number): void {
  if (typeof body.drawRank === 'number' && !log.drawRanks.includes(body.drawRank)) log.drawRanks.push(body.drawRank);
  if (body.status === 'WAITING' || body.status === 'ACTIVE') {
    if (sentAt !== undefined) log.lastLiveSentAt = Math.max(log.lastLiveSentAt, sentAt);
    if (body.status === 'WAITING' && sentAt !== undefined) log.lastWaitingSentAt = Math.max(log.lastWaitingSentAt, sentAt);
    if (body.status === 'ACTIVE') {
      log.activeSeenAt = Math.min(log.activeSeenAt, receivedAt);
      if (body.expiresAt) log.turnEndsAt = Date.parse(body.expiresAt);
    }
  } else if (body.status === 'SOLD_OUT' && log.soldOutSeenAt === Infinity) {
    log.soldOutSeenAt = receivedAt;
    log.toldWhileWaiting = log.activeSeenAt === Infinity;
  }
}

/** A 2xx answer to a request that needs a live token. */
function usedLive(log: FanLog, res: JsonResponse<unknown>): void {
  log.lastLiveSentAt = Math.max(log.lastLiveSentAt, res.sentAt);
}

// ---- shared run state ----------------------------------------------------------------------------

const latency = new LatencyLog();
const outcomes = new Map<string, number>();
const anomalies = new Map<string, number>();
const anomalyExamples = new Map<string, string>();
const fans: FanLog[] = [];
const saleStats = new Map<string, number>();
const paymentIds = new Set<string>();
/** Every hold a fan was granted, with the end of its token's turn as the fan was told it. */
const grantedHolds: GrantedHold[] = [];
/** When each accepted payment's request was sent (epoch ms, this machine's clock, as the server's). */
const paymentSentAt = new Map<string, number>();
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
// Admitted fans shop (dates, seats, holds, top-ups, payments) on sockets of their own, as each fan's
// browser would: queued behind the waiting crowd's polls in the shared pool, an admitted fan would
// spend its active time in the load generator's queue, and a payment made in time would reach the
// server late, through the load generator's fault. One socket per ACTIVE fan.
const shopAgent = keepAliveAgent(Math.max(32, opts.activeLimit));
const agent = keepAliveAgent(opts.sockets);
const SHOPPING = new Set(['dates', 'seats', 'hold', 'pay']);

/** `shopping`: an admitted fan's call (the shop's sockets), whatever its label. */
async function call<T>(
  label: string,
  method: 'GET' | 'POST',
  route: string,
  token: string | undefined,
  body?: unknown,
  extra?: Record<string, string>,
  shopping = SHOPPING.has(label),
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...extra };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await requestJson<T>({
      method,
      url: `${nextUrl()}${route}`,
      headers,
      body,
      agent: label === 'join' ? joinAgent : shopping ? shopAgent : agent,
      timeoutMs: 30_000,
    });
    latency.record(label, res.receivedAt - res.sentAt, res.status);
    return res;
  } catch (err) {
    errors++;
    latency.record(`${label} (socket error)`, 0, 'error');
    throw err;
  }
}

/** What the fans buy: the concert, and with --sale the sale that sells it. */
interface Sale {
  concertId: string;
  totalSeats: number;
  saleId?: string;
  /** opensAt on the performance.now() clock. */
  opensAt?: number;
  maxSeatsPerUser: number;
}

/** One fan across its visits to the line (a fan who buys again joins twice). */
interface Fan {
  index: number;
  userId: string;
  me: Persona;
  traits: SaleTraits | undefined;
  balance: number;
  charges: number;
  /** Payments accepted. */
  owned: number;
  /** Holds not paid for: reservationId -> heldUntil (epoch ms). */
  holds: Map<string, number>;
  visits: number;
}

async function runFan(index: number, userId: string, sale: Sale): Promise<Outcome> {
  const me = persona();
  const fan: Fan = { index, userId, me, traits: undefined, balance: 0, charges: 0, owned: 0, holds: new Map(), visits: 0 };
  if (!sale.saleId) return visit(fan, sale);
  const traits = saleTraits();
  fan.traits = traits;
  await sleep(sale.opensAt! + traits.arrivalMs - performance.now());
  if (stopping) return 'stopped at sell-out';
  const first = await visit(fan, sale);
  if (first === 'bought' && traits.buysAgain && !stopping) note(saleStats, `joined again after buying: ${await visit(fan, sale)}`);
  return first;
}

/** One place in line: join, wait, and once admitted browse, hold and pay. */
async function visit(fan: Fan, sale: Sale): Promise<Outcome> {
  const { me, index, userId } = fan;
  const saleId = sale.saleId;
  fan.visits++;
  if (!(await joinGate.acquire())) return 'stopped at sell-out';
  let issued: JsonResponse<TokenAnswer & { token: string }>;
  try {
    issued = await call('join', 'POST', '/api/v1/queue/tokens', undefined, saleId ? { userId, saleId } : { userId });
  } finally {
    joinGate.release();
  }
  if (saleId && issued.status === 409 && errorCode(issued.body) === 'SOLD_OUT') return 'sold out before joining';
  if (issued.status !== 201) {
    unexpected('join', issued);
    return 'error';
  }
  joined++;
  const { token } = issued.body;
  const log: FanLog = {
    index,
    entryId: issued.body.entryId ?? '',
    token,
    streams: me.streams,
    joinSentAt: issued.sentAt,
    joinReceivedAt: issued.receivedAt,
    joinPhase: issued.body.phase ?? '',
    lastWaitingSentAt: -Infinity,
    activeSeenAt: Infinity,
    drawRanks: [],
    soldOutSeenAt: Infinity,
    toldWhileWaiting: false,
    lastLiveSentAt: -Infinity,
    paid: false,
    turnEndsAt: NaN,
  };
  observe(log, issued.body, issued.sentAt, issued.receivedAt);
  fans.push(log);
  if (saleId && (issued.body.saleId !== saleId || !issued.body.entryId || issued.body.drawRank !== null)) {
    note(anomalies, 'a sale token issued without its saleId, an entryId, or with a drawRank');
  }

  // ---- waiting ----
  if (me.topUpWhileWaiting && fan.visits === 1 && !stopping)
    await charge(fan, token, log, me.underCharges ? PRICE / 2 : PRICE * (1 + Math.floor(random() * 2)), false);
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
        const res = await call<TokenAnswer>('poll', 'GET', '/api/v1/queue/tokens/me', token);
        if (res.status === 401) return 'token expired while waiting';
        if (res.status !== 200) {
          unexpected('poll', res);
          return 'error';
        }
        observe(log, res.body, res.sentAt, res.receivedAt);
        if (res.body.status === 'ACTIVE') break;
        if (res.body.status === 'SOLD_OUT' && saleId) return 'told sold out while waiting';
        if (res.body.status !== 'WAITING') return anomaly(`poll answered status ${res.body.status}`);
        pollAfter = res.body.pollAfterSeconds ?? 1;
      }
    }
  }
  admitted++;

  // ---- admitted: browse, race, pay ----
  const refused = (res: JsonResponse<unknown>) => res.status === 401 || errorCode(res.body) === 'TOKEN_NOT_ACTIVE';
  // In a sale a refused token may mean the sale sold out: its status says so.
  const ended = () => (saleId ? endedWhileActive(token, log) : Promise.resolve<Outcome>('token expired while active'));
  for (let attempt = 0; attempt < 6 && !stopping; attempt++) {
    await think();
    const dates = await call<{ dates: Array<{ date: string; availableSeats: number }> }>('dates', 'GET', `/api/v1/concerts/${sale.concertId}/dates`, token);
    if (refused(dates)) return ended();
    if (dates.status !== 200) return unexpected('dates', dates);
    usedLive(log, dates);
    // Every seat held or sold: a sale's fan looks again (holds lapse), a general-line fan gives up.
    if (dates.body.dates.length === 0) {
      if (saleId) continue;
      return 'found no seat';
    }
    const date = pick(dates.body.dates).date;
    await think();
    const seats = await call<{ seats: Array<{ number: number }> }>('seats', 'GET', `/api/v1/concerts/${sale.concertId}/dates/${date}/seats`, token);
    if (refused(seats)) return ended();
    if (seats.status !== 200) return unexpected('seats', seats);
    usedLive(log, seats);
    const free = seats.body.seats.map((s) => s.number);
    const held: Hold[] = [];
    // Race for a random free seat; on a conflict try another from the same list. A greedy fan of a sale
    // tries a second seat with the same token (refused HOLD_EXISTS), then pays for the one it holds.
    while (free.length > 0 && !stopping) {
      const seatNumber = free.splice(Math.floor(random() * free.length), 1)[0]!;
      const hold = await call<Hold>('hold', 'POST', '/api/v1/reservations', token, { userId, concertId: sale.concertId, date, seatNumber });
      const code = errorCode(hold.body);
      if (hold.status === 201) {
        usedLive(log, hold);
        if (saleId) checkHoldAccepted(fan, sale, hold);
        fan.holds.set(hold.body.reservationId, Date.parse(hold.body.heldUntil));
        grantedHolds.push({ heldUntil: Date.parse(hold.body.heldUntil), turnEndsAt: log.turnEndsAt });
        if (held.length > 0) note(anomalies, 'a second live hold of one token was accepted');
        held.push(hold.body);
        if (fan.traits?.greedy && held.length === 1) continue;
        break;
      }
      if (code === 'HOLD_EXISTS') {
        checkHoldExists(held, hold);
        break;
      }
      if (saleId && code === 'SEAT_LIMIT_REACHED') {
        checkHoldRefused(fan, sale, hold);
        break;
      }
      if (hold.status === 409) continue;
      if (refused(hold)) return ended();
      return unexpected('hold', hold);
    }
    if (held.length > 0) return pay(held[0]!, token, fan, log, sale);
  }
  return stopping ? 'stopped at sell-out' : 'found no seat';
}

interface Hold {
  reservationId: string;
  heldUntil: string;
  price: number;
}

/** Holds of this fan that are live at `epoch` by their heldUntil, plus the seats it owns. */
function seatsOf(fan: Fan, epoch: number): number {
  let n = fan.owned;
  for (const until of fan.holds.values()) if (until > epoch) n++;
  return n;
}

/** A hold accepted although the fan surely had maxSeatsPerUser already (every hold counted lives past the answer). */
function checkHoldAccepted(fan: Fan, sale: Sale, hold: JsonResponse<unknown>): void {
  if (seatsOf(fan, toEpoch(hold.receivedAt)) >= sale.maxSeatsPerUser) note(anomalies, 'a hold beyond maxSeatsPerUser was accepted');
}

/** SEAT_LIMIT_REACHED although the fan surely had fewer than maxSeatsPerUser (counting every hold that may still live). */
function checkHoldRefused(fan: Fan, sale: Sale, hold: JsonResponse<unknown>): void {
  note(saleStats, 'holds refused SEAT_LIMIT_REACHED');
  if (seatsOf(fan, toEpoch(hold.sentAt)) < sale.maxSeatsPerUser) note(anomalies, 'SEAT_LIMIT_REACHED below maxSeatsPerUser');
}

/** HOLD_EXISTS must name the token's live hold: the one this fan holds. */
function checkHoldExists(held: readonly Hold[], refused: JsonResponse<unknown>): void {
  note(saleStats, 'holds refused HOLD_EXISTS');
  const named = (refused.body as { error?: { reservationId?: unknown } } | null)?.error?.reservationId;
  if (!held.some((h) => h.reservationId === named)) note(anomalies, 'HOLD_EXISTS naming no hold of this token');
}

/** A sale's token was refused on use: ask its status once (SOLD_OUT is the end of the sale, not an error). */
async function endedWhileActive(token: string, log: FanLog): Promise<Outcome> {
  const res = await call<TokenAnswer>('poll', 'GET', '/api/v1/queue/tokens/me', token);
  if (res.status === 401) return 'token expired while active';
  if (res.status !== 200) return unexpected('poll', res);
  observe(log, res.body, res.sentAt, res.receivedAt);
  if (res.body.status === 'SOLD_OUT') return 'told sold out while active';
  return anomaly(`a token refused on use polled ${res.body.status}`);
}

function anomaly(what: string): Outcome {
  note(anomalies, what);
  return 'error';
}

/** An answer no fan should get: counted by endpoint, status and code, with the first message of each kept. */
function unexpected(what: string, res: JsonResponse<unknown>): Outcome {
  const key = `${what} answered ${res.status} ${errorCode(res.body) ?? ''}`.trim();
  if (!anomalyExamples.has(key)) {
    const message = (res.body as { error?: { message?: unknown } } | null)?.error?.message;
    anomalyExamples.set(key, typeof message === 'string' ? message : JSON.stringify(res.body).slice(0, 200));
  }
  return anomaly(key);
}

/** False when refused; a token that ended meanwhile (ACTIVE time over, sold out) is an outcome, not an anomaly. */
const tokenEndedDuringCharge = new WeakSet<FanLog>();
async function charge(fan: Fan, token: string, log: FanLog, amount: number, shopping = true): Promise<boolean> {
  const key = `sim-${fan.index}-charge-${++fan.charges}`;
  const res = await call<{ balance: number }>(
    'charge',
    'POST',
    `/api/v1/users/${fan.userId}/points/charge`,
    token,
    { amount },
    { 'idempotency-key': key },
    shopping,
  );
  if (res.status !== 200) {
    if (res.status !== 401) unexpected('charge', res);
    else tokenEndedDuringCharge.add(log);
    return false;
  }
  usedLive(log, res);
  fan.balance = res.body.balance;
  return true;
}

/** A payment sent this long before heldUntil counts as sent in time. */
const ON_TIME_MARGIN_MS = 1_000;

async function pay(hold: Hold, token: string, fan: Fan, log: FanLog, sale: Sale): Promise<Outcome> {
  const { me, index, userId } = fan;
  const tokenEnded = (): Promise<Outcome> =>
    tokenEndedDuringCharge.has(log) ? (sale.saleId ? endedWhileActive(token, log) : Promise.resolve('token expired while active')) : Promise.resolve('error');
  if (me.abandonHold) return 'abandoned hold';
  if (me.paysLate) {
    // Wait until the hold has surely lapsed (the contract allows up to 1 s), then try to pay.
    await sleep(Date.parse(hold.heldUntil) - Date.now() + 1_500);
    if (stopping) return 'stopped at sell-out';
  } else {
    await think();
  }
  if (fan.balance < hold.price && !me.underCharges && !(await charge(fan, token, log, hold.price))) return tokenEnded();
  const key = `sim-${index}-pay-${hold.reservationId}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    // A client cannot see when its request arrived, only when it sent it: sent well before heldUntil but
    // refused means it reached the server late (the server judges a hold at arrival, which the
    // integration tests prove). That is latency, so it is counted and shown, not failed on.
    const sentAt = Date.now();
    const sentInTime = sentAt < Date.parse(hold.heldUntil) - ON_TIME_MARGIN_MS;
    const res = await call<{ paymentId: string; balance: number }>(
      'pay',
      'POST',
      '/api/v1/payments',
      token,
      { userId, reservationId: hold.reservationId },
      { 'idempotency-key': key },
    );
    if (res.status === 201) {
      usedLive(log, res);
      paymentIds.add(res.body.paymentId);
      if (!paymentSentAt.has(res.body.paymentId)) paymentSentAt.set(res.body.paymentId, sentAt);
      log.paid = true;
      fan.owned++;
      fan.holds.delete(hold.reservationId);
      fan.balance = res.body.balance;
      if (me.paysLate) note(anomalies, 'a payment after the hold lapsed was accepted');
      if (me.retriesPayment) {
        // The same request again, as a flaky network would: it must answer the first payment.
        const again = await call<{ paymentId: string }>(
          'pay',
          'POST',
          '/api/v1/payments',
          token,
          { userId, reservationId: hold.reservationId },
          { 'idempotency-key': key },
        );
        if (again.status !== 201 || again.body.paymentId !== res.body.paymentId) unexpected('payment retry', again);
      }
      sold++;
      if (sold >= sale.totalSeats && soldAt === 0) {
        soldAt = performance.now();
        // The general line's fans are stopped here; a sale's fans learn of the sell-out from the sale.
        if (!sale.saleId) stop();
      }
      return 'bought';
    }
    const code = errorCode(res.body);
    if (code === 'RESERVATION_EXPIRED') return me.paysLate || !sentInTime ? 'paid too late (refused)' : 'refused: sent in time, arrived late';
    if (code === 'INSUFFICIENT_BALANCE' && attempt === 0) {
      if (!(await charge(fan, token, log, hold.price))) return tokenEnded();
      continue;
    }
    if (res.status === 401) return sale.saleId ? endedWhileActive(token, log) : 'token expired while active';
    return unexpected('pay', res);
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
    const state = data as TokenAnswer;
    observe(log, state, undefined, at);
    if (state.status === 'ACTIVE') {
      outcome = 'active';
      stream.close();
    } else if (state.status === 'EXPIRED') {
      outcome = 'token expired while waiting';
      stream.close();
    } else if (state.status === 'SOLD_OUT') {
      outcome = 'told sold out while waiting';
      stream.close();
    }
  });
  streams.add(stream);
  const end = await stream.done;
  streams.delete(stream);
  if (outcome === 'stopped at sell-out' && !stopping) {
    // A token that lapsed before its stream opened (the fan topped up first, or the stream waited for a
    // connection) is what a poll would have been told too.
    if (end.status === 401 && end.code === 'TOKEN_EXPIRED') return 'token expired while waiting';
    if (end.status !== 200) note(anomalies, `stream answered ${end.status}${end.code ? ` ${end.code}` : ''}`);
    else note(anomalies, 'stream ended before ACTIVE');
    return 'error';
  }
  return outcome;
}

// ---- audits ------------------------------------------------------------------------------------

async function count(db: Database, query: RawBuilder<unknown>): Promise<number> {
  const { rows } = await query.execute(db);
  return Number((rows[0] as { n?: number | string } | undefined)?.n ?? 0);
}

/** How long after its token paid another hold of that token may still block its seat (none should at all). */
const HOLD_RELEASE_GRACE_MS = 2_000;

async function auditDatabase(db: Database, sale: Sale): Promise<Audit[]> {
  const audits: Audit[] = [];
  const sold = await count(db, sql`select count(*) as n from seats where concert_id = ${sale.concertId} and status = 'SOLD'`);
  const confirmed = await count(db, sql`select count(*) as n from reservations where status = 'CONFIRMED'`);
  const confirmedSeats = await count(db, sql`select count(distinct seat_id) as n from reservations where status = 'CONFIRMED'`);
  const twice = await count(
    db,
    sql`select count(*) as n from (select seat_id from reservations where status = 'CONFIRMED' group by seat_id having count(*) > 1) t`,
  );
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

  // The server judges a hold at the moment the payment arrived (the integration tests prove it), so a
  // payment committed after heldUntil is a lapsed hold paid only if its request was sent after it.
  const committedLate = await db
    .selectFrom('payments as p')
    .innerJoin('reservations as r', 'r.id', 'p.reservation_id')
    .select(['p.id', 'r.held_until'])
    .where(sql<boolean>`p.paid_at > r.held_until`)
    .execute();
  const sentLate = committedLate.filter((p) => (paymentSentAt.get(p.id) ?? Infinity) >= new Date(p.held_until).getTime());
  audits.push({
    name: 'no payment for a lapsed hold',
    pass: sentLate.length === 0,
    detail: `${sentLate.length} of ${payments} payments were sent after their hold's heldUntil (${committedLate.length} committed after it, sent in time and judged at arrival); ${outcomes.get('paid too late (refused)') ?? 0} late payment attempts were refused`,
  });

  // A paid token ends, and whatever else it held is given back with it (at once, so the grace is generous).
  const heldAfterPayment = await count(
    db,
    sql`select count(*) as n from reservations r join payments p on p.queue_token_id = r.queue_token_id
        where r.id <> p.reservation_id and r.created_at > p.paid_at`,
  );
  const stillHeldAfterPayment = await count(
    db,
    sql`select count(*) as n from reservations r join payments p on p.queue_token_id = r.queue_token_id
        where r.id <> p.reservation_id and r.status = 'HELD' and r.held_until > p.paid_at + make_interval(secs => ${HOLD_RELEASE_GRACE_MS / 1000})`,
  );
  audits.push(auditHoldsWithinTurns(grantedHolds, { heldAfterPayment, stillHeldAfterPayment }, HOLD_RELEASE_GRACE_MS));

  audits.push({
    name: "the client's successful payments are the database's",
    pass: paymentIds.size === payments && paymentIds.size === sold,
    detail: `${paymentIds.size} payments answered 201 to fans, ${payments} in the database, ${sold} seats SOLD`,
  });
  return audits;
}

/** Admission order on the general line: see arrivalOvertakes. */
function auditAdmissionOrder(): Audit {
  const { checked, pairs, overtakes, worstMs } = arrivalOvertakes(fans);
  return {
    name: 'admission in arrival order among fans still in line',
    pass: overtakes === 0,
    detail: `${checked} admitted fans checked against ${formatInt(pairs)} surely-earlier fans; ${overtakes} admitted while a surely-earlier fan was later seen WAITING${
      overtakes ? ` (worst by ${worstMs.toFixed(0)} ms)` : ''
    }`,
  };
}

/** One operator sample: the general line's GET /admin/v1/queue, or with --sale the sale's GET /admin/v1/sales/{id}. */
interface Sample {
  /** Seconds since the fans started. */
  t: number;
  sentAt: number;
  receivedAt: number;
  active: number;
  activeLimit: number;
  waiting: number;
  phase?: string;
  free?: number;
  held?: number;
  sold?: number;
}

function auditActiveLimit(samples: Sample[], failed: number, everyMs: number): Audit {
  const over = samples.filter((s) => s.active > s.activeLimit);
  const peak = samples.reduce((m, s) => Math.max(m, s.active), 0);
  return {
    name: 'ACTIVE never above the limit',
    pass: samples.length > 0 && over.length === 0,
    detail: `${samples.length} samples every ${everyMs} ms (${failed} failed); peak ${peak} ACTIVE of limit ${opts.activeLimit}; ${over.length} samples over the limit`,
  };
}

/** Epoch milliseconds of a timestamp expression, as a number whatever the driver. */
async function epochMs(db: Database, query: RawBuilder<unknown>): Promise<number | undefined> {
  const { rows } = await query.execute(db);
  const t = (rows[0] as { t?: number | string | null } | undefined)?.t;
  return t === null || t === undefined ? undefined : Number(t);
}

/** What the sale's audits need from the database, read after the servers stopped. */
interface SaleRecord {
  /** The last payment's paid_at (epoch ms): the sold-out moment. */
  lastPaidAt: number | undefined;
  soldOutAt: number | undefined;
  /** heldUntil (epoch ms) of every hold that was not paid: the moments a seat may have come free. */
  releases: number[];
  spans: ReservationSpan[];
  /** Users whose CONFIRMED plus live HELD reservations exceed maxSeatsPerUser now, and the most any user has. */
  usersOverNow: number;
  mostNow: number;
}

async function readSaleRecord(db: Database, sale: Sale): Promise<SaleRecord> {
  const lastPaidAt = await epochMs(
    db,
    sql`select (extract(epoch from max(p.paid_at)) * 1000)::float8 as t from payments p join reservations r on r.id = p.reservation_id where r.concert_id = ${sale.concertId}`,
  );
  const soldOutAt = await epochMs(db, sql`select (extract(epoch from sold_out_at) * 1000)::float8 as t from sales where id = ${sale.saleId!}`);
  const { rows } = await sql<{ user_id: string; status: string; created: number | string; until: number | string }>`
    select user_id, status, (extract(epoch from created_at) * 1000)::float8 as created, (extract(epoch from held_until) * 1000)::float8 as until
    from reservations where concert_id = ${sale.concertId}`.execute(db);
  const spans = rows.map((r) => ({ userId: r.user_id, confirmed: r.status === 'CONFIRMED', createdAt: Number(r.created), heldUntil: Number(r.until) }));
  const perUser = await sql<{ n: number | string }>`
    select count(*) as n from reservations
    where concert_id = ${sale.concertId} and (status = 'CONFIRMED' or (status = 'HELD' and held_until > now()))
    group by user_id`.execute(db);
  const counts = perUser.rows.map((r) => Number(r.n));
  return {
    lastPaidAt,
    soldOutAt,
    releases: spans.filter((s) => !s.confirmed).map((s) => s.heldUntil),
    spans,
    usersOverNow: counts.filter((n) => n > sale.maxSeatsPerUser).length,
    mostNow: counts.reduce((m, n) => Math.max(m, n), 0),
  };
}

function auditSeatsPerUser(record: SaleRecord, sale: Sale): Audit {
  // Lapsed holds counted until 1 s before their heldUntil: only overlaps that surely existed.
  const peak = peakSeatsPerUser(record.spans, 1_000);
  const overInTime = peak.over(sale.maxSeatsPerUser);
  return {
    name: `no fan over maxSeatsPerUser (${sale.maxSeatsPerUser})`,
    pass: record.usersOverNow === 0 && overInTime === 0,
    detail: `CONFIRMED + live HELD per fan at the end: at most ${record.mostNow}, ${record.usersOverNow} fans over; replaying every reservation's hold span: at most ${peak.peak} at once, ${overInTime} fans over; ${
      saleStats.get('holds refused SEAT_LIMIT_REACHED') ?? 0
    } holds refused SEAT_LIMIT_REACHED`,
  };
}

/** p-quantile of unsorted values (nearest rank). */
function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

// ---- main --------------------------------------------------------------------------------------

function seatsPerDate(total: number): number[] {
  const dates: number[] = [];
  for (let left = total; left > 0; left -= 200) dates.push(Math.min(200, left));
  return dates;
}

interface PublicSale {
  commitment?: string;
  phase: string;
  draw: { commitment: string; seed: string | null };
}

async function main(): Promise<number> {
  installExitHandlers();
  if (opts.instances > 1 && !(opts.redis && opts.postgres)) throw new Error('--instances above 1 needs --redis and --postgres');
  if (opts.seats < 1 || opts.users < 1) throw new Error('--users and --seats must be at least 1');
  if (opts.sale && (opts.prequeueSeconds <= 0 || opts.earlyPercent < 0 || opts.earlyPercent > 100 || opts.maxSeatsPerUser < 1)) {
    throw new Error('--prequeue-seconds must be above 0, --early-percent within 0..100, --max-seats-per-user at least 1');
  }
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
  // The fans' browsers are not on the server's machine. Here they are, and 2,000 or 100,000 of them in
  // one process take a core's worth of CPU from a 2-core machine: measured, that alone put the embedded
  // smoke's slowest answers at 0.9-1.6 s instead of under 0.35 s. Once the service is running (it was
  // started at the usual priority), this process's main thread yields the CPU to it.
  const niceness = lowerOwnPriority(opts.nice);
  const admin = adminClient(urls, service.adminKey, 64);
  const samplerAdmin = adminClient(urls, service.adminKey, 2);
  process.stderr.write(`service: ${service.describe}; seed ${opts.seed}${opts.sale ? '; a sale with its own line' : ''}\n`);

  const { concertId } = await admin.createConcert(seatsPerDate(opts.seats), PRICE);
  const sale: Sale = { concertId, totalSeats: opts.seats, maxSeatsPerUser: opts.maxSeatsPerUser };
  const t = performance.now();
  const creating = progressWriter();
  const userIds = await admin.createUsers(opts.users, (n) => creating(n / opts.users, `creating fans ${formatInt(n)}/${formatInt(opts.users)}`));
  creating(1, `created ${formatInt(opts.users)} fans in ${((performance.now() - t) / 1000).toFixed(1)} s`, true);

  // The sale: its pre-queue opens now, the sale --prequeue-seconds later. Every read of the sale object
  // is kept: those answered before opensAt must not show the seed.
  const saleReads: SaleRead[] = [];
  let opensAtEpoch = 0;
  const readPublicSale = async (what: string): Promise<void> => {
    const res = await requestJson<PublicSale>({ method: 'GET', url: `${nextUrl()}/api/v1/sales/${sale.saleId}`, agent: samplerAdmin.agent, timeoutMs: 30_000 });
    if (res.status !== 200) {
      unexpected('GET /api/v1/sales/{id}', res);
      return;
    }
    saleReads.push({ what, commitment: res.body.draw.commitment, seed: res.body.draw.seed, answeredBeforeOpen: toEpoch(res.receivedAt) < opensAtEpoch });
  };
  let created: AdminSale | undefined;
  if (opts.sale) {
    const now = Date.now();
    const res = await admin.createSale({
      concertId,
      queueOpensAt: new Date(now).toISOString(),
      opensAt: new Date(now + opts.prequeueSeconds * 1000).toISOString(),
      activeLimit: opts.activeLimit,
      maxSeatsPerUser: opts.maxSeatsPerUser,
    });
    created = res.body;
    opensAtEpoch = Date.parse(created.opensAt);
    sale.saleId = created.saleId;
    sale.opensAt = fromEpoch(opensAtEpoch);
    if (created.phase !== 'PREQUEUE') note(anomalies, `a new sale whose pre-queue opened at once was ${created.phase}`);
    saleReads.push({
      what: 'POST /admin/v1/sales',
      commitment: created.draw.commitment,
      seed: created.draw.seed,
      answeredBeforeOpen: toEpoch(res.receivedAt) < opensAtEpoch,
    });
    await readPublicSale('GET /api/v1/sales/{id} at creation');
  }
  admin.close();

  // The run.
  const samples: Sample[] = [];
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  // One sample in flight at a time; a sample that fails (an overloaded server) is counted, not guessed.
  // A sale is sampled more often: its free seats are the basis of the admission-while-no-seat audit.
  const sampleEveryMs = opts.sale ? 250 : 500;
  let sampling: Promise<void> | undefined;
  let failedSamples = 0;
  const takeSample = async (): Promise<void> => {
    if (sale.saleId) {
      const res = await samplerAdmin.sale(sale.saleId);
      const s = res.body;
      samples.push({
        t: elapsed(),
        sentAt: res.sentAt,
        receivedAt: res.receivedAt,
        active: s.active,
        activeLimit: s.activeLimit,
        waiting: s.waiting,
        phase: s.phase,
        free: s.free,
        held: s.held,
        sold: s.sold,
      });
    } else {
      const sentAt = performance.now();
      const q = await samplerAdmin.queue();
      samples.push({ t: elapsed(), sentAt, receivedAt: performance.now(), active: q.active, activeLimit: q.activeLimit, waiting: q.waiting });
    }
  };
  const sampler = setInterval(() => {
    sampling ??= takeSample()
      .catch(() => void failedSamples++)
      .finally(() => (sampling = undefined));
  }, sampleEveryMs);
  // One more read of the sale shortly before it opens: the seed must still be secret.
  const preOpenRead = sale.saleId
    ? setTimeout(() => void readPublicSale('GET /api/v1/sales/{id} 1 s before opensAt'), Math.max(0, sale.opensAt! - 1_000 - performance.now()))
    : undefined;
  const progress = progressWriter();
  const bar = setInterval(() => {
    const q = samples[samples.length - 1];
    const where = q?.phase ? `${q.phase} · free ${q.free} held ${q.held} · ` : '';
    progress(
      Math.max(done / opts.users, sold / opts.seats),
      `${where}fans done ${formatInt(done)}/${formatInt(opts.users)} · joined ${formatInt(joined)} · admitted ${formatInt(admitted)} · active ${q?.active ?? '?'}/${opts.activeLimit} · sold ${sold}/${opts.seats} · ${elapsed().toFixed(0)} s`,
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
  clearTimeout(preOpenRead);
  await sampling;
  clearInterval(bar);
  clearTimeout(deadline);
  progress(1, `fans done ${formatInt(done)} · sold ${sold}/${opts.seats} · ${endedAt.toFixed(1)} s`, true);

  // A sale's after-the-end reads: every token polled once, the draw, the sale object.
  const finalPolls: FinalPoll[] = [];
  let draw: { commitment: string; seed: string; entries: string[] } | undefined;
  if (sale.saleId) {
    process.stderr.write(`polling ${formatInt(fans.length)} tokens once after the sell-out…\n`);
    const pollAgent = keepAliveAgent(64);
    await runPool(fans.length, 64, async (i) => {
      const entry = fans[i]!;
      try {
        const res = await requestJson<TokenAnswer>({
          method: 'GET',
          url: `${nextUrl()}/api/v1/queue/tokens/me`,
          headers: { authorization: `Bearer ${entry.token}` },
          agent: pollAgent,
          timeoutMs: 30_000,
        });
        finalPolls.push({ entry, status: res.status, answer: res.status === 200 ? res.body.status : (errorCode(res.body) ?? '?') });
      } catch {
        errors++;
        finalPolls.push({ entry, status: 0, answer: 'socket error' });
      }
    });
    pollAgent.destroy();
    const res = await requestJson<{ commitment: string; seed: string; entries: string[] }>({
      method: 'GET',
      url: `${urls[0]}/api/v1/sales/${sale.saleId}/draw`,
      agent: samplerAdmin.agent,
      timeoutMs: 60_000,
    });
    if (res.status === 200) draw = res.body;
    else unexpected('GET /api/v1/sales/{id}/draw', res);
    await readPublicSale('GET /api/v1/sales/{id} at the end');
  }
  samplerAdmin.close();
  agent.destroy();
  joinAgent.destroy();
  shopAgent.destroy();
  await service.stop();

  // The audit, on the database the servers used.
  const db = await openDatabase({ databaseUrl: service.databaseUrl, dataDir: dataDir ?? 'memory://' });
  let audits: Audit[];
  let record: SaleRecord | undefined;
  try {
    audits = await auditDatabase(db, sale);
    if (sale.saleId) record = await readSaleRecord(db, sale);
  } finally {
    await db.destroy();
  }
  const clockDriftMs = Date.now() - performance.now() - clockOffset;

  // ---- the sale's numbers and audits ----
  const saleLines: string[] = [];
  let saleNumbers: Record<string, unknown> | undefined;
  if (sale.saleId && record) {
    const rankOf = draw ? recomputeDraw(draw.seed, draw.entries) : new Map<string, number>();
    if (draw) audits.push(auditDrawRecord({ reads: saleReads, draw, entries: fans, rankOf }));
    else audits.push({ name: 'the draw', pass: false, detail: 'GET /api/v1/sales/{id}/draw did not answer the draw' });
    audits.push(...auditSaleOrder(fans, rankOf));
    const seatSamples = samples.filter((s) => s.free !== undefined).map((s) => ({ sentAt: s.sentAt, receivedAt: s.receivedAt, free: s.free! }));
    audits.push(auditAdmissionWithoutSeat(seatSamples, record.releases.map(fromEpoch), fans, { releaseMarginMs: 500, stalenessMs: 1_000 }));
    const soldOutPerf = record.soldOutAt !== undefined ? fromEpoch(record.soldOutAt) : undefined;
    audits.push(auditAfterSoldOut(finalPolls, fans, soldOutPerf, 2_000));
    audits.push(auditSeatsPerUser(record, sale));

    const soldOut = record.soldOutAt !== undefined && record.lastPaidAt !== undefined;
    const lastPaid = record.lastPaidAt !== undefined ? fromEpoch(record.lastPaidAt) : NaN;
    const told = fans.filter((f) => f.toldWhileWaiting && f.soldOutSeenAt !== Infinity);
    const lags = told.map((f) => (f.soldOutSeenAt - lastPaid) / 1000);
    const pollLags = told.filter((f) => !f.streams).map((f) => (f.soldOutSeenAt - lastPaid) / 1000);
    const streamLags = told.filter((f) => f.streams).map((f) => (f.soldOutSeenAt - lastPaid) / 1000);
    const admittedEntries = fans.filter((f) => f.activeSeenAt !== Infinity);
    const admittedFans = new Set(admittedEntries.map((f) => f.index)).size;
    const preEntries = draw?.entries.length ?? 0;
    saleNumbers = {
      saleId: sale.saleId,
      opensAt: new Date(opensAtEpoch).toISOString(),
      drawEntries: preEntries,
      postOpenEntries: fans.length - fans.filter((f) => rankOf.has(f.entryId)).length,
      joinsRefusedSoldOut: outcomes.get('sold out before joining') ?? 0,
      soldOutSecondsAfterOpen: soldOut ? (record.lastPaidAt! - opensAtEpoch) / 1000 : null,
      soldOutMarkedMsAfterLastPayment: soldOut ? record.soldOutAt! - record.lastPaidAt! : null,
      lastWaitingToldSeconds: lags.length ? Math.max(...lags) : null,
      lastWaitingToldAfterSoldOutAtSeconds:
        lags.length && record.soldOutAt !== undefined ? Math.max(...told.map((f) => f.soldOutSeenAt - fromEpoch(record.soldOutAt!))) / 1000 : null,
      waitingToldP50Seconds: lags.length ? quantile(lags, 0.5) : null,
      lastPollingToldSeconds: pollLags.length ? Math.max(...pollLags) : null,
      lastStreamingToldSeconds: streamLags.length ? Math.max(...streamLags) : null,
      toldWhileWaiting: told.length,
      admittedEntries: admittedEntries.length,
      admittedFans,
      clockDriftMs,
      ...Object.fromEntries(saleStats),
    };
    const s = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));
    saleLines.push(
      `sale: pre-queue ${opts.prequeueSeconds} s, ${opts.earlyPercent}% of fans due before opensAt (${new Date(opensAtEpoch).toISOString()}); ${formatInt(preEntries)} entries in the draw, ${formatInt(
        saleNumbers.postOpenEntries as number,
      )} joined after the open, ${formatInt(saleNumbers.joinsRefusedSoldOut as number)} joins refused SOLD_OUT`,
      soldOut
        ? `sold out ${s(saleNumbers.soldOutSecondsAfterOpen as number)} s after opensAt (last payment's paid_at; sold_out_at ${(saleNumbers.soldOutMarkedMsAfterLastPayment as number).toFixed(0)} ms after it)`
        : `not sold out: ${sold}/${opts.seats} sold when every fan had finished (${endedAt.toFixed(1)} s)`,
      `last WAITING fan told of the sell-out ${s(saleNumbers.lastWaitingToldSeconds as number | null, 2)} s after it (p50 ${s(saleNumbers.waitingToldP50Seconds as number | null, 2)} s over ${formatInt(
        told.length,
      )} fans; polling ${s(saleNumbers.lastPollingToldSeconds as number | null, 2)} s, streaming ${s(saleNumbers.lastStreamingToldSeconds as number | null, 2)} s; ${s(
        saleNumbers.lastWaitingToldAfterSoldOutAtSeconds as number | null,
        2,
      )} s after sold_out_at)`,
      `admitted ${formatInt(admittedEntries.length)} places in line (${formatInt(admittedFans)} distinct fans) for ${opts.seats} seats; ${[...saleStats.entries()].map(([k, n]) => `${k}: ${formatInt(n)}`).join(', ') || 'no repeat buyers'}`,
    );
  } else {
    audits.push(auditAdmissionOrder());
  }
  audits.push(auditActiveLimit(samples, failedSamples, sampleEveryMs));
  const errorFree = errors === 0 && [...anomalies.keys()].length === 0;
  audits.push({
    name: 'no transport errors or unexpected answers',
    pass: errorFree,
    detail: errorFree
      ? 'none'
      : `${errors} socket errors; ${JSON.stringify(Object.fromEntries(anomalies))}${anomalyExamples.size ? `; first messages: ${JSON.stringify(Object.fromEntries(anomalyExamples))}` : ''}`,
  });

  // ---- report ----
  const sellOut = soldAt > 0 ? (soldAt - started) / 1000 : undefined;
  const endpointRows = latency
    .summary()
    .map((s) => [s.label, formatInt(s.count), formatMs(s.p50), formatMs(s.p99), formatMs(s.max), JSON.stringify(s.statuses)]);
  const endpointHeader = ['endpoint', 'calls', 'p50 ms', 'p99 ms', 'max ms', 'statuses'];
  const outcomeLines = [...outcomes.entries()].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o}: ${formatInt(n)}`);
  const summary = [
    `boxoffice sale simulation — ${service.describe}${sale.saleId ? ', a scheduled sale with its own line' : ', the general line'}`,
    `${formatInt(opts.users)} fans, ${opts.seats} seats on ${seatsPerDate(opts.seats).length} dates, active limit ${opts.activeLimit}, hold ${opts.holdSeconds} s, seed ${opts.seed}; load generator at nice ${niceness}`,
    ...(sale.saleId
      ? saleLines
      : [
          sellOut !== undefined
            ? `sold out in ${sellOut.toFixed(1)} s after the first fan arrived`
            : `not sold out: ${sold}/${opts.seats} sold when every fan had finished (${endedAt.toFixed(1)} s)`,
        ]),
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
      {
        command,
        opts,
        sellOutSeconds: sellOut,
        endedAtSeconds: endedAt,
        joined,
        admitted,
        sold,
        sale: saleNumbers,
        outcomes: Object.fromEntries(outcomes),
        anomalies: Object.fromEntries(anomalies),
        endpoints: latency.summary(),
        audits,
        samples,
      },
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

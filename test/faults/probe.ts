// The fault suite's load and its record: every request the tests send during a fault goes through a
// Probe, which keeps status, error code, Retry-After and latency per request (a client-side timeout
// counts as a failure, never as a slow success), and the summary line the report quotes. Also here:
// the fans' steady load (charges, holds, payments, polls), the recovery timer and the SQL invariants.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createUser, expectStatus, join, mapLimit, poll, uniqueDate, waitFor, type Cluster } from '../cluster/harness.js';

/** An HTTP status, or how the request failed without one. */
export type Outcome = number | 'timeout' | 'neterr';

export interface Sample {
  op: string;
  /** The instance the request went to. */
  via: number;
  startedAt: number;
  endedAt: number;
  ms: number;
  status: Outcome;
  /** `error.code` of the contract's error body, when there is one. */
  code: string | undefined;
  retryAfter: string | null;
}

export interface Target {
  readonly index: number;
  readonly baseUrl: string;
  readonly alive: boolean;
}

export interface SendOptions {
  body?: unknown;
  token?: string;
  admin?: boolean;
  headers?: Record<string, string>;
}

/** A request no fault may make slower than this: beyond it, the answer counts as a hang. */
export const CLIENT_TIMEOUT_MS = 4_000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export function isOk(status: Outcome): boolean {
  return typeof status === 'number' && status >= 200 && status < 300;
}

export class Probe {
  readonly samples: Sample[] = [];

  constructor(
    private readonly adminKey: string,
    private readonly timeoutMs = CLIENT_TIMEOUT_MS,
  ) {}

  /** One request, recorded; never throws (a timeout or a refused connection is an outcome too). */
  async send<T = any>(target: Target, op: string, method: string, urlPath: string, o: SendOptions = {}): Promise<Sample & { body: T }> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers['authorization'] = `Bearer ${o.token}`;
    if (o.admin) headers['x-admin-key'] = this.adminKey;
    const startedAt = Date.now();
    let status: Outcome;
    let body: unknown;
    let retryAfter: string | null = null;
    try {
      const response = await fetch(target.baseUrl + urlPath, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    } catch (error) {
      const name = (error as Error).name;
      status = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'neterr';
      body = String(error);
    }
    const endedAt = Date.now();
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    const sample: Sample = {
      op,
      via: target.index,
      startedAt,
      endedAt,
      ms: endedAt - startedAt,
      status,
      code: typeof code === 'string' ? code : undefined,
      retryAfter,
    };
    this.samples.push(sample);
    return { ...sample, body: body as T };
  }

  /** Samples of requests started in [from, to), optionally only some. */
  between(from: number, to: number, keep: (s: Sample) => boolean = () => true): Sample[] {
    return this.samples.filter((s) => s.startedAt >= from && s.startedAt < to && keep(s));
  }
}

// ---- what the summary says --------------------------------------------------------------------------

/** `503×340 200×12`, most frequent first. */
export function formatCounts(samples: Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(String(s.status), (counts.get(String(s.status)) ?? 0) + 1);
  if (counts.size === 0) return 'none';
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
}

export function slowest(samples: Sample[]): number {
  return samples.reduce((max, s) => Math.max(max, s.ms), 0);
}

/** `i0 820 ms, i1 never (within 15000 ms)`. */
export function formatRecovery(times: (number | undefined)[], deadlineMs: number): string {
  return times.map((t, i) => `i${i} ${t === undefined ? `never (within ${deadlineMs} ms)` : `${t} ms`}`).join(', ');
}

/** Requests that broke the contract during a fault: a 5xx other than a proper 503, a hang, a dropped connection. */
export function contractBreaches(samples: Sample[], maxMs: number): Sample[] {
  return samples.filter((s) => {
    if (typeof s.status !== 'number') return true;
    if (s.ms > maxMs) return true;
    if (s.status >= 500) return !(s.status === 503 && s.code === 'SERVICE_UNAVAILABLE' && s.retryAfter !== null);
    return false;
  });
}

/** A few breaches, readable in a failure message. */
export function describeSamples(samples: Sample[], limit = 8): string {
  const shown = samples
    .slice(0, limit)
    .map((s) => `${s.op}@i${s.via} ${s.status}${s.code ? ` ${s.code}` : ''} ${s.ms} ms${s.retryAfter === null ? '' : ` retry-after ${s.retryAfter}`}`);
  return `${samples.length} request(s)${samples.length > 0 ? ': ' + shown.join('; ') : ''}${samples.length > limit ? '; …' : ''}`;
}

export interface FaultReport {
  /** `pg-restart`, `redis-reset`, … */
  name: string;
  /** API requests started while the dependency was away (until it was back). */
  during: Sample[];
  /** `/readyz` answers while it was away. */
  readyWhileDown?: Sample[];
  /** Per instance, ms from the dependency's return to its first 2xx (undefined: none before the deadline). */
  recovery?: (number | undefined)[];
  recoveryDeadlineMs?: number;
  recoveryLabel?: string;
  instances: readonly { index: number; alive: boolean; logs(): string }[];
  invariants: string;
  /** More `label: value` parts, printed before the invariants. */
  notes?: string[];
}

/** How a dead instance ended: the last lines of its output before the harness's exit note. */
function lastWords(logs: string): string {
  const lines = logs
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('[instance'));
  return lines.slice(-2).join(' / ').slice(0, 400);
}

/**
 * One line per fault for the report, e.g. `[fault pg-restart] during: 503×340 200×12 | slowest 1180 ms |
 * readyz while down: 503×60, slowest 9 ms | first 2xx after return: i0 820 ms, … | alive 3/3 | invariants: ok`,
 * plus one line per instance that died, with its last words.
 */
export function printSummary(r: FaultReport): string {
  const parts = [`during: ${formatCounts(r.during)}`, `slowest ${slowest(r.during)} ms`];
  if (r.readyWhileDown) parts.push(`readyz while down: ${formatCounts(r.readyWhileDown)}, slowest ${slowest(r.readyWhileDown)} ms`);
  if (r.recovery) parts.push(`${r.recoveryLabel ?? 'first 2xx after return'}: ${formatRecovery(r.recovery, r.recoveryDeadlineMs ?? 0)}`);
  parts.push(`alive ${r.instances.filter((i) => i.alive).length}/${r.instances.length}`);
  parts.push(...(r.notes ?? []));
  parts.push(`invariants: ${r.invariants}`);
  const line = `[fault ${r.name}] ${parts.join(' | ')}`;
  const deaths = r.instances.filter((i) => !i.alive).map((i) => `[fault ${r.name}] i${i.index} died: ${lastWords(i.logs())}`);
  console.log([line, ...deaths].join('\n'));
  return line;
}

// ---- recovery -------------------------------------------------------------------------------------

/**
 * From `since` (the moment the dependency is back), sends `request` to every target every `everyMs`
 * without waiting for earlier ones, until each has answered a 2xx or `deadlineMs` passed. Returns, per
 * target, the ms from `since` to the end of its first 2xx, or undefined.
 */
export async function measureFirstOk(
  targets: Target[],
  since: number,
  request: (target: Target) => Promise<Sample>,
  deadlineMs = 15_000,
  everyMs = 100,
): Promise<(number | undefined)[]> {
  const firstOk: (number | undefined)[] = targets.map(() => undefined);
  const inFlight = new Set<Promise<void>>();
  while (Date.now() < since + deadlineMs && firstOk.some((t) => t === undefined)) {
    for (const [i, target] of targets.entries()) {
      if (firstOk[i] !== undefined) continue;
      const sent: Promise<void> = request(target).then((s) => {
        if (isOk(s.status) && firstOk[i] === undefined) firstOk[i] = s.endedAt - since;
      });
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
    }
    await sleep(everyMs);
  }
  await Promise.allSettled([...inFlight]);
  return firstOk;
}

/** `/readyz` on every target every `everyMs` until stopped: what a load balancer would see. */
export function startReadyProbe(probe: Probe, targets: () => Target[], until: number, everyMs = 100): { stop(): Promise<void> } {
  let stopped = false;
  const loops = targets().map(async (t) => {
    while (!stopped && Date.now() < until) {
      const target = targets().find((x) => x.index === t.index);
      if (target) await probe.send(target, 'readyz', 'GET', '/readyz');
      await sleep(everyMs);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Each fan polls its token and reads its balance, in turn, spread over the targets, until stopped. */
export function startPolling(o: { probe: Probe; targets: () => Target[]; fans: { userId: string; token: string }[]; until: number; pauseMs?: number }): {
  stop(): Promise<void>;
} {
  let stopped = false;
  let next = 0;
  const loops = o.fans.map(async (fan, f) => {
    for (let i = f; !stopped && Date.now() < o.until; i++) {
      const live = o.targets();
      const target = live[next++ % Math.max(1, live.length)];
      if (!target) break;
      if (i % 2 === 0) await o.probe.send(target, 'poll', 'GET', '/api/v1/queue/tokens/me', { token: fan.token });
      else await o.probe.send(target, 'balance', 'GET', `/api/v1/users/${fan.userId}/points`, { token: fan.token });
      await sleep(o.pauseMs ?? 50);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

// ---- the fans' load -------------------------------------------------------------------------------

export interface Fan {
  userId: string;
  token: string;
  /** A hold made before the load starts, to pay for first. */
  heldReservationId?: string;
}

export interface SeatRef {
  concertId: string;
  date: string;
  seatNumber: number;
}

/** What the service acknowledged with a 2xx: each must be in the database afterwards. */
export interface Acknowledged {
  charges: { userId: string; key: string; amount: number }[];
  holds: { userId: string; reservationId: string }[];
  payments: { userId: string; paymentId: string; reservationId: string; key: string }[];
}

export function emptyAcknowledged(): Acknowledged {
  return { charges: [], holds: [], payments: [] };
}

export interface FanLoadOptions {
  probe: Probe;
  /** The instances to spread over (e.g. the live ones); read before every request. */
  targets: () => Target[];
  fans: Fan[];
  /** Seats to hold, taken in order by all fans together. */
  seats: SeatRef[];
  ack: Acknowledged;
  /** No request starts after this (epoch ms). */
  until: number;
  pauseMs?: number;
  maxRequestsPerFan?: number;
}

const TOKEN_GONE = new Set(['TOKEN_EXPIRED', 'INVALID_TOKEN', 'LINE_RESET']);

/**
 * Each fan, in a loop, as a real one would: top up (with an Idempotency-Key), poll, hold the next free
 * seat, pay for it (with an Idempotency-Key), join again after paying. A request that got no answer
 * or a 5xx is retried with the same key, as the contract invites; every 2xx is recorded in `ack`.
 */
export function startFanLoad(o: FanLoadOptions): { stop(): Promise<void> } {
  const pauseMs = o.pauseMs ?? 40;
  const maxRequests = o.maxRequestsPerFan ?? 2_000;
  let stopped = false;
  let nextSeat = 0;
  let nextTarget = 0;
  const pick = (): Target | undefined => {
    const live = o.targets();
    return live.length === 0 ? undefined : live[nextTarget++ % live.length];
  };
  const unanswered = (s: Sample) => typeof s.status !== 'number' || s.status >= 500;

  const fanLoop = async (fan: Fan) => {
    let token: string | undefined = fan.token;
    let active = true;
    let held = fan.heldReservationId;
    let pendingCharge: { key: string; amount: number } | undefined;
    let pendingPay: { key: string; reservationId: string; token: string } | undefined;
    let step = 0;
    for (let sent = 0; !stopped && Date.now() < o.until && sent < maxRequests; sent++) {
      const target = pick();
      if (!target) break;
      const { userId } = fan;
      if (!token) {
        const r = await o.probe.send(target, 'join', 'POST', '/api/v1/queue/tokens', { body: { userId } });
        if (isOk(r.status)) {
          token = r.body.token as string;
          active = r.body.status === 'ACTIVE';
        }
      } else if (pendingPay) {
        const pay = pendingPay;
        const r = await o.probe.send(target, 'pay', 'POST', '/api/v1/payments', {
          token: pay.token,
          headers: { 'idempotency-key': pay.key },
          body: { userId, reservationId: pay.reservationId },
        });
        if (isOk(r.status)) {
          o.ack.payments.push({ userId, paymentId: r.body.paymentId, reservationId: pay.reservationId, key: pay.key });
          pendingPay = undefined;
          held = undefined;
          token = undefined;
        } else if (!unanswered(r)) {
          pendingPay = undefined;
          held = undefined;
          if (r.code && TOKEN_GONE.has(r.code)) token = undefined;
        }
      } else if (pendingCharge) {
        const charge = pendingCharge;
        const r = await o.probe.send(target, 'charge', 'POST', `/api/v1/users/${userId}/points/charge`, {
          token,
          headers: { 'idempotency-key': charge.key },
          body: { amount: charge.amount },
        });
        if (isOk(r.status)) o.ack.charges.push({ userId, key: charge.key, amount: charge.amount });
        if (!unanswered(r)) pendingCharge = undefined;
        if (r.code && TOKEN_GONE.has(r.code)) token = undefined;
      } else if (!active) {
        const r = await o.probe.send(target, 'poll', 'GET', '/api/v1/queue/tokens/me', { token });
        if (isOk(r.status)) active = r.body.status === 'ACTIVE';
        else if (r.code && TOKEN_GONE.has(r.code)) token = undefined;
      } else {
        const kind = step++ % 4;
        if (kind === 0) {
          pendingCharge = { key: randomUUID(), amount: 1 + Math.floor(Math.random() * 5_000) };
          continue; // sent on the next turn, through the branch above
        }
        let r: Sample;
        if (kind === 2 && !held && nextSeat < o.seats.length) {
          const seat = o.seats[nextSeat++]!;
          const hold = await o.probe.send(target, 'hold', 'POST', '/api/v1/reservations', { token, body: { userId, ...seat } });
          if (isOk(hold.status)) {
            held = hold.body.reservationId as string;
            o.ack.holds.push({ userId, reservationId: held });
          }
          r = hold;
        } else if (kind === 3 && held) {
          pendingPay = { key: randomUUID(), reservationId: held, token };
          continue;
        } else if (kind === 2) {
          r = await o.probe.send(target, 'balance', 'GET', `/api/v1/users/${userId}/points`, { token });
        } else {
          r = await o.probe.send(target, 'poll', 'GET', '/api/v1/queue/tokens/me', { token });
        }
        if (r.code === 'TOKEN_NOT_ACTIVE') active = false;
        else if (r.code && TOKEN_GONE.has(r.code)) token = undefined;
      }
      await sleep(pauseMs);
    }
  };

  const loops = o.fans.map(fanLoop);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/**
 * Before a fault: a concert of `dates` × 200 seats, and `fanCount` fans with ACTIVE tokens, topped up
 * (acknowledged in `ack`) and each holding one seat. Needs QUEUE_ACTIVE_LIMIT >= fanCount.
 */
export async function prepareSale(
  cluster: Cluster,
  { fanCount, dates = 4, price = 10_000, topUp = 1_000_000, ack }: { fanCount: number; dates?: number; price?: number; topUp?: number; ack: Acknowledged },
): Promise<{ fans: Fan[]; seats: SeatRef[] }> {
  const days = Array.from({ length: dates }, () => uniqueDate());
  const created = await cluster.call('POST', '/admin/v1/concerts', {
    admin: true,
    body: {
      title: `Fault ${randomUUID().slice(0, 8)}`,
      venue: 'Fault Hall',
      dates: days.map((date) => ({ date, startsAt: `${date}T19:00:00.000Z`, seatCount: 200, price })),
    },
  });
  const { concertId } = expectStatus(created, 201, 'create concert');
  const seats: SeatRef[] = days.flatMap((date) => Array.from({ length: 200 }, (_, i) => ({ concertId, date, seatNumber: i + 1 })));
  const n = cluster.instances.length;
  const fans = await mapLimit(
    Array.from({ length: fanCount }, (_, i) => i),
    4,
    async (i): Promise<Fan> => {
      const userId = await createUser(cluster, i % n);
      const token = expectStatus(await join(cluster, userId, (i + 1) % n), 201, 'join').token;
      return { userId, token };
    },
  );
  await waitFor(
    async () => {
      for (const f of fans) {
        const state = expectStatus(await poll(cluster, f.token), 200, 'poll').status;
        if (state !== 'ACTIVE') throw new Error(`fan ${f.userId} is ${state}`);
      }
    },
    10_000,
    100,
  );
  // Seats are handed out from the end of the list so the load's holds (from the start) never collide with these.
  for (const [i, f] of fans.entries()) {
    const key = randomUUID();
    const charged = await cluster.call('POST', `/api/v1/users/${f.userId}/points/charge`, {
      token: f.token,
      headers: { 'idempotency-key': key },
      body: { amount: topUp },
    });
    expectStatus(charged, 200, 'top up');
    ack.charges.push({ userId: f.userId, key, amount: topUp });
    const seat = seats.pop()!;
    const held = await cluster.call('POST', '/api/v1/reservations', { token: f.token, body: { userId: f.userId, ...seat }, via: i % n });
    f.heldReservationId = expectStatus(held, 201, 'hold').reservationId;
    ack.holds.push({ userId: f.userId, reservationId: f.heldReservationId! });
  }
  return { fans, seats };
}

// ---- invariants, straight from the database -------------------------------------------------------

/**
 * The contract's promises about money and seats, checked in SQL against the instances' database.
 * Returns what is wrong (empty: all hold).
 */
export async function checkInvariants(databaseUrl: string, ack: Acknowledged): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  const failures: string[] = [];
  const count = async (what: string, query: string, params: unknown[] = []) => {
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from (${query}) q`, params);
    const n = Number(rows[0]?.n ?? 0);
    if (n > 0) failures.push(`${n} ${what}`);
  };
  try {
    await count(
      'SOLD seat(s) without a CONFIRMED reservation and its payment',
      `select s.id from seats s where s.status = 'SOLD' and not exists (
         select 1 from reservations r join payments p on p.reservation_id = r.id
         where r.id = s.reservation_id and r.status = 'CONFIRMED')`,
    );
    await count(
      'seat(s) with more than one CONFIRMED reservation',
      `select seat_id from reservations where status = 'CONFIRMED' group by seat_id having count(*) > 1`,
    );
    await count(
      'payment(s) without their ledger PAYMENT row',
      `select p.id from payments p where p.amount > 0 and not exists (
         select 1 from point_ledger l where l.payment_id = p.id and l.kind = 'PAYMENT' and l.amount = -p.amount)`,
    );
    await count(
      'user(s) whose balance is not the sum of their ledger',
      `select u.id from users u where u.balance <> coalesce((select sum(l.amount) from point_ledger l where l.user_id = u.id), 0)`,
    );
    await count(
      'acknowledged charge(s) missing from idempotency_keys',
      `select a.user_id from unnest($1::uuid[], $2::text[]) as a(user_id, key)
       where not exists (select 1 from idempotency_keys k where k.user_id = a.user_id and k.key = a.key)`,
      [ack.charges.map((c) => c.userId), ack.charges.map((c) => c.key)],
    );
    await count(
      'acknowledged payment(s) missing from payments',
      `select a.id from unnest($1::uuid[]) as a(id) where not exists (select 1 from payments p where p.id = a.id)`,
      [ack.payments.map((p) => p.paymentId)],
    );
    await count(
      'acknowledged hold(s) missing from reservations',
      `select a.id from unnest($1::uuid[]) as a(id) where not exists (select 1 from reservations r where r.id = a.id)`,
      [ack.holds.map((h) => h.reservationId)],
    );
  } finally {
    await client.end();
  }
  return failures;
}

/** `ok (42 charges, 10 payments, 12 holds acknowledged)` or what failed. */
export function formatInvariants(result: string[] | Error, ack?: Acknowledged): string {
  if (result instanceof Error) return `could not check (${result.message})`;
  const counted = ack ? ` (${ack.charges.length} charges, ${ack.holds.length} holds, ${ack.payments.length} payments acknowledged)` : '';
  return result.length === 0 ? `ok${counted}` : `FAILED: ${result.join('; ')}${counted}`;
}

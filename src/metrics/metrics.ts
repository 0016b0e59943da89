// The service's Prometheus metrics, one prom-client Registry per app (tests build several apps in one
// process, so the global default registry is never used). Modules record their events through the
// small recorder interfaces below; figures held elsewhere (the lines' numbers, seats, the database
// pool) are read at scrape time from what this instance already has in memory, so a scrape costs
// O(lines) and never a Redis SCAN or a query per token.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GENERAL_LINE } from '../queue/queue.store.js';

/** One line's figures as the queue service last read them (on its admission tick). */
export interface LineFigures {
  lineId: string;
  /** In line and not admitted yet, pre-queue included. */
  waiting: number;
  active: number;
}

/** One sale's seats as the sales service last counted them. */
export interface SeatFigures {
  lineId: string;
  free: number;
  held: number;
  sold: number;
}

/** What a scrape reads; each is cheap and in memory. */
export interface MetricSources {
  lines: () => Iterable<LineFigures>;
  seats: () => Iterable<SeatFigures>;
  pool: () => { inUse: number; waiting: number } | undefined;
}

export interface QueueMetrics {
  /** This instance's admission pass admitted tokens that joined at `joinedAt` (epoch ms), at `now`. */
  admitted(lineId: string, count: number, joinedAt: readonly number[], now: number): void;
  /** This instance's admission pass found `count` abandoned tokens. */
  abandoned(lineId: string, count: number): void;
}

/** Tells every recorder of admission passes (the metrics and the lines' history) of each one. */
export function everyQueueMetrics(...recorders: QueueMetrics[]): QueueMetrics {
  return {
    admitted: (lineId, count, joinedAt, now) => {
      for (const r of recorders) r.admitted(lineId, count, joinedAt, now);
    },
    abandoned: (lineId, count) => {
      for (const r of recorders) r.abandoned(lineId, count);
    },
  };
}

export interface SaleMetrics {
  /** This instance recorded the sale of this line as sold out (once per sale, across instances). */
  soldOut(lineId: string): void;
}

export interface HoldMetrics {
  holdDecided(outcome: 'won' | 'refused'): void;
}

export type ReplayedEndpoint = 'payments' | 'points.charge';

export interface PaymentMetrics {
  paid(amount: number): void;
  replayed(endpoint: ReplayedEndpoint): void;
}

export interface PointsMetrics {
  charged(amount: number): void;
  replayed(endpoint: ReplayedEndpoint): void;
}

export interface StreamMetrics {
  streamOpened(): void;
  streamClosed(): void;
}

export interface RedisMetrics {
  /** One queue script's round trip, start to answer. */
  redisCommand(script: string, seconds: number): void;
}

/** HTTP durations in seconds: a poll is a few ms, a refused request under 2 s. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Waits in line, join to admission, in seconds: from an empty line to hours of a big on-sale. */
export const WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400];
const REDIS_BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.5];

/** The route label of a request that matched no route: one label for every unknown path. */
export const UNMATCHED_ROUTE = 'unmatched';

type Observe = (seconds: number) => void;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: MetricSources | undefined;

  new Gauge({
    name: 'boxoffice_queue_waiting',
    help: 'Tokens in line not admitted yet, pre-queue included (the line is shared: every instance reports the same figure)',
    labelNames: ['line'] as const,
    registers,
    collect() {
      this.reset();
      for (const line of sources?.lines() ?? []) this.set({ line: line.lineId }, line.waiting);
    },
  });
  new Gauge({
    name: 'boxoffice_queue_active',
    help: 'ACTIVE tokens of the line (shared: every instance reports the same figure)',
    labelNames: ['line'] as const,
    registers,
    collect() {
      this.reset();
      for (const line of sources?.lines() ?? []) this.set({ line: line.lineId }, line.active);
    },
  });
  const admittedTotal = new Counter({
    name: 'boxoffice_queue_admitted_total',
    help: "Tokens this instance's admission passes admitted",
    labelNames: ['line'] as const,
    registers,
  });
  const abandonedTotal = new Counter({
    name: 'boxoffice_queue_abandoned_total',
    help: "WAITING tokens this instance's admission passes found abandoned (silent for QUEUE_WAITING_IDLE_SECONDS) and skipped",
    labelNames: ['line'] as const,
    registers,
  });
  const waitSeconds = new Histogram({
    name: 'boxoffice_queue_wait_seconds',
    help: 'The wait admitted tokens actually had, from joining to admission (observed by the instance that admitted them)',
    labelNames: ['line'] as const,
    buckets: WAIT_BUCKETS,
    registers,
  });
  const soldOutTotal = new Counter({
    name: 'boxoffice_sale_sold_out_total',
    help: 'Sales this instance recorded as sold out (each sale counts once, on one instance)',
    labelNames: ['line'] as const,
    registers,
  });
  new Gauge({
    name: 'boxoffice_sale_seats',
    help: "Seats of each open sale's concert by state (free, held, sold), as last counted by the admission pass",
    labelNames: ['line', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const sale of sources?.seats() ?? []) {
        this.set({ line: sale.lineId, state: 'free' }, sale.free);
        this.set({ line: sale.lineId, state: 'held' }, sale.held);
        this.set({ line: sale.lineId, state: 'sold' }, sale.sold);
      }
    },
  });

  const httpDuration = new Histogram({
    name: 'boxoffice_http_request_duration_seconds',
    help: `HTTP requests by method, route pattern (${UNMATCHED_ROUTE} for any unknown path) and status code`,
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });

  const holds = new Counter({
    name: 'boxoffice_holds_total',
    help: 'Seat holds: won, or refused because the seat was held or sold',
    labelNames: ['outcome'] as const,
    registers,
  });
  const holdWon = holds.labels('won');
  const holdRefused = holds.labels('refused');
  // Series that exist from the start read 0 rather than nothing, so rate() sees their first event.
  holdWon.inc(0);
  holdRefused.inc(0);
  const payments = new Counter({ name: 'boxoffice_payments_total', help: 'Payments made (replays not counted)', registers });
  const paymentsWon = new Counter({ name: 'boxoffice_payments_won_total', help: 'Won paid for seats', registers });
  const charges = new Counter({ name: 'boxoffice_charges_total', help: 'Point top-ups made (replays not counted)', registers });
  const chargesWon = new Counter({ name: 'boxoffice_charges_won_total', help: 'Won topped up', registers });
  const replays = new Counter({
    name: 'boxoffice_idempotent_replays_total',
    help: 'Requests answered with the stored answer of an earlier one with the same Idempotency-Key',
    labelNames: ['endpoint'] as const,
    registers,
  });
  for (const endpoint of ['payments', 'points.charge'] satisfies ReplayedEndpoint[]) replays.inc({ endpoint }, 0);
  const streams = new Gauge({ name: 'boxoffice_sse_streams', help: 'Open Server-Sent Events streams of queue status on this instance', registers });
  new Gauge({
    name: 'boxoffice_db_pool_in_use',
    help: 'PostgreSQL connections in use (embedded: 1 while the one session is busy)',
    registers,
    collect() {
      this.set(sources?.pool()?.inUse ?? 0);
    },
  });
  new Gauge({
    name: 'boxoffice_db_pool_waiting',
    help: 'Callers waiting for a PostgreSQL connection (embedded: for the one session)',
    registers,
    collect() {
      this.set(sources?.pool()?.waiting ?? 0);
    },
  });
  const redisDuration = new Histogram({
    name: 'boxoffice_redis_command_duration_seconds',
    help: "Round trips of the queue store's Redis scripts, by script",
    labelNames: ['script'] as const,
    buckets: REDIS_BUCKETS,
    registers,
  });

  /** Lines whose series exist (at 0 or more). */
  const seenLines = new Set<string>();
  // Children per label set, made once: the per-request path only looks them up.
  const redisByScript = new Map<string, Observe>();
  /** route → method → status → observe. */
  const httpByRoute = new Map<string, Map<string, Observe[]>>();

  const recorder: QueueMetrics & SaleMetrics & HoldMetrics & PaymentMetrics & PointsMetrics & StreamMetrics & RedisMetrics = {
    admitted(lineId, count, joinedAt, now) {
      // A line's series start at 0 on its first pass: rate() cannot see a counter's first value, so a
      // series born at its first event would hide that event.
      if (!seenLines.has(lineId)) {
        seenLines.add(lineId);
        waitSeconds.zero({ line: lineId });
        if (lineId !== GENERAL_LINE) soldOutTotal.inc({ line: lineId }, 0);
      }
      admittedTotal.inc({ line: lineId }, count);
      if (joinedAt.length === 0) return;
      const wait = waitSeconds.labels(lineId);
      for (const t of joinedAt) wait.observe(Math.max(0, (now - t) / 1000));
    },
    abandoned(lineId, count) {
      abandonedTotal.inc({ line: lineId }, count);
    },
    soldOut(lineId) {
      soldOutTotal.inc({ line: lineId });
    },
    holdDecided(outcome) {
      (outcome === 'won' ? holdWon : holdRefused).inc();
    },
    paid(amount) {
      payments.inc();
      paymentsWon.inc(amount);
    },
    charged(amount) {
      charges.inc();
      chargesWon.inc(amount);
    },
    replayed(endpoint) {
      replays.inc({ endpoint });
    },
    streamOpened() {
      streams.inc();
    },
    streamClosed() {
      streams.dec();
    },
    redisCommand(script, seconds) {
      let observe = redisByScript.get(script);
      if (!observe) {
        const child = redisDuration.labels(script);
        observe = (s) => child.observe(s);
        redisByScript.set(script, observe);
      }
      observe(seconds);
    },
  };

  return {
    registry,
    ...recorder,

    /** Where scrapes read the figures other modules hold (set once they exist). */
    readFrom(next: MetricSources): void {
      sources = next;
    },

    /** One request's duration; `route` is the route's pattern (or UNMATCHED_ROUTE). */
    httpRequest(method: string, route: string, status: number, seconds: number): void {
      let byMethod = httpByRoute.get(route);
      if (!byMethod) httpByRoute.set(route, (byMethod = new Map()));
      let byStatus = byMethod.get(method);
      if (!byStatus) byMethod.set(method, (byStatus = []));
      let observe = byStatus[status];
      if (!observe) {
        const child = httpDuration.labels(method, route, String(status));
        observe = byStatus[status] = (s) => child.observe(s);
      }
      observe(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

// One load scenario through autocannon's programmatic API: a warm-up run that is thrown away, then the
// measured run, both closed-loop with a fixed number of keep-alive connections spread over the targets.
import autocannon from 'autocannon';
import { processCpuSeconds } from './process-cpu.js';
import { countsBetween, type RedisCommandCounter } from './redis-commands.js';
import { percentile } from './stats.js';

export interface ScenarioResult {
  name: string;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  /** Socket errors, timeouts included. */
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
  connections: number;
  note?: string;
  /** The Redis server's commands during the measured run, when the service runs on Redis. */
  redis?: RedisWindow;
  /** CPU time per answer during the measured run, in µs: the servers' (all instances, all threads; Linux only) and the load generator's own. */
  cpu?: { serverUs?: number; clientUs: number };
}

export interface RedisWindow {
  /** The whole server's commands over the window (INFO commandstats, the reader's INFO left out, scripts' inner commands in). */
  commands: number;
  perRequest: number;
  perSecond: number;
  byCommand: Record<string, number>;
  /** The service's queue-script round trips (from its /metrics): no other client's, no inner commands. */
  scriptRoundTrips: number;
  scriptRoundTripsPerRequest: number;
  byScript: Record<string, number>;
}

/** Reads the Redis server's counts around `run` and returns what ran in between, per request and second. */
export async function countRedisCommands<T extends { requests: number; durationSeconds: number }>(
  counter: RedisCommandCounter | undefined,
  run: () => Promise<T>,
): Promise<{ result: T; redis?: RedisWindow }> {
  if (!counter) return { result: await run() };
  const before = await counter.read();
  const result = await run();
  const during = countsBetween(before, await counter.read());
  const scriptRoundTrips = Object.values(during.scripts).reduce((a, b) => a + b, 0);
  return {
    result,
    redis: {
      commands: during.total,
      perRequest: result.requests > 0 ? during.total / result.requests : 0,
      perSecond: result.durationSeconds > 0 ? during.total / result.durationSeconds : 0,
      byCommand: during.byCommand,
      scriptRoundTrips,
      scriptRoundTripsPerRequest: result.requests > 0 ? scriptRoundTrips / result.requests : 0,
      byScript: during.scripts,
    },
  };
}

export interface CannonOptions {
  name: string;
  urls: string[];
  connections: number;
  duration: number;
  warmup: number;
  method?: 'GET' | 'POST';
  path: string;
  /** Called for every request: return the headers (and body) that make this one distinct. */
  vary?: (i: number) => { headers?: Record<string, string>; body?: string };
  /** The service's Redis: its commands are counted over the measured run (not the warm-up). */
  redisCounter?: RedisCommandCounter;
  /** The processes serving `urls`: their CPU time over the measured run is reported per answer. */
  serverPids?: readonly number[];
}

interface Run {
  result: autocannon.Result;
  /** Every answer's latency in ms (all statuses), at the resolution of process.hrtime. */
  latencies: Float64Array;
}

/** `counter` numbers the requests across a scenario's warm-up and measured runs, so `vary` never repeats one. */
function once(opts: CannonOptions, duration: number, counter: { next: number }): Promise<Run> {
  const vary = opts.vary;
  const request: autocannon.Request = {
    method: opts.method ?? 'GET',
    path: opts.path,
    ...(vary
      ? {
          setupRequest: (req: autocannon.Request) => {
            const v = vary(counter.next++);
            if (v.headers) req.headers = { ...req.headers, ...v.headers };
            if (v.body !== undefined) req.body = v.body;
            return req;
          },
        }
      : {}),
  };
  const options = {
    // autocannon spreads connections round-robin over several targets; its types only admit one.
    url: (opts.urls.length === 1 ? opts.urls[0] : opts.urls) as string,
    connections: opts.connections,
    duration,
    timeout: 10,
    headers: opts.method === 'POST' ? { 'content-type': 'application/json' } : {},
    requests: [request],
  };
  // autocannon's own histogram keeps whole milliseconds and 2xx only; sub-millisecond polls need more.
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  return new Promise((resolve, reject) => {
    const tracker = autocannon(options, (err, result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ result, latencies: latencies.subarray(0, count) });
    });
    tracker.on('response', (_client, _status, _bytes, responseTime) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
    });
  });
}

export async function runScenario(opts: CannonOptions): Promise<ScenarioResult> {
  const counter = { next: 0 };
  if (opts.warmup > 0) await once(opts, opts.warmup, counter);
  const serverBefore = processCpuSeconds(opts.serverPids ?? []);
  const clientBefore = process.cpuUsage();
  const { result: measured, redis } = await countRedisCommands(opts.redisCounter, async () => {
    const run = await once(opts, opts.duration, counter);
    return { ...run, requests: answeredIn(run.result), durationSeconds: run.result.duration };
  });
  const clientUsed = process.cpuUsage(clientBefore);
  const serverAfter = processCpuSeconds(opts.serverPids ?? []);
  const { result: r, latencies } = measured;
  const sorted = latencies.slice().sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = v.count ?? 0;
  const answered = answeredIn(r);
  return {
    name: opts.name,
    rps: answered / r.duration,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    requests: answered,
    errors: r.errors,
    non2xx: r.non2xx,
    statusCodes,
    durationSeconds: r.duration,
    connections: opts.connections,
    ...(redis ? { redis } : {}),
    ...(answered > 0
      ? {
          cpu: {
            ...(serverBefore !== undefined && serverAfter !== undefined ? { serverUs: ((serverAfter - serverBefore) * 1e6) / answered } : {}),
            clientUs: (clientUsed.user + clientUsed.system) / answered,
          },
        }
      : {}),
  };
}

/** Answers of any status. */
function answeredIn(result: autocannon.Result): number {
  let answered = 0;
  for (const v of Object.values(result.statusCodeStats ?? {})) answered += v.count ?? 0;
  return answered;
}

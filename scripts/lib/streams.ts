// The bench's streams scenario: N fans each hold a Server-Sent Events stream of a WAITING token open,
// then the line moves, first in steps (what keeping N streams current costs the server) and then all
// at once (how soon each stream hears that it was admitted).
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { AdminClient, IssuedToken } from './admin.js';
import { countsBetween, type CommandCounts, type RedisCommandCounter } from './redis-commands.js';
import { openSse, type SseStream } from './sse.js';
import { percentile } from './stats.js';

export interface StreamsOptions {
  urls: string[];
  admin: AdminClient;
  /** WAITING tokens, one stream each. */
  tokens: IssuedToken[];
  /** How long a stream may take to hear of its admission before it counts as never having heard. */
  deadlineMs: number;
  /** Seconds of the line moving in steps (and as many of the streams open and the line still, to compare). */
  stepSeconds: number;
  /** Admissions per second the steps aim at. */
  admissionsPerSecond: number;
  /** Streams being opened at once. */
  openConcurrency: number;
  redisCounter?: RedisCommandCounter;
}

export interface StreamsResult {
  streams: number;
  opened: number;
  /** Refused with 503 (the server's stream cap), counted apart from other refusals. */
  refused503: number;
  /** Other refusals by status; 0 is a connection that failed. */
  refusedOther: Record<string, number>;
  /** A first state other than WAITING (the line was not holding them). */
  notWaiting: number;
  openSeconds: number;
  /** The streams open and the line still. */
  idle?: { seconds: number; cores: number; events: number };
  /** The line moving in steps with the streams open. */
  steps?: {
    seconds: number;
    admitted: number;
    /** What the steps asked for: at most the option, less when too few wait to keep half the streams for the end. */
    aimedPerSecond: number;
    /** What they got: each step waits for its PATCH, so a server that falls behind slows them down. */
    admissionsPerSecond: number;
    cores: number;
    events: number;
    eventsPerSecond: number;
    /** The whole Redis server's commands, scripts' inner ones included (see redis-commands.ts). */
    redisCommands?: number;
    redisByCommand?: Record<string, number>;
    /** The service's own queue-script round trips, by script. */
    redisScripts?: Record<string, number>;
  };
  /** Everyone still waiting admitted by one PATCH. */
  admission: {
    /** Open streams still WAITING when it was triggered. */
    waiting: number;
    /** Tokens the PATCH admitted, streamed or not (others may wait ahead of the streams). */
    admitted: number;
    learned: number;
    /** Still not told ACTIVE at the deadline (or their stream ended first). */
    late: number;
    deadlineMs: number;
    /** How long the PATCH took to answer. */
    patchMs: number;
    /** From triggering the PATCH to each stream's ACTIVE state, ms. */
    p50: number;
    p90: number;
    p99: number;
    max: number;
    cores: number;
    /** The server's event-loop delay over the admission (prom-client's monitorEventLoopDelay), ms; max over instances. */
    serverLoopMaxMs?: number;
    serverLoopP99Ms?: number;
    /** The bench's own event-loop delay meanwhile: how late it may have read an event (none when too short to sample). */
    clientLoopMaxMs?: number;
    redisCommands?: number;
    redisScripts?: Record<string, number>;
  };
}

interface Fan {
  stream?: SseStream;
  firstStatus?: string;
  activeAt?: number;
  events: number;
  ended: boolean;
}

/** The soft limit on open files of this process, where the system says (Linux); undefined elsewhere. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** Sum of `process_cpu_seconds_total` over the instances, and the event-loop delay since the last scrape. */
interface ServerSample {
  cpuSeconds: number;
  loopMaxMs?: number;
  loopP99Ms?: number;
}

function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function sampleServers(urls: string[]): Promise<ServerSample | undefined> {
  const sample: ServerSample = { cpuSeconds: 0 };
  for (const url of urls) {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return undefined;
    const text = await res.text();
    sample.cpuSeconds += metricValue(text, 'process_cpu_seconds_total') ?? Number.NaN;
    // prom-client resets its event-loop histogram at every scrape: these cover the time since the last one.
    const max = metricValue(text, 'nodejs_eventloop_lag_max_seconds');
    const p99 = metricValue(text, 'nodejs_eventloop_lag_p99_seconds');
    if (max !== undefined) sample.loopMaxMs = Math.max(sample.loopMaxMs ?? 0, max * 1000);
    if (p99 !== undefined) sample.loopP99Ms = Math.max(sample.loopP99Ms ?? 0, p99 * 1000);
  }
  return sample;
}

function redisOf(counts: CommandCounts): { redisCommands: number; redisScripts: Record<string, number> } {
  return { redisCommands: counts.total, redisScripts: counts.scripts };
}

/** Round trips of all scripts together. */
export function scriptRoundTrips(scripts: Record<string, number> | undefined): number {
  return Object.values(scripts ?? {}).reduce((a, b) => a + b, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function runStreams(opts: StreamsOptions): Promise<StreamsResult> {
  const { urls, admin, tokens } = opts;
  const fans: Fan[] = tokens.map(() => ({ events: 0, ended: false }));
  const refusedOther: Record<string, number> = {};
  let refused503 = 0;
  let notWaiting = 0;
  let events = 0;
  // Resolved when every stream that was WAITING at the admission has been told ACTIVE.
  let awaited = -1;
  let allLearned: () => void = () => {};

  // ---- open the streams, a bounded number at a time (a burst of connects overflows the listen backlog)
  const openedAt = performance.now();
  let next = 0;
  const openOne = async (i: number) => {
    const fan = fans[i]!;
    const url = `${urls[i % urls.length]}/api/v1/queue/tokens/me/events?token=${encodeURIComponent(tokens[i]!.token)}`;
    let firstState: () => void = () => {};
    const first = new Promise<void>((resolve) => (firstState = resolve));
    fan.stream = openSse(url, {}, (data, receivedAt) => {
      const status = (data as { status?: unknown }).status;
      events++;
      fan.events++;
      if (fan.firstStatus === undefined) {
        fan.firstStatus = String(status);
        if (status !== 'WAITING') notWaiting++;
        firstState();
      }
      if (status === 'ACTIVE' && fan.activeAt === undefined) {
        fan.activeAt = receivedAt;
        if (awaited > 0 && --awaited === 0) allLearned();
      }
    });
    const done = fan.stream.done.then((end) => {
      fan.ended = true;
      if (fan.firstStatus !== undefined) return;
      if (end.status === 503) refused503++;
      else refusedOther[String(end.status)] = (refusedOther[String(end.status)] ?? 0) + 1;
    });
    await Promise.race([first, done]);
  };
  await Promise.all(
    Array.from({ length: Math.min(opts.openConcurrency, tokens.length) }, async () => {
      while (next < tokens.length) await openOne(next++);
    }),
  );
  const openSeconds = (performance.now() - openedAt) / 1000;
  const open = () => fans.filter((f) => f.firstStatus !== undefined && !f.ended);
  const opened = fans.filter((f) => f.firstStatus !== undefined).length;

  try {
    // ---- the streams open and the line still: the floor the steps are compared with
    const canSample = (await sampleServers(urls)) !== undefined;
    let idle: StreamsResult['idle'];
    let steps: StreamsResult['steps'];
    if (canSample && opts.stepSeconds > 0) {
      const before = (await sampleServers(urls))!;
      const eventsBefore = events;
      const t0 = performance.now();
      await sleep(opts.stepSeconds * 1000);
      const seconds = (performance.now() - t0) / 1000;
      const after = (await sampleServers(urls))!;
      idle = { seconds, cores: (after.cpuSeconds - before.cpuSeconds) / seconds, events: events - eventsBefore };

      // ---- the line moving in steps of a quarter second, every stream's position changing each time.
      // At least half the streams stay WAITING for the all-at-once admission.
      const q = await admin.queue();
      const stillWaiting = open().filter((f) => f.activeAt === undefined).length;
      const stepsCount = Math.max(1, Math.round(opts.stepSeconds * 4));
      const budget = Math.max(0, Math.min(opts.admissionsPerSecond * opts.stepSeconds, q.waiting - Math.ceil(stillWaiting / 2)));
      const perStep = Math.floor(budget / stepsCount);
      if (perStep > 0) {
        const redisBefore = await opts.redisCounter?.read();
        const cpuBefore = (await sampleServers(urls))!;
        const eventsAtStart = events;
        const start = performance.now();
        let active = q.active;
        for (let k = 1; k <= stepsCount; k++) {
          active = (await admin.patchQueue({ activeLimit: q.active + k * perStep })).active;
          await sleep(start + k * 250 - performance.now());
        }
        const seconds = (performance.now() - start) / 1000;
        const cpuAfter = (await sampleServers(urls))!;
        const redisAfter = await opts.redisCounter?.read();
        const admitted = active - q.active;
        const stepEvents = events - eventsAtStart;
        const redis = redisBefore && redisAfter ? countsBetween(redisBefore, redisAfter) : undefined;
        steps = {
          seconds,
          admitted,
          aimedPerSecond: (perStep * stepsCount) / opts.stepSeconds,
          admissionsPerSecond: admitted / seconds,
          cores: (cpuAfter.cpuSeconds - cpuBefore.cpuSeconds) / seconds,
          events: stepEvents,
          eventsPerSecond: stepEvents / seconds,
          ...(redis ? { redisCommands: redis.total, redisByCommand: redis.byCommand, redisScripts: redis.scripts } : {}),
        };
      }
    }

    // ---- everyone admitted at once
    const pending = open().filter((f) => f.activeAt === undefined);
    awaited = pending.length;
    const learned = new Promise<void>((resolve) => {
      allLearned = resolve;
      if (awaited === 0) resolve();
    });
    const q = await admin.queue();
    const redisBefore = await opts.redisCounter?.read();
    const sampledFrom = performance.now();
    const before = canSample ? await sampleServers(urls) : undefined;
    const clientLoop = monitorEventLoopDelay({ resolution: 10 });
    clientLoop.enable();
    const triggeredAt = performance.now();
    const { active } = await admin.patchQueue({ activeLimit: Math.min(1_000_000, q.active + q.waiting + pending.length) });
    const patchMs = performance.now() - triggeredAt;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([learned, new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.deadlineMs)))]);
    clearTimeout(timer);
    clientLoop.disable();
    const after = canSample ? await sampleServers(urls) : undefined;
    const sampledSeconds = (performance.now() - sampledFrom) / 1000;
    const redisAfter = await opts.redisCounter?.read();

    const latencies = Float64Array.from(
      pending.filter((f) => f.activeAt !== undefined && f.activeAt - triggeredAt <= opts.deadlineMs).map((f) => f.activeAt! - triggeredAt),
    ).sort();
    const result: StreamsResult = {
      streams: tokens.length,
      opened,
      refused503,
      refusedOther,
      notWaiting,
      openSeconds,
      ...(idle ? { idle } : {}),
      ...(steps ? { steps } : {}),
      admission: {
        waiting: pending.length,
        admitted: active - q.active,
        learned: latencies.length,
        late: pending.length - latencies.length,
        deadlineMs: opts.deadlineMs,
        patchMs,
        p50: percentile(latencies, 0.5),
        p90: percentile(latencies, 0.9),
        p99: percentile(latencies, 0.99),
        max: latencies[latencies.length - 1] ?? 0,
        cores: before && after ? (after.cpuSeconds - before.cpuSeconds) / sampledSeconds : Number.NaN,
        ...(after?.loopMaxMs !== undefined ? { serverLoopMaxMs: after.loopMaxMs } : {}),
        ...(after?.loopP99Ms !== undefined ? { serverLoopP99Ms: after.loopP99Ms } : {}),
        ...(clientLoop.count > 0 ? { clientLoopMaxMs: clientLoop.max / 1e6 } : {}),
        ...(redisBefore && redisAfter ? redisOf(countsBetween(redisBefore, redisAfter)) : {}),
      },
    };
    return result;
  } finally {
    for (const f of fans) f.stream?.close();
    await Promise.all(fans.map((f) => f.stream?.done));
  }
}

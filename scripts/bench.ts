// `npm run bench`: how fast is boxoffice on this machine, against a bare node:http server in the same
// run. Starts the service itself, seeds it through the admin API, measures each scenario for a fixed
// time after a warm-up, prints a table and writes bench-results/<timestamp>.{json,md,svg}.
import autocannon from 'autocannon';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { adminClient, type AdminClient, type IssuedToken } from './lib/admin.js';
import { parseFlags } from './lib/args.js';
import { countRedisCommands, runScenario, type ScenarioResult } from './lib/cannon.js';
import { formatProfile, summariseProfile, timeUnder } from './lib/profile.js';
import { redisCommandCounter, type RedisCommandCounter } from './lib/redis-commands.js';
import {
  cleanUp,
  ensureBuilt,
  installExitHandlers,
  repoRoot,
  SERVICE_FLAGS,
  SERVICE_USAGE,
  serviceRedisUrl,
  startBareServer,
  startService,
  useServiceFlags,
} from './lib/service.js';
import { formatInt, formatMs, markdownTable, percentile, textTable } from './lib/stats.js';
import { openFileLimit, runStreams, scriptRoundTrips, type StreamsResult } from './lib/streams.js';
import { renderChart } from './lib/svg.js';

const USAGE = `usage: npm run bench -- [flags]
  --postgres            use a throwaway database on the local PostgreSQL (default: embedded PGlite)
  --redis               use the Redis queue store (local Redis, a unique key prefix)
  --instances N         N server processes on consecutive ports (needs --redis and --postgres)
${SERVICE_USAGE}
  --duration S          measured seconds per scenario (default 10)
  --warmup S            warm-up seconds per scenario, thrown away (default 3)
  --connections C       autocannon connections (default 50)
  --race-users N        users with ACTIVE tokens racing for 50 seats (default 10000)
  --race-sockets N      concurrent sockets firing the race (default 256)
  --waiting N           WAITING tokens during the large poll run (default 100000; more if the token
                        issue run reached more users, whose tokens stay in line)
  --waiting-small N     WAITING tokens during the small poll run (default 1000)
  --poll-only           only the baseline and the two poll runs (for profiling)
  --no-compare          with --redis, leave out the small poll on an embedded service started beside
                        it in the same run (the issue's Redis-mode ≥ 0.8× embedded target)
  --streams N           only the streams run: N Server-Sent Event streams of WAITING tokens, then the
                        line moves (default with --smoke: 200, after the other scenarios)
  --stream-deadline S   seconds a stream may take to hear of its admission (default 10)
  --stream-rate R       admissions per second while the line moves in steps with the streams open (default 400)
  --stream-steps S      seconds of those steps, and of the streams open with the line still (default 5; --smoke 1)
  --scrape S            GET /metrics on every instance every S seconds throughout, as Prometheus would
  --profile             run the server under --cpu-prof and summarise where its time went
  --build               rebuild dist/ first (default: only when missing)
  --publish             also copy the chart to docs/bench.svg for the README
  --smoke               1-second runs with small counts, for CI`;

const flags = parseFlags(
  process.argv.slice(2),
  {
    booleans: ['postgres', 'redis', 'smoke', 'publish', 'poll-only', 'profile', 'build', 'no-compare'],
    strings: SERVICE_FLAGS.strings,
    numbers: [
      ...SERVICE_FLAGS.numbers,
      'scrape',
      'instances',
      'duration',
      'warmup',
      'connections',
      'race-users',
      'race-sockets',
      'waiting',
      'waiting-small',
      'streams',
      'stream-deadline',
      'stream-rate',
      'stream-steps',
    ],
  },
  USAGE,
);
useServiceFlags(flags, USAGE);

const smoke = flags.bool('smoke');
const pollOnly = flags.bool('poll-only');
// `--streams 0` with --smoke leaves the streams out instead.
const streamsOnly = flags.num('streams', 0) > 0;
const settings = {
  postgres: flags.bool('postgres'),
  redis: flags.bool('redis'),
  // An embedded run would only be compared with itself.
  compare: flags.bool('redis') && !flags.bool('no-compare'),
  instances: flags.num('instances', 1),
  duration: flags.num('duration', smoke ? 1 : 10),
  warmup: flags.num('warmup', smoke ? 0.2 : 3),
  connections: flags.num('connections', smoke ? 20 : 50),
  raceUsers: pollOnly || streamsOnly ? 0 : flags.num('race-users', smoke ? 200 : 10_000),
  raceSockets: flags.num('race-sockets', 256),
  waitingSmall: streamsOnly ? 0 : flags.num('waiting-small', smoke ? 100 : 1_000),
  waitingLarge: streamsOnly ? 0 : flags.num('waiting', smoke ? 1_000 : pollOnly ? 0 : 100_000),
  scrapeSeconds: flags.num('scrape', 0),
  streams: flags.num('streams', smoke && !pollOnly ? 200 : 0),
  streamDeadlineSeconds: flags.num('stream-deadline', 10),
  streamRate: flags.num('stream-rate', 400),
  streamStepSeconds: flags.num('stream-steps', smoke ? 1 : 5),
};
const RACE_SEATS = 50;
/**
 * The warm-up race's users, apart from the measured race's: a token holds one seat at a time (409
 * HOLD_EXISTS), so a warm-up winner would be refused in the measured race whatever seat it tried.
 */
const warmupRaceUsers = settings.warmup > 0 ? Math.min(2_000, settings.raceUsers) : 0;
const PRICE = 50_000;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function shuffled<T>(items: T[]): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface RaceResult extends ScenarioResult {
  /** From the first request written to the last answer received: the race itself. */
  raceMs: number;
  /** Around the autocannon call, whose end is noticed on its 1 s tick: an upper bound, for reference. */
  wallMs: number;
  held: number;
  conflicts: number;
  other: Record<string, number>;
}

/**
 * N users with ACTIVE tokens each try to hold one seat of a 50-seat date, all at once. Seats are dealt
 * round-robin over the shuffled users, so every seat is contested (about N/50 each) and the only right
 * answer is exactly 50 holds and N-50 conflicts.
 */
async function runRace(
  urls: string[],
  users: IssuedToken[],
  concertId: string,
  date: string,
  sockets: number,
  redisCounter?: RedisCommandCounter,
): Promise<RaceResult> {
  // autocannon sends exactly one request per fan over `sockets` keep-alive connections; its client
  // costs far less per request than node:http's, so the race measures the server, not the client.
  let next = 0;
  const latencies = new Float64Array(users.length);
  let answered = 0;
  let lastAnsweredAt = 0;
  // autocannon writes every connection's first request synchronously while it is being called (before
  // the sockets connect), so this is when the first request was sent, to within the call's own cost.
  const { result: run, redis } = await countRedisCommands(redisCounter, async () => {
    const started = performance.now();
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const tracker = autocannon(
        {
          url: (urls.length === 1 ? urls[0] : urls) as string,
          connections: Math.min(sockets, users.length),
          amount: users.length,
          timeout: 30,
          headers: { 'content-type': 'application/json' },
          requests: [
            {
              method: 'POST',
              path: '/api/v1/reservations',
              setupRequest: (req: autocannon.Request) => {
                const i = next++;
                const u = users[i % users.length]!;
                req.headers = { ...req.headers, authorization: `Bearer ${u.token}` };
                req.body = JSON.stringify({ userId: u.userId, concertId, date, seatNumber: 1 + (i % RACE_SEATS) });
                return req;
              },
            },
          ],
        },
        (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
      );
      tracker.on('response', (_client, _status, _bytes, responseTime) => {
        lastAnsweredAt = performance.now();
        if (answered < latencies.length) latencies[answered++] = responseTime;
      });
    });
    const wallMs = performance.now() - started;
    // autocannon notices that the last connection is done on its 1 s tick, so the wall time is rounded up
    // to the next second; the race lasts until its last answer.
    const raceMs = answered > 0 ? lastAnsweredAt - started : wallMs;
    return { result, wallMs, raceMs, requests: users.length, durationSeconds: raceMs / 1000 };
  });
  const { result, wallMs, raceMs } = run;
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = v.count ?? 0;
  const other: Record<string, number> = {};
  for (const [code, count] of Object.entries(statusCodes)) if (code !== '201' && code !== '409') other[code] = count;
  const sorted = latencies.subarray(0, answered).sort();
  const held = statusCodes['201'] ?? 0;
  const conflicts = statusCodes['409'] ?? 0;
  return {
    name: `seat race (${formatInt(users.length)} → ${RACE_SEATS} seats)`,
    rps: answered / (raceMs / 1000),
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    requests: users.length,
    errors: result.errors + result.timeouts,
    non2xx: users.length - held - result.errors - result.timeouts,
    statusCodes,
    durationSeconds: raceMs / 1000,
    connections: sockets,
    raceMs,
    wallMs,
    ...(redis ? { redis } : {}),
    held,
    conflicts,
    other,
  };
}

/** The race's length and what each attempt waited, for the report. */
function raceLine(race: RaceResult): string {
  return (
    `seat race: ${formatInt(race.requests)} attempts answered in ${formatInt(race.raceMs)} ms from the first sent to the last answered ` +
    `(${formatInt(race.rps)} req/s; autocannon returned after ${formatInt(race.wallMs)} ms); ` +
    `per attempt p50 ${formatMs(race.p50)}, p90 ${formatMs(race.p90)}, p99 ${formatMs(race.p99)}, max ${formatMs(race.max)} ms`
  );
}

/**
 * The streams run: its own users and tokens, all WAITING behind whoever waits already (the service's
 * active limit is reached), one stream each.
 */
async function measureStreams(admin: AdminClient, urls: string[], redisCounter: RedisCommandCounter | undefined): Promise<StreamsResult> {
  const count = settings.streams;
  log(`streams: creating ${formatInt(count)} users and WAITING tokens…`);
  const userIds = await admin.createUsers(count);
  const tokens = await admin.issueTokens(userIds, (n) => process.stderr.write(`\r  ${formatInt(n)} tokens`));
  if (count >= 1000) process.stderr.write('\n');
  const admitted = tokens.filter((t) => t.status !== 'WAITING').length;
  if (admitted > 0) throw new Error(`${admitted} of the streams' tokens were admitted at issue; the active limit is not holding`);
  log(`measuring: ${formatInt(count)} streams, the line moving at up to ${settings.streamRate}/s for ${settings.streamStepSeconds} s, then everyone admitted`);
  return runStreams({
    urls,
    admin,
    tokens,
    deadlineMs: settings.streamDeadlineSeconds * 1000,
    stepSeconds: settings.streamStepSeconds,
    admissionsPerSecond: settings.streamRate,
    openConcurrency: 256,
    ...(redisCounter ? { redisCounter } : {}),
  });
}

/** The streams run in a few lines, for the terminal and the Markdown. */
function streamsLines(s: StreamsResult): string[] {
  const a = s.admission;
  const refusedOther = Object.entries(s.refusedOther)
    .map(([status, n]) => `${formatInt(n)} × ${status === '0' ? 'connection failed' : status}`)
    .join(', ');
  const lines = [
    `streams: ${formatInt(s.opened)} of ${formatInt(s.streams)} opened in ${s.openSeconds.toFixed(1)} s, ${formatInt(s.refused503)} refused 503${refusedOther ? `, ${refusedOther}` : ''}${
      s.notWaiting ? `, ${formatInt(s.notWaiting)} not WAITING at first` : ''
    }`,
    `admission → ACTIVE on the stream (${formatInt(a.waiting)} streams among ${formatInt(a.admitted)} admitted by one PATCH, which answered in ${formatMs(a.patchMs)} ms): ` +
      `p50 ${formatMs(a.p50)}, p90 ${formatMs(a.p90)}, p99 ${formatMs(a.p99)}, max ${formatMs(a.max)} ms; ` +
      `${formatInt(a.learned)} learned within ${a.deadlineMs / 1000} s, ${formatInt(a.late)} never did`,
    `  meanwhile: server event loop delay ${
      a.serverLoopMaxMs === undefined ? 'not exposed' : `max ${formatMs(a.serverLoopMaxMs)} ms, p99 ${formatMs(a.serverLoopP99Ms ?? 0)} ms`
    } (nodejs_eventloop_lag_*), the bench's own ${a.clientLoopMaxMs === undefined ? 'too short to sample' : `max ${formatMs(a.clientLoopMaxMs)} ms`}; server CPU ${a.cores.toFixed(2)} cores` +
      (a.redisCommands !== undefined
        ? `; ${formatInt(a.redisCommands)} Redis commands (${formatInt(scriptRoundTrips(a.redisScripts))} of the service's script round trips) for ${formatInt(a.admitted)} admitted`
        : ''),
  ];
  if (s.steps) {
    const st = s.steps;
    lines.push(
      `stream updates cost ${st.cores.toFixed(2)} cores at ${formatInt(st.admissionsPerSecond)} admissions/s with ${formatInt(s.opened)} streams open ` +
        `(${formatInt(st.admitted)} admitted in ${st.seconds.toFixed(1)} s, aimed at ${formatInt(st.aimedPerSecond)}/s, each step's PATCH awaited; ` +
        `${formatInt(st.eventsPerSecond)} events/s delivered${
          st.redisCommands !== undefined
            ? `, per event ${(st.redisCommands / Math.max(1, st.events)).toFixed(2)} Redis commands and ${(scriptRoundTrips(st.redisScripts) / Math.max(1, st.events)).toFixed(2)} script round trips`
            : ''
        })${s.idle ? `; ${s.idle.cores.toFixed(2)} cores with the line still` : ''}`,
    );
  } else {
    lines.push('stream updates: not measured (too few waiting to move the line in steps, or /metrics not readable)');
  }
  return lines;
}

/** Each request the next token's Authorization header, round the list. */
function bearer(tokens: { token: string }[]): (i: number) => { headers: Record<string, string> } {
  return (i) => ({ headers: { authorization: `Bearer ${tokens[i % tokens.length]!.token}` } });
}

/**
 * The small poll on an embedded service (PGlite, in-process queue) started beside the main one, with the
 * same settings and the same line: as many ACTIVE as the race users, then the small count WAITING. The
 * issue's target compares the Redis-mode poll with it, and only the same run shares the machine's
 * conditions. One instance, whatever --instances says, and its Redis is not counted (it has none).
 */
async function measureEmbeddedPoll(env: Record<string, string>): Promise<ScenarioResult> {
  const embedded = await startService({ postgres: false, redis: false, instances: 1, label: 'bench', env, beside: true });
  log(`embedded service for the comparison at ${embedded.urls.join(', ')}`);
  const admin = adminClient(embedded.urls, embedded.adminKey, 64);
  try {
    const activeCount = settings.raceUsers + warmupRaceUsers;
    const userIds = await admin.createUsers(activeCount + settings.waitingSmall);
    await admin.issueTokens(userIds.slice(0, activeCount));
    if (activeCount > 0) await waitFor('the embedded service to admit its ACTIVE users', async () => (await admin.queue()).active >= activeCount, 120_000);
    const tokens = await admin.issueTokens(userIds.slice(activeCount));
    if (tokens.some((tk) => tk.status !== 'WAITING')) throw new Error('a poll token of the embedded service was admitted; the active limit is not holding');
    log(`measuring: poll, embedded, ${formatInt(settings.waitingSmall)} WAITING`);
    return await runScenario({
      urls: embedded.urls,
      serverPids: embedded.pids,
      connections: settings.connections,
      duration: settings.duration,
      warmup: settings.warmup,
      name: `queue poll, embedded (${formatInt(settings.waitingSmall)} waiting, same run)`,
      path: '/api/v1/queue/tokens/me',
      vary: bearer(tokens),
    });
  } finally {
    admin.close();
    await embedded.stop();
  }
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace(/\..+$/, 'Z');
}

async function main(): Promise<void> {
  installExitHandlers();
  const { postgres, redis, instances } = settings;
  if (instances > 1 && !redis) throw new Error('--instances above 1 needs --redis (and --postgres)');
  ensureBuilt(flags.bool('build'));
  // Each stream is a socket here and one in the server (a child of this process, with the same limit):
  // refused before anything starts rather than as EMFILE halfway.
  const fileLimit = openFileLimit();
  if (settings.streams > 0 && fileLimit !== undefined && settings.streams + 500 > fileLimit) {
    throw new Error(`--streams ${settings.streams} needs about ${settings.streams + 500} open files per process; the limit here is ${fileLimit} (ulimit -n)`);
  }

  const profileDir = flags.bool('profile') ? path.join(repoRoot, 'bench-results', `profile-${timestamp()}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const started = performance.now();
  const loadAtStart = os.loadavg()[0]!.toFixed(2);
  const serviceEnv = {
    // The race users are admitted first and stay ACTIVE; with the limit reached, everyone after them
    // WAITs. Nothing lapses during a run.
    QUEUE_ACTIVE_LIMIT: String(settings.raceUsers + warmupRaceUsers),
    QUEUE_ACTIVE_TTL_SECONDS: '86400',
    QUEUE_WAITING_IDLE_SECONDS: '86400',
    RESERVATION_HOLD_SECONDS: '3600',
  };
  const service = await startService({
    postgres,
    redis,
    instances,
    label: 'bench',
    nodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
    env: serviceEnv,
  });
  const baseline = await startBareServer();
  log(`service: ${service.describe} at ${service.urls.join(', ')}`);
  const urls = service.urls;
  const admin = adminClient(urls, service.adminKey, 64);
  // The service's Redis, read around each measured run (nothing else of the bench talks to it).
  const redisCounter = redis ? await redisCommandCounter(serviceRedisUrl(), urls) : undefined;
  // A Prometheus scraping every instance, for the whole run when asked.
  const scrapes = { ok: 0, failed: 0 };
  const scraper =
    settings.scrapeSeconds > 0
      ? setInterval(() => {
          for (const url of urls) {
            fetch(`${url}/metrics`)
              .then(async (response) => {
                await response.arrayBuffer();
                if (response.ok) scrapes.ok++;
                else scrapes.failed++;
              })
              .catch(() => scrapes.failed++);
          }
        }, settings.scrapeSeconds * 1000)
      : undefined;
  scraper?.unref();
  const results: ScenarioResult[] = [];
  const notes: string[] = [];
  let race: RaceResult | undefined;
  let pollSmall: ScenarioResult | undefined;
  let pollLarge: ScenarioResult | undefined;
  /** The line's size when pollLarge ran: the token issue run's users stay in it too. */
  let largeWaiting = settings.waitingLarge;
  let pollEmbedded: ScenarioResult | undefined;
  let streams: StreamsResult | undefined;
  const seeding: Record<string, number> = {};

  try {
    if (!streamsOnly) {
      const { concertId, dates } = await admin.createConcert([RACE_SEATS, 200, 200], PRICE);
      const [raceDate, browseDate, warmupDate] = dates as [string, string, string];

      // Seeding, all through the public admin API and token issue.
      let t = performance.now();
      const raceUsers = settings.raceUsers + warmupRaceUsers;
      const userCount = raceUsers + Math.max(settings.waitingSmall, settings.waitingLarge);
      log(`creating ${formatInt(userCount)} users through POST /admin/v1/users/batch…`);
      const userIds = await admin.createUsers(userCount, (n) => process.stderr.write(`\r  ${formatInt(n)} users`));
      seeding.usersPerSecond = userCount / ((performance.now() - t) / 1000);
      process.stderr.write('\n');
      const raceIds = userIds.slice(0, settings.raceUsers);
      const warmupRaceIds = userIds.slice(settings.raceUsers, raceUsers);
      const poolIds = userIds.slice(raceUsers);

      t = performance.now();
      const raceTokens = await admin.issueTokens(raceIds);
      const warmupRaceTokens = await admin.issueTokens(warmupRaceIds);
      if (raceUsers > 0) {
        await waitFor('race users to be admitted', async () => (await admin.queue()).active >= raceUsers, 120_000);
      }
      const smallTokens = await admin.issueTokens(poolIds.slice(0, settings.waitingSmall));
      seeding.tokensPerSecond = (raceUsers + settings.waitingSmall) / ((performance.now() - t) / 1000);
      if (smallTokens.some((tk) => tk.status !== 'WAITING')) throw new Error('a poll token was admitted; the active limit is not holding');
      log(`seeded: ${formatInt(settings.raceUsers)} ACTIVE, ${formatInt(settings.waitingSmall)} WAITING`);

      const common = { urls, serverPids: service.pids, connections: settings.connections, duration: settings.duration, warmup: settings.warmup, redisCounter };

      // 1. The ceiling: same client, same rotating header, a server that does nothing.
      log('measuring: bare node:http');
      const bare = await runScenario({
        ...common,
        urls: [baseline.url],
        serverPids: baseline.pids,
        name: 'bare node:http (ceiling)',
        path: '/api/v1/queue/tokens/me',
        vary: bearer(smallTokens),
      });
      results.push(bare);

      // 2a. Queue poll with a small line.
      log(`measuring: poll, ${formatInt(settings.waitingSmall)} WAITING`);
      pollSmall = await runScenario({
        ...common,
        name: `queue poll (${formatInt(settings.waitingSmall)} waiting)`,
        path: '/api/v1/queue/tokens/me',
        vary: bearer(smallTokens),
      });
      results.push(pollSmall);

      if (settings.compare) {
        // 2c. The same poll on an embedded service, for the issue's target between the modes.
        pollEmbedded = await measureEmbeddedPoll(serviceEnv);
        results.push(pollEmbedded);
      }

      if (settings.waitingLarge > settings.waitingSmall) {
        // 3. Token issue for distinct users: each request a user that has no token yet. Enough of them
        // that none is asked twice even at the bare server's rate, whatever the line is to be filled to.
        let fresh = poolIds.slice(settings.waitingSmall);
        const needed = Math.ceil(bare.rps * (settings.warmup + settings.duration) * 1.2);
        if (needed > fresh.length) {
          log(`creating ${formatInt(needed - fresh.length)} more users for the token issue run…`);
          fresh = fresh.concat(await admin.createUsers(needed - fresh.length));
        }
        log('measuring: token issue');
        let issued = 0;
        const issue = await runScenario({
          ...common,
          name: 'token issue (distinct users)',
          method: 'POST',
          path: '/api/v1/queue/tokens',
          vary: (i) => {
            issued = Math.max(issued, i + 1);
            return { body: JSON.stringify({ userId: fresh[i % fresh.length] }) };
          },
        });
        // The warm-up takes users too (the index runs on through the measured run): a 200 is a re-issue.
        const reissued = issue.statusCodes['200'] ?? 0;
        if (issued > fresh.length || reissued > 0) {
          issue.note = `${formatInt(reissued)} of ${formatInt(issue.requests)} measured requests were re-issues (200), not new tokens: ${formatInt(fresh.length)} fresh users for ${formatInt(issued)} requests with the warm-up`;
          notes.push(`token issue: ${issue.note}`);
        }
        results.push(issue);

        // 2b. Fill the line to the large count (users the issue run reached get their token back, 200;
        // those it reached past that count stay in line too, and the poll's name gives the line's size).
        t = performance.now();
        log(`filling the line to ${formatInt(settings.waitingLarge)} WAITING tokens…`);
        const filling = fresh.slice(0, settings.waitingLarge - settings.waitingSmall);
        const rest = await admin.issueTokens(filling, (n) => process.stderr.write(`\r  ${formatInt(n)} tokens`));
        process.stderr.write('\n');
        seeding.fillTokensPerSecond = filling.length / ((performance.now() - t) / 1000);
        const largeTokens = shuffled([...smallTokens, ...rest]);
        const q = await admin.queue();
        log(`queue now: ${formatInt(q.waiting)} waiting, ${formatInt(q.active)} active`);
        if (q.waiting < settings.waitingLarge) throw new Error(`expected ${settings.waitingLarge} WAITING, the queue says ${q.waiting}`);

        largeWaiting = q.waiting;
        log(`measuring: poll, ${formatInt(q.waiting)} WAITING`);
        pollLarge = await runScenario({
          ...common,
          name: `queue poll (${formatInt(q.waiting)} waiting)`,
          path: '/api/v1/queue/tokens/me',
          vary: bearer(largeTokens),
        });
        results.push(pollLarge);
      }

      if (!pollOnly && raceTokens.length > 0) {
        // 4. Browsing with ACTIVE tokens.
        log('measuring: dates list');
        results.push(await runScenario({ ...common, name: 'dates list (ACTIVE)', path: `/api/v1/concerts/${concertId}/dates`, vary: bearer(raceTokens) }));
        log('measuring: seat list');
        results.push(
          await runScenario({
            ...common,
            name: 'seat list, 200 seats (ACTIVE)',
            path: `/api/v1/concerts/${concertId}/dates/${browseDate}/seats`,
            vary: bearer(raceTokens),
          }),
        );

        // 5. The seat race, after a warm-up race of its own on another date (as every scenario has one).
        if (warmupRaceTokens.length > 0) {
          log('warming up: seat race on another date, by users of its own');
          await runRace(urls, warmupRaceTokens, concertId, warmupDate, settings.raceSockets);
        }
        log(`measuring: seat race, ${formatInt(raceTokens.length)} users on ${RACE_SEATS} seats`);
        race = await runRace(urls, shuffled(raceTokens), concertId, raceDate, settings.raceSockets, redisCounter);
        results.push(race);
      }
    }

    if (settings.streams > 0) {
      // 6. Streams: N WAITING fans on Server-Sent Events, then the line moves.
      streams = await measureStreams(admin, urls, redisCounter);
    }
  } finally {
    // No scrape may start against a service on its way down (it would count as a failed scrape).
    if (scraper) clearInterval(scraper);
    admin.close();
    redisCounter?.close();
    await baseline.stop();
    await service.stop();
  }

  // ---- report ----------------------------------------------------------------------------------
  const bareRps = results[0]?.rps ?? 0;
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'non-2xx',
    '× bare',
    'server CPU µs/req',
    'bench CPU µs/req',
    ...(redis ? ['Redis cmd/req', 'scripts/req'] : []),
  ];
  const cpuCell = (us: number | undefined) => (us === undefined ? '—' : us.toFixed(1));
  const rows = results.map((r) => [
    r.name,
    formatInt(r.rps),
    formatMs(r.p50),
    formatMs(r.p99),
    formatInt(r.errors),
    race && r === race ? `${formatInt(r.non2xx)} (409)` : formatInt(r.non2xx),
    bareRps > 0 ? `${(r.rps / bareRps).toFixed(2)}` : '',
    cpuCell(r.cpu?.serverUs),
    cpuCell(r.cpu?.clientUs),
    // The bare server never talks to Redis: its window shows what runs there without the service's load.
    ...(redis ? (r.redis && r !== results[0] ? [r.redis.perRequest.toFixed(2), r.redis.scriptRoundTripsPerRequest.toFixed(2)] : ['—', '—']) : []),
  ]);
  if (results.some((r) => r.cpu?.serverUs !== undefined)) {
    notes.push(
      "server CPU µs/req is the user and system CPU time of the measured server processes (every instance, every thread: the embedded database's worker and the collector's helpers too; " +
        "read from /proc, so Linux only) over the measured run, per answer; bench CPU µs/req is the load generator's own, which shares the cores: " +
        'req/s and latency are what both together allow, the server column is what a request costs the server alone (not the Redis or PostgreSQL server)',
    );
  }
  const idleRedis = results[0]?.redis;
  if (idleRedis) {
    notes.push(
      `Redis cmd/req counts every command the Redis server ran during the measured run (INFO commandstats, the bench's own INFO left out), whatever client sent it, ` +
        `and each command a Lua script ran as well as the EVALSHA that ran it; scripts/req is the service's own queue-script round trips (its /metrics), so the rest of its round trips are the non-script commands: ` +
        `while the bare server was measured and the service idle, it ran ${formatInt(idleRedis.perSecond)} commands/s (the service's admission tick and any other client of the server), ` +
        `which each row's figure includes at its own req/s; the JSON has each run's commands by name`,
    );
  }

  const targets: Array<{ target: string; measured: string; met: boolean }> = [];
  const poll = pollLarge ?? pollSmall;
  if (pollSmall) {
    targets.push({
      target: 'queue poll ≥ 0.5× bare node:http',
      measured: `${(pollSmall.rps / bareRps).toFixed(2)}× (${formatInt(pollSmall.rps)} vs ${formatInt(bareRps)} req/s)`,
      met: pollSmall.rps >= 0.5 * bareRps,
    });
    targets.push({
      target: `queue poll p99 < 20 ms at ${settings.connections} connections`,
      measured: `${formatMs(pollSmall.p99)} ms`,
      met: pollSmall.p99 < 20,
    });
  }
  if (pollSmall && pollEmbedded) {
    targets.push({
      target: 'Redis-mode poll ≥ 0.8× the embedded poll in the same run',
      measured: `${(pollSmall.rps / pollEmbedded.rps).toFixed(2)}× (${formatInt(pollSmall.rps)} vs ${formatInt(pollEmbedded.rps)} req/s)`,
      met: pollSmall.rps >= 0.8 * pollEmbedded.rps,
    });
  }
  if (pollSmall && pollLarge && poll) {
    const ratio = pollLarge.p50 / pollSmall.p50;
    const rpsRatio = pollLarge.rps / pollSmall.rps;
    targets.push({
      target: `poll flat within 20 % from ${formatInt(settings.waitingSmall)} to ${formatInt(largeWaiting)} WAITING`,
      measured:
        `p50 ${formatMs(pollSmall.p50)} → ${formatMs(pollLarge.p50)} ms (×${ratio.toFixed(2)}), req/s ×${rpsRatio.toFixed(2)}` +
        (pollSmall.cpu?.serverUs !== undefined && pollLarge.cpu?.serverUs !== undefined
          ? `, server CPU ${cpuCell(pollSmall.cpu.serverUs)} → ${cpuCell(pollLarge.cpu.serverUs)} µs/req (×${(pollLarge.cpu.serverUs / pollSmall.cpu.serverUs).toFixed(2)})`
          : ''),
      met: Math.abs(ratio - 1) <= 0.2,
    });
  }
  if (race) {
    targets.push({
      target: `seat race: ${formatInt(race.requests)} attempts answered < 2 s, exactly ${RACE_SEATS} holds`,
      measured: `${formatInt(race.raceMs)} ms, ${race.held} holds, ${formatInt(race.conflicts)} × 409, ${race.errors} errors${
        Object.keys(race.other).length ? `, other: ${JSON.stringify(race.other)}` : ''
      }`,
      met: race.raceMs < 2000 && race.held === RACE_SEATS && race.conflicts === race.requests - RACE_SEATS && race.errors === 0,
    });
  }
  if (streams) {
    const a = streams.admission;
    targets.push({
      target: `every open stream hears of its admission within ${a.deadlineMs / 1000} s`,
      measured: `${formatInt(a.learned)} of ${formatInt(a.waiting)}, max ${formatMs(a.max)} ms`,
      met: a.late === 0,
    });
  }

  // Correctness (not speed) decides the exit code: errors, unexpected statuses, or a wrong race count.
  const failures: string[] = [];
  for (const r of results) {
    if (r.errors > 0) failures.push(`${r.name}: ${r.errors} socket errors/timeouts`);
    if (r !== race && r.non2xx > 0) failures.push(`${r.name}: ${r.non2xx} non-2xx answers ${JSON.stringify(r.statusCodes)}`);
  }
  if (race && (race.held !== RACE_SEATS || race.conflicts + race.held !== race.requests)) {
    failures.push(`seat race: ${race.held} holds (want ${RACE_SEATS}), ${race.conflicts} × 409, other ${JSON.stringify(race.other)}`);
  }
  // A 503 is the server's stream cap doing its job; any other refusal, or a token not WAITING, is not.
  if (streams) {
    if (Object.keys(streams.refusedOther).length > 0) failures.push(`streams: refused other than 503 ${JSON.stringify(streams.refusedOther)}`);
    if (streams.notWaiting > 0) failures.push(`streams: ${streams.notWaiting} streams' first state was not WAITING`);
    if (streams.opened === 0) failures.push('streams: none opened');
  }

  const command = `npm run bench --${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average at start ${loadAtStart}`;
  const mode = `${instances} instance${instances > 1 ? 's' : ''}, ${postgres ? 'PostgreSQL' : 'embedded PGlite'}, ${redis ? 'Redis' : 'in-process'} queue`;
  const scraping = settings.scrapeSeconds > 0 ? `; /metrics scraped every ${settings.scrapeSeconds} s (${scrapes.ok} scrapes, ${scrapes.failed} failed)` : '';
  const conditions = streamsOnly
    ? `${formatInt(settings.streams)} streams, the line moving in steps for ${settings.streamStepSeconds} s at up to ${settings.streamRate} admissions/s${scraping}`
    : `${settings.connections} connections, ${settings.duration} s measured after ${settings.warmup} s warm-up per scenario${scraping}`;

  console.log(`\nboxoffice bench — ${mode}\n${machine}\n${conditions}\n`);
  if (rows.length > 0) console.log(textTable(header, rows));
  console.log('\ntargets:');
  for (const tg of targets) console.log(`  ${tg.met ? 'MET    ' : 'NOT MET'}  ${tg.target}: ${tg.measured}`);
  for (const n of notes) console.log(`  note: ${n}`);
  if (race) console.log(`\n${raceLine(race)}`);
  if (streams) console.log(`\n${streamsLines(streams).join('\n')}`);

  const stamp = timestamp();
  const outDir = path.join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const chart = renderChart(
    results.map((r) => ({ name: r.name, rps: r.rps, p50: r.p50, p99: r.p99 })),
    `boxoffice bench — ${mode}`,
    `${machine}; ${conditions}`,
    bareRps,
  );
  writeFileSync(path.join(outDir, `${stamp}.svg`), chart);

  let profileText: string | undefined;
  if (profileDir) {
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
    profileText = files.map((f) => `${f}\n${formatProfile(summariseProfile(path.join(profileDir, f), 30))}`).join('\n\n');
    if (scrapes.ok > 0) {
      // What the scrapes cost the server: its CPU time inside prom-client's registry (collecting and
      // formatting), against all the time it was busy, over the whole run.
      const perInstance = scrapes.ok / instances;
      for (const f of files) {
        const under = timeUnder(path.join(profileDir, f), 'prom-client/lib/registry.js');
        // The embedded database's worker thread writes a profile of its own, which never scrapes.
        if (under.ms === 0) continue;
        const line = `scrapes: ${under.ms.toFixed(0)} ms in prom-client's registry over ${perInstance} scrapes (${(under.ms / perInstance).toFixed(2)} ms each), ${(under.share * 100).toFixed(2)}% of the server's busy time (${f})`;
        notes.push(line);
        profileText += `\n${line}`;
      }
    }
    console.log(`\n${profileText}`);
  }

  const md = [
    `# boxoffice bench, ${new Date().toISOString()}`,
    '',
    `- command: \`${command}\``,
    `- service: ${mode}`,
    `- machine: ${machine}`,
    `- load: ${conditions}; the bare baseline gets the same client and the same rotating Authorization header`,
    `- seeding: ${formatInt(seeding.usersPerSecond ?? 0)} users/s via POST /admin/v1/users/batch, ${formatInt(seeding.tokensPerSecond ?? 0)} tokens/s issue (64 concurrent)`,
    '',
    markdownTable(header, rows),
    '',
    `![throughput and latency per scenario](${stamp}.svg)`,
    '',
    '## Targets',
    '',
    ...targets.map((tg) => `- ${tg.met ? '✅' : '❌'} ${tg.target}: ${tg.measured}`),
    ...notes.map((n) => `- note: ${n}`),
    ...(race ? ['', `- ${raceLine(race)}`] : []),
    ...(streams ? ['', '## Streams', '', ...streamsLines(streams).map((l) => `- ${l.trim()}`)] : []),
    ...(failures.length ? ['', '## Failures', '', ...failures.map((f) => `- ${f}`)] : []),
    ...(profileText ? ['', '## Server CPU profile', '', '```', profileText, '```'] : []),
    '',
  ].join('\n');
  writeFileSync(path.join(outDir, `${stamp}.md`), md);
  writeFileSync(
    path.join(outDir, `${stamp}.json`),
    JSON.stringify({ startedAt: stamp, command, machine, mode, settings, seeding, results, streams, targets, failures, notes }, null, 2) + '\n',
  );
  if (flags.bool('publish')) writeFileSync(path.join(repoRoot, 'docs', 'bench.svg'), chart);
  console.log(
    `\nwrote bench-results/${stamp}.{json,md,svg}${flags.bool('publish') ? ' and docs/bench.svg' : ''} in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );

  if (failures.length > 0) {
    console.error(`\nFAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main()
  .catch((err) => {
    console.error('bench failed:', err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(() => cleanUp());

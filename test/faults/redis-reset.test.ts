// Redis dies (SIGKILL) mid-sale and comes back five seconds later on the same port, EMPTY: the line it
// held is gone. The contract: while it is away, requests that need it get a quick 503
// SERVICE_UNAVAILABLE with Retry-After, never a 500 or a hang, and /readyz says 503; once it is back,
// every instance serves again within 5 s; a token of the lost line answers 401 LINE_RESET; the fans
// join again and the line admits them under the operator's settings (activeLimit, paused), which
// survive the reset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createUser, expectStatus, join, poll, queueStatsEverywhere, waitFor, type Cluster, type QueueStats } from '../cluster/harness.js';
import { startFaultStage, stopFaultStage, type FaultStage, type RedisProcess } from './infra.js';
import {
  Probe,
  checkInvariants,
  contractBreaches,
  describeSamples,
  emptyAcknowledged,
  formatInvariants,
  isOk,
  measureFirstOk,
  printSummary,
  sleep,
  startPolling,
  startReadyProbe,
  type Sample,
} from './probe.js';

const OUTAGE_MS = 5_000;
const MAX_ANSWER_MS = 2_250;
const MAX_READYZ_MS = 1_000;
const RECOVERY_PROMISE_MS = 5_000;
const RECOVERY_DEADLINE_MS = 15_000;
/** QUEUE_ACTIVE_LIMIT of the instances; the operator sets LIMIT through the admin API, so a reset that forgets it shows. */
const ENV_LIMIT = 2;
const LIMIT = 3;

interface Fan {
  userId: string;
  token: string;
}

interface Outage {
  during: Sample[];
  readyWhileDown: Sample[];
  recovery: (number | undefined)[];
  notes: string[];
}

/**
 * Fans poll (and read balances) through every instance while Redis is SIGKILLed, stays away OUTAGE_MS
 * and is started again empty; returns what the probe saw and when each instance served a 2xx again.
 */
async function killRedisUnderPolling(cluster: Cluster, redis: RedisProcess, fans: Fan[]): Promise<Outage> {
  const probe = new Probe(ADMIN_KEY);
  const everyInstance = () => cluster.instances;
  const hardStop = Date.now() + 60_000;
  const polling = startPolling({ probe, targets: everyInstance, fans, until: hardStop });
  const ready = startReadyProbe(probe, everyInstance, hardStop);
  let killAt = 0;
  let downAt = 0;
  let startAt = 0;
  let backAt = 0;
  let recovery: (number | undefined)[] = [];
  try {
    await waitFor(() => expect(probe.samples.filter((s) => s.op !== 'readyz' && isOk(s.status)).length).toBeGreaterThan(30), 10_000, 50);
    killAt = Date.now();
    await redis.kill();
    downAt = Date.now();
    await sleep(OUTAGE_MS);
    startAt = Date.now();
    await redis.start();
    backAt = Date.now();
    // The operator's view needs Redis and no token: its first 2xx is the instance serving the line again.
    recovery = await measureFirstOk(
      cluster.instances,
      backAt,
      (t) => probe.send(t, 'recovery', 'GET', '/admin/v1/queue', { admin: true }),
      RECOVERY_DEADLINE_MS,
    );
  } finally {
    await Promise.all([polling.stop(), ready.stop()]);
    if (!redis.running) await redis.start();
  }
  const serverErrors = probe.samples.filter((s) => typeof s.status === 'number' && s.status >= 500 && s.status !== 503);
  const hangs = probe.samples.filter((s) => s.status === 'timeout');
  return {
    during: probe.between(killAt, backAt, (s) => s.op !== 'readyz'),
    readyWhileDown: probe.between(downAt, startAt, (s) => s.op === 'readyz'),
    recovery,
    notes: [
      `5xx other than 503 overall: ${serverErrors.length}, client timeouts: ${hangs.length}`,
      `outage ${startAt - downAt} ms (restart took ${backAt - startAt} ms)`,
    ],
  };
}

/** The contract's promises about the outage itself, as soft expectations. */
function expectOutageKeptTheContract(outage: Outage, cluster: Cluster): void {
  expect
    .soft(
      outage.during.some((s) => s.status === 503),
      'the outage was visible: some requests got 503',
    )
    .toBe(true);
  expect
    .soft(describeSamples(contractBreaches(outage.during, MAX_ANSWER_MS)), 'during the outage: only 503 SERVICE_UNAVAILABLE with Retry-After, within 2 s')
    .toBe('0 request(s)');
  expect.soft(outage.readyWhileDown.length, '/readyz was probed while Redis was down').toBeGreaterThan(0);
  expect
    .soft(describeSamples(outage.readyWhileDown.filter((s) => s.status !== 503 || s.ms > MAX_READYZ_MS)), '/readyz: 503 within 1 s while down')
    .toBe('0 request(s)');
  expect.soft(cluster.instances.filter((i) => i.alive).length, 'every instance process stays alive').toBe(cluster.instances.length);
  for (const [i, t] of outage.recovery.entries()) {
    expect.soft(t ?? Infinity, `instance ${i}: first 2xx within 5 s of Redis's return`).toBeLessThanOrEqual(RECOVERY_PROMISE_MS);
  }
}

/** `401 LINE_RESET×12`: how each old token answers a poll (through instance i % n). */
async function oldTokenAnswers(cluster: Cluster, fans: Fan[]): Promise<string[]> {
  const n = cluster.instances.length;
  return Promise.all(
    fans.map(async (f, i) => {
      const r = await poll(cluster, f.token, i % n).catch((e: unknown) => ({ status: 0, body: String(e) }));
      const code = (r.body as { error?: { code?: string } })?.error?.code;
      return `${r.status}${code ? ' ' + code : ''}`;
    }),
  );
}

function tally(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].map(([v, c]) => `${v}×${c}`).join(' ') || 'none';
}

/** Each fan joins again (through instance i % n); returns the new tokens and how the joins answered. */
async function rejoin(cluster: Cluster, fans: Fan[]): Promise<{ fans: Fan[]; answers: string[] }> {
  const n = cluster.instances.length;
  const answers: string[] = [];
  const again: Fan[] = [];
  for (const [i, f] of fans.entries()) {
    const r = await join(cluster, f.userId, i % n).catch((e: unknown) => ({ status: 0, body: { token: '', error: { code: String(e) } } }));
    const code = (r.body as { error?: { code?: string } })?.error?.code;
    answers.push(`${r.status}${code ? ' ' + code : ''}`);
    again.push({ userId: f.userId, token: isOk(r.status) ? (r.body as { token: string }).token : f.token });
  }
  return { fans: again, answers };
}

/** Statuses of the fans' tokens, as polled: `{ ACTIVE: 3, WAITING: 9 }`-like tally. */
async function statuses(cluster: Cluster, fans: Fan[]): Promise<string[]> {
  const n = cluster.instances.length;
  return Promise.all(
    fans.map(async (f, i) => {
      const r = await poll(cluster, f.token, i % n);
      return r.status === 200 ? String((r.body as { status: string }).status) : `${r.status}`;
    }),
  );
}

async function settingsEverywhere(cluster: Cluster): Promise<string> {
  try {
    const seen = await queueStatsEverywhere(cluster);
    return tally(seen.map((s) => `activeLimit ${s.activeLimit} paused ${s.paused}`));
  } catch (error) {
    return `unreadable (${(error as Error).message.slice(0, 200)})`;
  }
}

async function makeFans(cluster: Cluster, count: number): Promise<Fan[]> {
  const n = cluster.instances.length;
  const fans: Fan[] = [];
  for (let i = 0; i < count; i++) {
    const userId = await createUser(cluster, i % n);
    fans.push({ userId, token: expectStatus(await join(cluster, userId, (i + 1) % n), 201, 'join').token });
  }
  return fans;
}

/** Waits (bounded) until the fans' statuses tally as expected; returns the last tally either way. */
async function settleTo(cluster: Cluster, fans: Fan[], expected: string, timeoutMs: number): Promise<string> {
  let last = '';
  try {
    await waitFor(
      async () => {
        last = tally((await statuses(cluster, fans)).sort());
        expect(last).toBe(expected);
      },
      timeoutMs,
      100,
    );
  } catch {
    // The caller compares `last` with what it expected.
  }
  return last;
}

/** For `ms`, keeps polling the operator's view and returns the most ACTIVE tokens any instance reported. */
async function mostActiveOver(cluster: Cluster, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let most = 0;
  while (Date.now() < until) {
    const seen: QueueStats[] = await queueStatsEverywhere(cluster).catch(() => []);
    for (const s of seen) most = Math.max(most, s.active);
    await sleep(100);
  }
  return most;
}

describe('Redis killed and restarted empty mid-sale', () => {
  let stage: FaultStage | undefined;
  beforeAll(async () => {
    stage = await startFaultStage({
      QUEUE_ACTIVE_LIMIT: String(ENV_LIMIT),
      QUEUE_ACTIVE_TTL_SECONDS: '30',
      QUEUE_WAITING_IDLE_SECONDS: '60',
      RESERVATION_HOLD_SECONDS: '30',
    });
  });
  afterAll(async () => {
    if (stage) await stopFaultStage(stage);
  });

  it("answers 503 while Redis is away; after it returns empty, old tokens get LINE_RESET and the fans rejoin a line with the operator's limit", async () => {
    const { cluster, redis } = stage!;
    const patched = expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: LIMIT } }), 200, 'set activeLimit');
    expect(patched).toMatchObject({ activeLimit: LIMIT, paused: false });

    const fans = await makeFans(cluster, 12);
    const before = await settleTo(cluster, fans, `ACTIVE×${LIMIT} WAITING×${12 - LIMIT}`, 5_000);
    expect(before, 'before the fault: the line admits exactly activeLimit').toBe(`ACTIVE×${LIMIT} WAITING×${12 - LIMIT}`);

    const outage = await killRedisUnderPolling(cluster, redis, fans);

    // After: the lost line is announced, the operator's settings are back, and the fans line up again.
    const oldTokens = tally(await oldTokenAnswers(cluster, fans));
    const settings = await settingsEverywhere(cluster);
    const rejoined = await rejoin(cluster, fans);
    const admitted = await settleTo(cluster, rejoined.fans, `ACTIVE×${LIMIT} WAITING×${12 - LIMIT}`, 3_000);
    const most = await mostActiveOver(cluster, 1_000);
    const invariants = await checkInvariants(cluster.databaseUrl, emptyAcknowledged()).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

    printSummary({
      name: 'redis-reset',
      during: outage.during,
      readyWhileDown: outage.readyWhileDown,
      recovery: outage.recovery,
      recoveryDeadlineMs: RECOVERY_DEADLINE_MS,
      instances: cluster.instances,
      notes: [
        ...outage.notes,
        `old tokens: ${oldTokens}`,
        `settings after: ${settings}`,
        `rejoin: ${tally(rejoined.answers)}`,
        `admitted: ${admitted}, most ACTIVE seen over 1 s: ${most}`,
      ],
      invariants: formatInvariants(invariants),
    });

    expectOutageKeptTheContract(outage, cluster);
    expect.soft(oldTokens, 'a token of the lost line: 401 LINE_RESET').toBe(`401 LINE_RESET×${fans.length}`);
    expect
      .soft(settings, "the operator's activeLimit survives the reset, on every instance")
      .toBe(`activeLimit ${LIMIT} paused false×${cluster.instances.length}`);
    expect.soft(tally(rejoined.answers), 'every fan gets a new place in line').toBe(`201×${fans.length}`);
    expect.soft(admitted, 'the line admits again, exactly activeLimit').toBe(`ACTIVE×${LIMIT} WAITING×${12 - LIMIT}`);
    expect.soft(most, 'never more ACTIVE than activeLimit').toBeLessThanOrEqual(LIMIT);
    expect(formatInvariants(invariants)).toBe('ok');
  });

  it('a paused line stays paused across the reset, admits nobody, and admits again once unpaused', async () => {
    const { cluster, redis } = stage!;
    // Whatever the first test left, the operator sets the line explicitly here.
    const patched = expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: LIMIT, paused: true } }), 200, 'pause');
    expect(patched).toMatchObject({ activeLimit: LIMIT, paused: true });

    const fans = await makeFans(cluster, 6);
    const before = await settleTo(cluster, fans, 'WAITING×6', 3_000);
    expect(before, 'before the fault: a paused line admits nobody').toBe('WAITING×6');

    const outage = await killRedisUnderPolling(cluster, redis, fans);

    const oldTokens = tally(await oldTokenAnswers(cluster, fans));
    const settings = await settingsEverywhere(cluster);
    const rejoined = await rejoin(cluster, fans);
    // Fifteen admission ticks: a paused line must admit nobody in any of them.
    const most = await mostActiveOver(cluster, 1_500);
    const whilePaused = tally((await statuses(cluster, rejoined.fans).catch(() => ['unreadable'])).sort());
    const unpaused = await cluster.call<QueueStats>('PATCH', '/admin/v1/queue', { admin: true, body: { paused: false } });
    const admitted = await settleTo(cluster, rejoined.fans, `ACTIVE×${LIMIT} WAITING×${6 - LIMIT}`, 2_500);

    printSummary({
      name: 'redis-reset-paused',
      during: outage.during,
      readyWhileDown: outage.readyWhileDown,
      recovery: outage.recovery,
      recoveryDeadlineMs: RECOVERY_DEADLINE_MS,
      instances: cluster.instances,
      notes: [
        ...outage.notes,
        `old tokens: ${oldTokens}`,
        `settings after: ${settings}`,
        `rejoin: ${tally(rejoined.answers)}`,
        `while paused: ${whilePaused}, most ACTIVE seen over 1.5 s: ${most}`,
        `unpause: ${unpaused.status}, then: ${admitted}`,
      ],
      invariants: 'n/a (no money moved)',
    });

    expectOutageKeptTheContract(outage, cluster);
    expect.soft(oldTokens, 'a token of the lost line: 401 LINE_RESET').toBe(`401 LINE_RESET×${fans.length}`);
    expect.soft(settings, 'paused (and activeLimit) survive the reset, on every instance').toBe(`activeLimit ${LIMIT} paused true×${cluster.instances.length}`);
    expect.soft(tally(rejoined.answers), 'every fan gets a new place in line').toBe(`201×${fans.length}`);
    expect.soft(whilePaused, 'nobody is admitted while paused').toBe('WAITING×6');
    expect.soft(most, 'no ACTIVE token while paused').toBe(0);
    expect.soft(unpaused.status, 'unpause').toBe(200);
    expect(admitted, 'unpaused, the line admits exactly activeLimit').toBe(`ACTIVE×${LIMIT} WAITING×${6 - LIMIT}`);
  });
});

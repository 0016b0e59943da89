// PostgreSQL goes away mid-sale (a fast shutdown: every connection dropped) and comes back five seconds
// later, while fans top up, hold and pay through three instances. The contract: requests that need the
// database get a quick 503 SERVICE_UNAVAILABLE with Retry-After, never a 500 or a hang; /readyz says
// 503; no process dies; within 5 s of PostgreSQL's return every instance serves again; and nothing that
// was acknowledged with a 2xx is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, waitFor } from '../cluster/harness.js';
import { startFaultStage, stopFaultStage, type FaultStage } from './infra.js';
import {
  CLIENT_TIMEOUT_MS,
  Probe,
  checkInvariants,
  contractBreaches,
  describeSamples,
  emptyAcknowledged,
  formatCounts,
  formatInvariants,
  isOk,
  measureFirstOk,
  printSummary,
  prepareSale,
  sleep,
  startFanLoad,
  startReadyProbe,
} from './probe.js';

const OUTAGE_MS = 5_000;
/** The contract's 2 s, plus a little for the test process's own event loop under load. */
const MAX_ANSWER_MS = 2_250;
const MAX_READYZ_MS = 1_000;
const RECOVERY_PROMISE_MS = 5_000;
const RECOVERY_DEADLINE_MS = 15_000;

describe('PostgreSQL stopped and started mid-payments', () => {
  let stage: FaultStage | undefined;
  beforeAll(async () => {
    stage = await startFaultStage({ QUEUE_ACTIVE_LIMIT: '50' });
  });
  afterAll(async () => {
    if (stage) await stopFaultStage(stage);
  });

  it('answers 503 with Retry-After within 2 s while it is down, serves again within 5 s of its return, and loses nothing acknowledged', async () => {
    const { cluster, pg: database } = stage!;
    const ack = emptyAcknowledged();
    const { fans, seats } = await prepareSale(cluster, { fanCount: 9, ack });
    // One fan stays out of the load: its balance, read through each instance, says when that instance serves again.
    const canary = fans.pop()!;

    const probe = new Probe(ADMIN_KEY);
    const everyInstance = () => cluster.instances;
    const hardStop = Date.now() + 60_000;
    const load = startFanLoad({ probe, targets: everyInstance, fans, seats, ack, until: hardStop });
    const ready = startReadyProbe(probe, everyInstance, hardStop);

    let stopAt = 0;
    let downAt = 0;
    let startAt = 0;
    let backAt = 0;
    let recovery: (number | undefined)[] = [];
    try {
      await waitFor(() => expect(probe.samples.filter((s) => s.op !== 'readyz' && isOk(s.status)).length).toBeGreaterThan(50), 10_000, 50);
      stopAt = Date.now();
      await database.stop();
      downAt = Date.now();
      await sleep(OUTAGE_MS);
      startAt = Date.now();
      await database.start();
      backAt = Date.now();
      recovery = await measureFirstOk(
        cluster.instances,
        backAt,
        (t) => probe.send(t, 'recovery', 'GET', `/api/v1/users/${canary.userId}/points`, { token: canary.token }),
        RECOVERY_DEADLINE_MS,
      );
      // The load goes on past the 5 s promise, to see that it holds.
      await sleep(backAt + RECOVERY_PROMISE_MS + 1_500 - Date.now());
    } finally {
      await Promise.all([load.stop(), ready.stop()]);
      // A test that broke off mid-outage still checks its invariants on a running database.
      if (downAt !== 0 && backAt === 0) await database.start().catch(() => undefined);
    }

    const during = probe.between(stopAt, backAt, (s) => s.op !== 'readyz');
    const readyWhileDown = probe.between(downAt, startAt, (s) => s.op === 'readyz');
    const afterPromise = probe.between(backAt + RECOVERY_PROMISE_MS, Infinity, (s) => s.op !== 'recovery');
    const serverErrors = probe.samples.filter((s) => typeof s.status === 'number' && s.status >= 500 && s.status !== 503);
    const hangs = probe.samples.filter((s) => s.status === 'timeout');
    const alive = cluster.instances.filter((i) => i.alive).length;
    const invariants = await checkInvariants(cluster.databaseUrl, ack).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

    printSummary({
      name: 'pg-restart',
      during,
      readyWhileDown,
      recovery,
      recoveryDeadlineMs: RECOVERY_DEADLINE_MS,
      instances: cluster.instances,
      notes: [
        `from 5 s after return: ${formatCounts(afterPromise)}`,
        `5xx other than 503 overall: ${serverErrors.length}, client timeouts: ${hangs.length}`,
        `outage ${startAt - downAt} ms (stop took ${downAt - stopAt} ms, start ${backAt - startAt} ms)`,
      ],
      invariants: formatInvariants(invariants, ack),
    });

    expect
      .soft(
        during.some((s) => s.status === 503),
        'the outage was visible: some requests got 503',
      )
      .toBe(true);
    expect
      .soft(describeSamples(contractBreaches(during, MAX_ANSWER_MS)), 'during the outage: only 503 SERVICE_UNAVAILABLE with Retry-After, within 2 s')
      .toBe('0 request(s)');
    expect.soft(readyWhileDown.length, '/readyz was probed while PostgreSQL was down').toBeGreaterThan(0);
    expect
      .soft(describeSamples(readyWhileDown.filter((s) => s.status !== 503 || s.ms > MAX_READYZ_MS)), '/readyz: 503 within 1 s while down')
      .toBe('0 request(s)');
    expect.soft(describeSamples(serverErrors), 'no 500 (nor any 5xx but 503) at any time').toBe('0 request(s)');
    expect.soft(describeSamples(hangs), `no request left without an answer for ${CLIENT_TIMEOUT_MS} ms`).toBe('0 request(s)');
    expect.soft(alive, 'every instance process stays alive').toBe(cluster.instances.length);
    for (const [i, t] of recovery.entries()) {
      expect.soft(t ?? Infinity, `instance ${i}: first 2xx within 5 s of PostgreSQL's return`).toBeLessThanOrEqual(RECOVERY_PROMISE_MS);
    }
    expect
      .soft(
        describeSamples(contractBreaches(afterPromise, MAX_ANSWER_MS).concat(afterPromise.filter((s) => s.status === 503))),
        'from 5 s after the return: no 5xx, no hang',
      )
      .toBe('0 request(s)');
    expect(formatInvariants(invariants)).toBe('ok');
  });
});

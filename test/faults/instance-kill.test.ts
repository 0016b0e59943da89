// One of three instances is SIGKILLed in the middle of a burst of top-ups, holds and payments. The
// other two must keep serving without a single 5xx, nothing acknowledged may be lost or half-done
// (a transaction cut off by the kill rolls back whole), and the killed instance, restarted on its port,
// serves again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, waitFor } from '../cluster/harness.js';
import { startFaultStage, stopFaultStage, type FaultStage } from './infra.js';
import {
  Probe,
  checkInvariants,
  contractBreaches,
  describeSamples,
  emptyAcknowledged,
  formatCounts,
  formatInvariants,
  isOk,
  measureFirstOk,
  prepareSale,
  printSummary,
  sleep,
  startFanLoad,
} from './probe.js';

const VICTIM = 1;
/** How long the burst goes on with the victim dead. */
const DEAD_MS = 4_000;
const MAX_ANSWER_MS = 2_250;
const RECOVERY_DEADLINE_MS = 15_000;

describe('one instance SIGKILLed mid-burst', () => {
  let stage: FaultStage | undefined;
  beforeAll(async () => {
    stage = await startFaultStage({ QUEUE_ACTIVE_LIMIT: '50' });
  });
  afterAll(async () => {
    if (stage) await stopFaultStage(stage);
  });

  it('the survivors serve every request without a 5xx, the invariants hold, and the restarted instance serves again', async () => {
    const { cluster } = stage!;
    const ack = emptyAcknowledged();
    const { fans, seats } = await prepareSale(cluster, { fanCount: 10, ack });
    const canary = fans.pop()!;

    const probe = new Probe(ADMIN_KEY);
    // A load balancer sends only to instances that are up and ready: the victim is out from its kill
    // until its restart reports ready.
    const outOfRotation = new Set<number>();
    const live = () => cluster.instances.filter((i) => i.alive && !outOfRotation.has(i.index));
    const load = startFanLoad({ probe, targets: live, fans, seats, ack, until: Date.now() + 60_000, pauseMs: 20 });

    let killAt = 0;
    let restartAt = 0;
    let backAt = 0;
    let recovery: (number | undefined)[] = [];
    let restartError: unknown;
    try {
      await waitFor(() => expect(probe.samples.filter((s) => isOk(s.status)).length).toBeGreaterThan(50), 10_000, 50);
      killAt = Date.now();
      outOfRotation.add(VICTIM);
      await cluster.kill(VICTIM);
      await sleep(DEAD_MS);
      restartAt = Date.now();
      await cluster.restart(VICTIM).catch((e: unknown) => (restartError = e));
      backAt = Date.now();
      outOfRotation.delete(VICTIM);
      recovery = await measureFirstOk(
        cluster.instances,
        backAt,
        (t) => probe.send(t, 'recovery', 'GET', `/api/v1/users/${canary.userId}/points`, { token: canary.token }),
        RECOVERY_DEADLINE_MS,
      );
      // The burst goes on over all three for a moment, the restarted one included.
      await sleep(1_500);
    } finally {
      await load.stop();
    }

    const survivorsDuring = probe.between(killAt, backAt, (s) => s.via !== VICTIM);
    const victimCutOff = probe.between(0, backAt, (s) => s.via === VICTIM && s.endedAt >= killAt);
    const victimAfter = probe.between(backAt, Infinity, (s) => s.via === VICTIM && s.op !== 'recovery');
    const survivorsAll = probe.samples.filter((s) => s.via !== VICTIM);
    const invariants = await checkInvariants(cluster.databaseUrl, ack).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

    printSummary({
      name: 'instance-kill',
      during: survivorsDuring,
      recovery,
      recoveryDeadlineMs: RECOVERY_DEADLINE_MS,
      recoveryLabel: 'first 2xx after the restart',
      instances: cluster.instances,
      notes: [
        `cut off on the victim i${VICTIM}: ${formatCounts(victimCutOff)}`,
        `victim after restart: ${formatCounts(victimAfter)}`,
        `restart to ready ${backAt - restartAt} ms${restartError ? ` (failed: ${String(restartError).slice(0, 200)})` : ''}`,
      ],
      invariants: formatInvariants(invariants, ack),
    });

    expect.soft(survivorsDuring.length, 'the survivors got requests while the victim was dead').toBeGreaterThan(50);
    expect
      .soft(
        describeSamples(contractBreaches(survivorsAll, MAX_ANSWER_MS).concat(survivorsAll.filter((s) => s.status === 503))),
        'the survivors: no 5xx, no hang, ever',
      )
      .toBe('0 request(s)');
    expect.soft(restartError, 'the victim restarts on its port').toBeUndefined();
    expect.soft(recovery[VICTIM] ?? Infinity, 'the restarted victim answers a 2xx').toBeLessThanOrEqual(RECOVERY_DEADLINE_MS);
    expect.soft(victimAfter.length, 'the restarted victim took part in the burst').toBeGreaterThan(0);
    expect
      .soft(describeSamples(contractBreaches(victimAfter, MAX_ANSWER_MS).concat(victimAfter.filter((s) => s.status === 503))), 'the restarted victim: no 5xx')
      .toBe('0 request(s)');
    expect.soft(ack.payments.length, 'payments went through during the burst').toBeGreaterThan(0);
    expect(formatInvariants(invariants)).toBe('ok');
  });
});

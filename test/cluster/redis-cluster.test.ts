// Three instances on a real Redis Cluster (three masters, three replicas; `scripts/redis-cluster.sh`):
// sales' lines spread over the masters, and when the master holding one sale's line dies, only that
// sale pauses. Its requests answer 503 SERVICE_UNAVAILABLE (never a 500) until the replica is promoted,
// while the sales on the other masters keep joining, admitting, holding and selling; then the paused
// sale continues where its replica was. Nothing paid is lost and no seat is sold twice: PostgreSQL is
// the record of what was paid.
//
// "Continues" precisely: replication is asynchronous, so a master may die with writes its replica never
// saw. The test makes the replica acknowledge the paused sale's line (WAIT) before the kill, so the fan
// who was ACTIVE then is still ACTIVE after the promotion and can pay; and a fan arriving after the
// promotion goes all the way from join to payment.
//
// Runs when REDIS_CLUSTER=true and REDIS_URL names a seed node of such a cluster (CI starts one);
// restarts the killed node afterwards, so the cluster has three masters and three replicas again.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKeys } from '../../src/queue/queue.store.redis.js';
import { saleLineId } from '../../src/queue/queue.store.js';
import { redisSeeds } from '../../src/redis/redis-client.js';
import { createConcert, createUser, expectStatus, onRedisCluster, repoRoot, startCluster, waitFor, type Cluster, type Reply, query } from './harness.js';

const SEATS = 40;
const PRICE = 10_000;
/** Longest the test waits for the cluster to promote a replica (node timeout 1 s, then an election). */
const FAILOVER_DEADLINE_MS = 20_000;

interface Sale {
  saleId: string;
  concertId: string;
  date: string;
  /** `host:port` of the master serving the sale's line. */
  master: string;
  nextSeat: number;
}

interface Paid {
  saleId: string;
  concertId: string;
  seatNumber: number;
  userId: string;
  reservationId: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: repoRoot, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A direct connection to one node, for the commands that are about that node (INFO, WAIT, CLUSTER …). */
async function nodeConnection(address: string): Promise<Redis> {
  const [host, port] = address.split(':');
  const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

/** Asks the first live address for the cluster's view: which master serves a slot, who the nodes are. */
class ClusterView {
  constructor(private readonly addresses: string[]) {}

  private async ask<T>(question: (redis: Redis) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const address of this.addresses) {
      const redis = await nodeConnection(address).catch((error: unknown) => {
        last = error;
        return undefined;
      });
      if (!redis) continue;
      try {
        return await question(redis);
      } catch (error) {
        last = error;
      } finally {
        redis.disconnect();
      }
    }
    throw last;
  }

  /** Every node's `host:port`, masters and replicas, failed ones included. */
  async nodes(): Promise<{ address: string; master: boolean; failed: boolean }[]> {
    const text = await this.ask((r) => r.cluster('NODES') as Promise<string>);
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [, addr, flags] = line.split(' ');
        return { address: addr!.split('@')[0]!, master: flags!.includes('master'), failed: flags!.includes('fail') };
      });
  }

  async masterOf(key: string): Promise<string> {
    return this.ask(async (r) => {
      const slot = (await r.cluster('KEYSLOT', key)) as number;
      const ranges = await r.cluster('SLOTS');
      const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
      if (!master) throw new Error(`no node serves slot ${slot}`);
      return `${master[0]}:${master[1]}`;
    });
  }

  /** Every node says cluster_state:ok, and there are three masters, none of them failed. */
  async healthy(): Promise<void> {
    const nodes = await this.nodes();
    const masters = nodes.filter((n) => n.master && !n.failed);
    if (masters.length !== 3) throw new Error(`${masters.length} live masters: ${JSON.stringify(nodes)}`);
    for (const n of nodes) {
      const redis = await nodeConnection(n.address);
      try {
        const info = (await redis.cluster('INFO')) as string;
        if (!info.includes('cluster_state:ok')) throw new Error(`${n.address} is not ok:\n${info}`);
        if (!n.master) {
          const replication = await redis.info('replication');
          if (!replication.includes('master_link_status:up')) throw new Error(`replica ${n.address} is not in sync:\n${replication}`);
        }
      } finally {
        redis.disconnect();
      }
    }
  }
}

if (!onRedisCluster) {
  describe.skip('on a Redis Cluster (skipped: start one with scripts/redis-cluster.sh and set REDIS_CLUSTER=true REDIS_URL=<a seed node>)', () => {
    it('a failed master pauses only its own sales', () => {});
  });
} else {
  describe('three instances on a Redis Cluster', () => {
    const view = new ClusterView(redisSeeds(process.env['REDIS_URL']!).map((url) => new URL(url).host));
    let cluster: Cluster;
    /** The node this test killed, with what it takes to start it again. */
    let killed: { address: string; dir: string } | undefined;

    beforeAll(async () => {
      await waitFor(() => view.healthy(), 30_000, 200);
      // At info, so the logs say when an instance found Redis working again.
      cluster = await startCluster({ env: { QUEUE_ACTIVE_LIMIT: '100', RESERVATION_HOLD_SECONDS: '120', LOG_LEVEL: 'info' } });
    });

    afterAll(async () => {
      try {
        await cluster?.stop();
      } finally {
        if (killed) {
          // It comes back as a replica of the master that replaced it; the next file finds 3 + 3 again.
          await run(path.join(repoRoot, 'scripts', 'redis-cluster.sh'), ['start-node', killed.dir, killed.address.split(':')[1]!]);
          await waitFor(() => view.healthy(), 30_000, 200);
        }
      }
    });

    async function createSale(): Promise<Sale> {
      const { concertId, date } = await createConcert(cluster, SEATS, PRICE);
      const past = Date.now();
      const reply = await cluster.call<{ saleId: string }>('POST', '/admin/v1/sales', {
        admin: true,
        body: { concertId, queueOpensAt: iso(past - 1_000), opensAt: iso(past - 500), activeLimit: 5 },
      });
      const { saleId } = expectStatus(reply, 201, 'create sale');
      const master = await view.masterOf(queueKeys(cluster.redisPrefix, saleLineId(saleId)).seq);
      return { saleId, concertId, date, master, nextSeat: 1 };
    }

    /** A new fan joins the sale and waits for the turn; every reply on the way must be a success. */
    async function admitFan(sale: Sale): Promise<{ userId: string; token: string }> {
      const userId = await createUser(cluster);
      const joined = expectStatus(
        await cluster.call<{ token: string }>('POST', '/api/v1/queue/tokens', { body: { userId, saleId: sale.saleId } }),
        201,
        `join sale ${sale.saleId}`,
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const state = expectStatus(await cluster.call<{ status: string }>('GET', '/api/v1/queue/tokens/me', { token: joined.token }), 200, 'poll');
        if (state.status === 'ACTIVE') return { userId, token: joined.token };
        if (state.status !== 'WAITING') throw new Error(`fan of sale ${sale.saleId} ended ${state.status} before the turn`);
        if (Date.now() > deadline) throw new Error(`fan of sale ${sale.saleId} still WAITING after 10 s`);
        await pause(50);
      }
    }

    /** Charges the fan's points and holds the sale's next seat. */
    async function hold(sale: Sale, fan: { userId: string; token: string }): Promise<{ seatNumber: number; reservationId: string }> {
      const { userId, token } = fan;
      expectStatus(await cluster.call('POST', `/api/v1/users/${userId}/points/charge`, { token, body: { amount: PRICE } }), 200, 'charge');
      const seatNumber = sale.nextSeat++;
      const held = await cluster.call<{ reservationId: string }>('POST', '/api/v1/reservations', {
        token,
        body: { userId, concertId: sale.concertId, date: sale.date, seatNumber },
      });
      return { seatNumber, reservationId: expectStatus(held, 201, `hold seat ${seatNumber} of sale ${sale.saleId}`).reservationId };
    }

    async function pay(sale: Sale, fan: { userId: string; token: string }, held: { seatNumber: number; reservationId: string }): Promise<Paid> {
      const paid = await cluster.call('POST', '/api/v1/payments', { token: fan.token, body: { userId: fan.userId, reservationId: held.reservationId } });
      expectStatus(paid, 201, `pay seat ${held.seatNumber} of sale ${sale.saleId}`);
      return { saleId: sale.saleId, concertId: sale.concertId, seatNumber: held.seatNumber, userId: fan.userId, reservationId: held.reservationId };
    }

    async function buy(sale: Sale): Promise<Paid> {
      const fan = await admitFan(sale);
      return pay(sale, fan, await hold(sale, fan));
    }

    it('spreads sales over the masters; a dead master pauses only its sales (503, never 500) until its replica takes over, and nothing paid is lost', async () => {
      // Several sales at once; more, one by one, until their lines sit on at least two masters.
      const sales = await Promise.all(Array.from({ length: 4 }, () => createSale()));
      while (new Set(sales.map((s) => s.master)).size < 2 && sales.length < 16) sales.push(await createSale());
      const masters = new Set(sales.map((s) => s.master));
      expect(masters.size, `masters of ${sales.length} sales' lines: ${[...masters].join(', ')}`).toBeGreaterThanOrEqual(2);

      const paid: Paid[] = [];
      for (const sale of sales) paid.push(await buy(sale));

      const victim = sales[0]!.master;
      const affected = sales.filter((s) => s.master === victim);
      const healthy = sales.filter((s) => s.master !== victim);
      const paused = affected[0]!;

      // A fan of the paused sale is ACTIVE and holds a seat when its master dies.
      const waitingToPay = await admitFan(paused);
      const heldBeforeKill = await hold(paused, waitingToPay);
      const latecomer = await createUser(cluster);

      const victimNode = await nodeConnection(victim);
      let pid: number;
      try {
        // The replica has every write the master made so far: what was ACTIVE stays ACTIVE after the promotion.
        expect(await victimNode.call('WAIT', 1, 5_000), 'replicas that acknowledged the line').toBe(1);
        pid = Number(/process_id:(\d+)/.exec(await victimNode.info('server'))![1]);
        const dir = ((await victimNode.config('GET', 'dir')) as string[])[1]!;
        killed = { address: victim, dir };
      } finally {
        victimNode.disconnect();
      }
      process.kill(pid, 'SIGKILL');
      const killedAt = Date.now();

      // The paused sale: a poll of the ACTIVE fan and a join, through each instance in turn, over and
      // over until every instance answers both again.
      const pausedReplies: { at: number; poll: number; join: number }[] = [];
      const instances = cluster.instances.length;
      const probe = (async () => {
        for (let round = 0, servedInARow = 0; ; round++) {
          const via = round % instances;
          const [polled, joined] = await Promise.all([
            cluster.call('GET', '/api/v1/queue/tokens/me', { token: waitingToPay.token, via }),
            cluster.call('POST', '/api/v1/queue/tokens', { body: { userId: latecomer, saleId: paused.saleId }, via }),
          ]);
          pausedReplies.push({ at: Date.now(), poll: polled.status, join: joined.status });
          for (const reply of [polled, joined] as Reply[]) {
            if (reply.status === 503) expect(reply.body?.error?.code).toBe('SERVICE_UNAVAILABLE');
            else if (reply.status !== 200 && reply.status !== 201) {
              throw new Error(`paused sale answered ${reply.status} from instance ${reply.via}: ${JSON.stringify(reply.body)}`);
            }
          }
          servedInARow = polled.status === 200 && joined.status !== 503 ? servedInARow + 1 : 0;
          if (servedInARow === instances) return Date.now();
          if (Date.now() - killedAt > FAILOVER_DEADLINE_MS) throw new Error(`the paused sale still answers 503 after ${FAILOVER_DEADLINE_MS} ms`);
          await pause(50);
        }
      })();

      // Meanwhile the other masters' sales sell, one fan after another, every step a success (all but
      // their last seat, which is bought after the failover).
      let stillPaused = true;
      const duringOutage: Paid[] = [];
      const soldWhilePaused = new Set<string>();
      const selling = Promise.all(
        healthy.map(async (sale) => {
          while (stillPaused && sale.nextSeat < SEATS) {
            duringOutage.push(await buy(sale));
            // Counted only while the paused sale had not answered yet.
            if (stillPaused) soldWhilePaused.add(sale.saleId);
          }
        }),
      );
      // Awaited below, after the probe; a failure meanwhile is not an unhandled rejection.
      selling.catch(() => undefined);
      const recoveredAt = await probe.finally(() => (stillPaused = false));
      await selling;
      paid.push(...duringOutage);

      const unavailable = pausedReplies.filter((r) => r.poll === 503 || r.join === 503);
      const lastUnavailable = unavailable.at(-1)?.at ?? killedAt;
      console.log(
        `[redis-cluster] killed master ${victim} (${affected.length} of ${sales.length} sales): the paused sale answered 503 for ${lastUnavailable - killedAt} ms ` +
          `(${unavailable.length} of ${pausedReplies.length} probes), served again ${recoveredAt - killedAt} ms after the kill; ` +
          `${duringOutage.length} seats sold meanwhile on ${healthy.length} sales of the other masters`,
      );
      expect(unavailable.length, 'the paused sale answered 503 while its master was down').toBeGreaterThan(0);
      expect([...soldWhilePaused].sort(), 'every sale on another master sold a seat while the paused sale answered 503').toEqual(
        healthy.map((s) => s.saleId).sort(),
      );
      // The replica took over the paused sale's slot.
      const promoted = await view.masterOf(queueKeys(cluster.redisPrefix, saleLineId(paused.saleId)).seq);
      expect(promoted).not.toBe(victim);

      // It continues: the fan who was ACTIVE pays the seat held before the kill, and a newcomer buys one.
      const state = expectStatus(await cluster.call<{ status: string }>('GET', '/api/v1/queue/tokens/me', { token: waitingToPay.token }), 200);
      expect(state.status, 'the ACTIVE fan is still ACTIVE after the promotion').toBe('ACTIVE');
      paid.push(await pay(paused, waitingToPay, heldBeforeKill));
      for (const sale of affected) paid.push(await buy(sale));
      for (const sale of healthy) paid.push(await buy(sale));

      // Every instance's log says the outage began, and that it ended: an operator reading the logs is
      // not left with a failure that never recovered.
      await waitFor(async () => {
        for (const instance of cluster.instances) {
          const logs = instance.logs();
          const failed = logs.indexOf('Redis connection failed');
          expect(failed, `instance ${instance.index} logged the outage`).toBeGreaterThanOrEqual(0);
          expect(logs.indexOf('Redis connection recovered', failed), `instance ${instance.index} logged the recovery`).toBeGreaterThan(failed);
        }
      }, 10_000);

      // PostgreSQL: every payment that was answered 201 is there, on its seat, and no seat is sold twice.
      const rows = await query<{ reservation_id: string; seat_number: number; concert_id: string; user_id: string; seat_status: string }>(
        cluster,
        `select p.reservation_id, s.number as seat_number, s.concert_id, r.user_id, s.status as seat_status
           from payments p join reservations r on r.id = p.reservation_id join seats s on s.id = r.seat_id
          where s.concert_id = any($1)`,
        [sales.map((s) => s.concertId)],
      );
      const recorded = new Map(rows.map((r) => [r.reservation_id, r]));
      for (const p of paid) {
        expect(recorded.get(p.reservationId), `payment of seat ${p.seatNumber} of sale ${p.saleId}`).toMatchObject({
          seat_number: p.seatNumber,
          concert_id: p.concertId,
          user_id: p.userId,
          seat_status: 'SOLD',
        });
      }
      const perSeat = new Map<string, number>();
      for (const r of rows) perSeat.set(`${r.concert_id}#${r.seat_number}`, (perSeat.get(`${r.concert_id}#${r.seat_number}`) ?? 0) + 1);
      expect(
        [...perSeat.entries()].filter(([, count]) => count > 1),
        'seats paid more than once',
      ).toEqual([]);
      expect(rows).toHaveLength(paid.length);
    });
  });
}

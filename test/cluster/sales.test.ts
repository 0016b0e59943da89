// Sales across three instances: the pre-queue's draw is made once (one row in PostgreSQL records it) and
// every instance serves the order anyone can recompute from the published seed; two sales at once each
// admit their own line to their own limit; and 300 fans racing for the last 20 seats through different
// instances (each clicking two seats at once) end with every seat sold once, nobody over the per-fan
// limit of one, and every token SOLD_OUT.
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConcert,
  createUser,
  expectError,
  expectStatus,
  mapLimit,
  startCluster,
  waitFor,
  type CallOptions,
  type Cluster,
  query,
  type Reply,
} from './harness.js';

const HOLD_SECONDS = 10;

interface SaleView {
  saleId: string;
  concertId: string;
  phase: 'SCHEDULED' | 'PREQUEUE' | 'OPEN' | 'SOLD_OUT' | 'CLOSED';
  seatsLeft: number;
  opensAt: string;
  draw: { commitment: string; seed: string | null };
}

interface AdminSaleView extends SaleView {
  waiting: number;
  active: number;
  activeLimit: number;
}

interface SaleTokenView {
  token: string;
  userId: string;
  status: 'WAITING' | 'ACTIVE' | 'EXPIRED' | 'SOLD_OUT';
  position: number;
  saleId: string;
  phase: SaleView['phase'];
  seatsLeft: number;
  entryId: string;
  drawRank: number | null;
}

interface DrawView {
  saleId: string;
  commitment: string;
  seed: string;
  entries: string[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const range = (count: number) => Array.from({ length: count }, (_, i) => i);
const sha256Hex = (seedHex: string) => createHash('sha256').update(Buffer.from(seedHex, 'hex')).digest('hex');

/** The draw's order, recomputed here from the contract's words, independently of the service's code. */
function recomputeOrder(seedHex: string, entryIds: string[]): string[] {
  const key = new Map(entryIds.map((id) => [id, createHmac('sha256', Buffer.from(seedHex, 'hex')).update(id, 'utf8').digest('hex')]));
  return [...entryIds].sort((a, b) => (key.get(a)! < key.get(b)! ? -1 : key.get(a)! > key.get(b)! ? 1 : 0));
}

async function createSale(cluster: Cluster, body: Record<string, unknown>, via?: number): Promise<AdminSaleView> {
  return expectStatus(await cluster.call<AdminSaleView>('POST', '/admin/v1/sales', { admin: true, body, via }), 201, 'create sale');
}

function joinSale(call: Cluster['call'], userId: string, saleId: string, via?: number): Promise<Reply<SaleTokenView>> {
  return call<SaleTokenView>('POST', '/api/v1/queue/tokens', { body: { userId, saleId }, via });
}

function me(call: Cluster['call'], token: string, via?: number): Promise<Reply<SaleTokenView>> {
  return call<SaleTokenView>('GET', '/api/v1/queue/tokens/me', { token, via });
}

/** The cluster's `call`, with at most `max` requests in flight: hundreds of fans without hundreds of sockets. */
function limitCalls(cluster: Cluster, max: number): Cluster['call'] {
  let running = 0;
  const waiters: (() => void)[] = [];
  const acquire = () => {
    if (running >= max) return new Promise<void>((resolve) => waiters.push(resolve));
    running++;
    return Promise.resolve();
  };
  // A freed slot goes straight to the next waiter, so `running` never exceeds `max`.
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else running--;
  };
  return async <T>(method: string, urlPath: string, options?: CallOptions) => {
    await acquire();
    try {
      return await cluster.call<T>(method, urlPath, options);
    } finally {
      release();
    }
  };
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('three instances, scheduled sales', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ env: { QUEUE_ACTIVE_LIMIT: '100', RESERVATION_HOLD_SECONDS: String(HOLD_SECONDS) } });
  });
  afterAll(() => cluster?.stop());

  it('the draw is made once at the open, and every instance serves the same order, the one anyone can recompute', async () => {
    const FANS = 30;
    const LIMIT = 5;
    const n = cluster.instances.length;
    const { concertId } = await createConcert(cluster, 50);
    const userIds = await mapLimit(range(FANS), 10, (i) => createUser(cluster, i % n));

    const opensAt = Date.now() + 3_000;
    const created = await createSale(cluster, { concertId, queueOpensAt: iso(Date.now()), opensAt: iso(opensAt), activeLimit: LIMIT }, 0);
    const { saleId } = created;
    const commitment = created.draw.commitment;
    expect(commitment).toMatch(/^[0-9a-f]{64}$/);
    // Before the open every instance publishes the commitment and keeps the seed and the draw back.
    for (const via of range(n)) {
      const sale = expectStatus(await cluster.call<SaleView>('GET', `/api/v1/sales/${saleId}`, { via }), 200, `sale on ${via}`);
      expect(sale, `sale before the open on instance ${via}`).toMatchObject({ phase: 'PREQUEUE', draw: { commitment, seed: null } });
      expectError(await cluster.call('GET', `/api/v1/sales/${saleId}/draw`, { via }), 409, 'SALE_NOT_OPEN', `draw before the open on ${via}`);
    }

    const fans = await mapLimit(userIds, 10, async (userId, i) => {
      const joined = expectStatus(await joinSale(cluster.call, userId, saleId, i % n), 201, `join #${i + 1}`);
      expect(joined, `join #${i + 1} through instance ${i % n}`).toMatchObject({ userId, saleId, status: 'WAITING', phase: 'PREQUEUE', drawRank: null });
      return { userId, token: joined.token, entryId: joined.entryId };
    });
    expect(Date.now(), 'every fan joined during the pre-queue (the 3 s window was too short?)').toBeLessThan(opensAt);
    expect(new Set(fans.map((f) => f.entryId)).size).toBe(FANS);
    for (const f of fans) expect([f.userId, f.token]).not.toContain(f.entryId);

    // The fans keep polling (through other instances than they joined on) until the open.
    await waitFor(
      async () => {
        const views = await Promise.all(fans.map(async (f, i) => expectStatus(await me(cluster.call, f.token, (i + 1) % n), 200, `poll #${i + 1}`)));
        if (Date.now() < opensAt) {
          // Soft: a throw here would only be retried by waitFor, and a wrong pre-queue state lost.
          for (const v of views) expect.soft(v).toMatchObject({ status: 'WAITING', phase: 'PREQUEUE', position: FANS, drawRank: null });
          throw new Error('the sale has not opened yet');
        }
      },
      opensAt - Date.now() + 5_000,
      200,
    );

    // After the open, every instance answers the very same draw.
    const draws = await waitFor(
      () =>
        Promise.all(
          range(n).map(async (via) => expectStatus(await cluster.call<DrawView>('GET', `/api/v1/sales/${saleId}/draw`, { via }), 200, `draw on ${via}`)),
        ),
      5_000,
      100,
    );
    for (const [via, d] of draws.entries()) expect(d, `draw on instance ${via}`).toEqual(draws[0]);
    const draw = draws[0]!;
    expect(draw).toMatchObject({ saleId, commitment });
    expect(sha256Hex(draw.seed), 'SHA-256 of the published seed is the commitment published before the open').toBe(commitment);
    expect([...draw.entries].sort()).toEqual(fans.map((f) => f.entryId).sort());
    for (const via of range(n)) {
      const sale = expectStatus(await cluster.call<SaleView>('GET', `/api/v1/sales/${saleId}`, { via }), 200);
      expect(sale, `sale after the open on instance ${via}`).toMatchObject({ phase: 'OPEN', draw: { commitment, seed: draw.seed } });
    }

    const order = recomputeOrder(draw.seed, draw.entries);
    const rankOf = new Map(order.map((entryId, i) => [entryId, i + 1]));
    // Every fan, read through every instance: the recomputed place, and the first LIMIT of the order are in.
    await waitFor(
      async () => {
        for (const shift of range(n)) {
          const views = await Promise.all(fans.map(async (f, i) => expectStatus(await me(cluster.call, f.token, (i + shift) % n), 200, `poll #${i + 1}`)));
          for (const [i, v] of views.entries()) {
            const rank = rankOf.get(fans[i]!.entryId)!;
            expect(v.drawRank, `drawRank of fan #${i + 1} read through instance ${(i + shift) % n}`).toBe(rank);
            expect({ status: v.status, position: v.position }, `fan #${i + 1}, drawn ${rank}`).toEqual(
              rank <= LIMIT ? { status: 'ACTIVE', position: 0 } : { status: 'WAITING', position: rank - LIMIT },
            );
          }
          const active = fans.filter((_, i) => views[i]!.status === 'ACTIVE').map((f) => f.entryId);
          expect(active.sort()).toEqual(order.slice(0, LIMIT).sort());
        }
      },
      5_000,
      100,
    );

    // PostgreSQL holds one record of the draw, made at or after the open, with exactly the published entries.
    const recorded = async () =>
      query<{ drawn_at: Date | null; draw_entries: unknown; opens_at: Date }>(cluster, 'select drawn_at, draw_entries, opens_at from sales where id = $1', [
        saleId,
      ]);
    const [row, ...others] = await recorded();
    expect(others).toEqual([]);
    expect(row!.drawn_at).toBeInstanceOf(Date);
    expect(row!.drawn_at!.getTime()).toBeGreaterThanOrEqual(row!.opens_at.getTime());
    const entries = typeof row!.draw_entries === 'string' ? JSON.parse(row!.draw_entries) : row!.draw_entries;
    expect(entries).toEqual(draw.entries);
    // Every instance has ticked many times since: none of them drew again.
    await waitFor(async () => {
      const stats = await Promise.all(
        range(n).map(async (via) => expectStatus(await cluster.call<AdminSaleView>('GET', `/admin/v1/sales/${saleId}`, { admin: true, via }), 200)),
      );
      for (const s of stats) expect(s).toMatchObject({ active: LIMIT, waiting: FANS - LIMIT, activeLimit: LIMIT });
    });
    const [again] = await recorded();
    expect(again!.drawn_at!.getTime(), 'drawn_at was written once').toBe(row!.drawn_at!.getTime());
    expect(again!.draw_entries).toEqual(row!.draw_entries);
  });

  it('two sales at once each admit their own line, to their own limit, with positions of their own', async () => {
    const n = cluster.instances.length;
    const a = await createConcert(cluster, 10);
    const b = await createConcert(cluster, 10);
    // Both already open: joins go to the back of each line in arrival order.
    const past = Date.now();
    const saleA = await createSale(cluster, { concertId: a.concertId, queueOpensAt: iso(past - 1_000), opensAt: iso(past - 500), activeLimit: 2 }, 1);
    const saleB = await createSale(cluster, { concertId: b.concertId, queueOpensAt: iso(past - 1_000), opensAt: iso(past - 500), activeLimit: 4 }, 2);

    // Users 0..7 join A, users 4..11 join B: users 4..7 stand in both lines.
    const userIds = await mapLimit(range(12), 6, (i) => createUser(cluster, i % n));
    const lineA: { userId: string; token: string; entryId: string }[] = [];
    const lineB: { userId: string; token: string; entryId: string }[] = [];
    for (const k of range(8)) {
      for (const [sale, line, userId, via] of [
        [saleA, lineA, userIds[k]!, k % n],
        [saleB, lineB, userIds[4 + k]!, (k + 1) % n],
      ] as const) {
        const joined = expectStatus(await joinSale(cluster.call, userId, sale.saleId, via), 201, `join ${sale.saleId}`);
        expect(joined).toMatchObject({ userId, saleId: sale.saleId, drawRank: null });
        line.push({ userId, token: joined.token, entryId: joined.entryId });
      }
    }

    const expectLine = async (line: typeof lineA, sale: AdminSaleView, limit: number, shift: number) => {
      const views = await Promise.all(line.map(async (f, i) => expectStatus(await me(cluster.call, f.token, (i + shift) % n), 200)));
      for (const v of views) expect(v.saleId).toBe(sale.saleId);
      expect(
        views.map((v) => ({ status: v.status, position: v.position })),
        `line of the sale with limit ${limit}`,
      ).toEqual(line.map((_, i) => (i < limit ? { status: 'ACTIVE', position: 0 } : { status: 'WAITING', position: i + 1 - limit })));
    };
    await waitFor(async () => {
      for (const shift of range(n)) {
        await expectLine(lineA, saleA, 2, shift);
        await expectLine(lineB, saleB, 4, shift);
      }
    }, 5_000);
    // Settled, and every instance counts each line by its own limit.
    for (const via of range(n)) {
      for (const [sale, limit, size] of [
        [saleA, 2, lineA.length],
        [saleB, 4, lineB.length],
      ] as const) {
        const stats = expectStatus(await cluster.call<AdminSaleView>('GET', `/admin/v1/sales/${sale.saleId}`, { admin: true, via }), 200);
        expect(stats, `sale with limit ${limit} on instance ${via}`).toMatchObject({ active: limit, activeLimit: limit, waiting: size - limit });
      }
    }

    // A user in both lines holds two tokens: distinct, each of its own sale, each with its own place.
    for (const userId of userIds.slice(4, 8)) {
      const inA = lineA.find((f) => f.userId === userId)!;
      const inB = lineB.find((f) => f.userId === userId)!;
      expect(inA.token).not.toBe(inB.token);
      expect(inA.entryId).not.toBe(inB.entryId);
      // Asking again returns each line's own token.
      expect(expectStatus(await joinSale(cluster.call, userId, saleA.saleId, 2), 200).token).toBe(inA.token);
      expect(expectStatus(await joinSale(cluster.call, userId, saleB.saleId, 0), 200).token).toBe(inB.token);
    }
    const both = userIds[4]!;
    expect(expectStatus(await me(cluster.call, lineA[4]!.token, 0), 200)).toMatchObject({ userId: both, saleId: saleA.saleId, status: 'WAITING', position: 3 });
    expect(expectStatus(await me(cluster.call, lineB[0]!.token, 1), 200)).toMatchObject({ userId: both, saleId: saleB.saleId, status: 'ACTIVE', position: 0 });

    // An ACTIVE token reaches its own sale's concert only.
    const firstA = lineA[0]!.token;
    expectStatus(await cluster.call('GET', `/api/v1/concerts/${a.concertId}/dates`, { token: firstA, via: 1 }), 200, 'own concert');
    expectError(await cluster.call('GET', `/api/v1/concerts/${b.concertId}/dates`, { token: firstA, via: 2 }), 403, 'SALE_MISMATCH', 'the other sale');
  });

  it('300 fans racing for the last 20 seats across instances end with every seat sold once and every token SOLD_OUT', async () => {
    const FANS = 300;
    const SEATS = 20;
    const PRICE = 10_000;
    const n = cluster.instances.length;
    const call = limitCalls(cluster, 50);
    const { concertId, date } = await createConcert(cluster, SEATS, PRICE);
    const userIds = await mapLimit(range(FANS), 50, (i) => createUser(cluster, i % n));

    // Everyone joins the pre-queue, so that all 300 are in the race the open starts. However slow the
    // joins, the open is a minute away; once all are in, the operator brings it forward to 1.5 s from now.
    const { saleId } = await createSale(
      cluster,
      { concertId, queueOpensAt: iso(Date.now()), opensAt: iso(Date.now() + 60_000), activeLimit: 40, maxSeatsPerUser: 1 },
      0,
    );
    const fans = await mapLimit(userIds, 50, async (userId, i) => {
      const joined = expectStatus(await joinSale(call, userId, saleId, i % n), 201, `join #${i + 1}`);
      expect(joined).toMatchObject({ status: 'WAITING', phase: 'PREQUEUE' });
      return { userId, token: joined.token, calls: i, charged: false, reservationId: undefined as string | undefined };
    });
    const opensAt = Date.now() + 1_500;
    const moved = await cluster.call<AdminSaleView>('PATCH', `/admin/v1/sales/${saleId}`, { admin: true, body: { opensAt: iso(opensAt) }, via: 1 });
    expect(expectStatus(moved, 200, 'bring the open forward')).toMatchObject({ phase: 'PREQUEUE', opensAt: iso(opensAt), waiting: FANS });

    const unexpected: string[] = [];
    const holdsVia = new Set<number>();
    let conflicts = 0;
    let limited = 0;
    let admitted = 0;
    const notYet = (why: string) => new Error(`not done yet: ${why}`);

    /** One look at the fan's token, and as much of a purchase as it allows; throws to be called again. */
    const step = async (fan: (typeof fans)[number], i: number): Promise<'paid' | 'sold-out' | 'failed'> => {
      const via = () => fan.calls++ % n;
      const odd = (what: string, reply: Reply) => {
        unexpected.push(`fan #${i + 1} ${what}: ${reply.status} from instance ${reply.via}: ${JSON.stringify(reply.body)}`);
        return 'failed' as const;
      };
      const ended = (reply: Reply) => reply.status === 401 && reply.body?.error?.code === 'TOKEN_EXPIRED';
      const view = await me(call, fan.token, via());
      if (view.status !== 200) return odd('poll', view);
      if (view.body.status === 'SOLD_OUT') return 'sold-out';
      if (view.body.status === 'WAITING') throw notYet(`WAITING at ${view.body.position}, sale ${view.body.phase}`);
      if (view.body.status !== 'ACTIVE') return odd('poll', view);
      if (!fan.charged) {
        admitted++;
        const charged = await call('POST', `/api/v1/users/${fan.userId}/points/charge`, { token: fan.token, body: { amount: PRICE }, via: via() });
        // TOKEN_EXPIRED: the sale sold out meanwhile, which the next poll reads.
        if (ended(charged)) throw notYet('token ended before the charge');
        if (charged.status !== 200) return odd('charge', charged);
        fan.charged = true;
      }
      if (!fan.reservationId) {
        const listed = await call<{ seats: { number: number }[] }>('GET', `/api/v1/concerts/${concertId}/dates/${date}/seats`, {
          token: fan.token,
          via: via(),
        });
        if (ended(listed)) throw notYet('token ended before the listing');
        if (listed.status !== 200) return odd('list seats', listed);
        // A greedy fan clicks two free seats at once, through two instances: at most one may be held.
        const free = shuffle(listed.body.seats.map((seat) => seat.number));
        while (free.length > 0 && !fan.reservationId) {
          const replies = await Promise.all(
            free
              .splice(0, 2)
              .map((seatNumber) =>
                call('POST', '/api/v1/reservations', { token: fan.token, body: { userId: fan.userId, concertId, date, seatNumber }, via: via() }),
              ),
          );
          const won = replies.filter((r) => r.status === 201);
          if (won.length > 1) return odd(`held ${won.length} seats at once, allowed 1`, won[1]!);
          for (const held of replies) {
            holdsVia.add(held.via);
            const code = held.body?.error?.code;
            if (held.status === 201) fan.reservationId = held.body.reservationId;
            else if (held.status === 409 && code === 'SEAT_UNAVAILABLE') conflicts++;
            // The other click: one live hold per token (HOLD_EXISTS), or the seats-per-fan limit.
            else if (held.status === 409 && (code === 'HOLD_EXISTS' || code === 'SEAT_LIMIT_REACHED') && won.length === 1) limited++;
            else if (ended(held) && won.length === 0) throw notYet('token ended before the hold');
            else return odd('hold', held);
          }
        }
        // Every seat is held or sold: wait for a lapsed hold, or for the sold-out.
        if (!fan.reservationId) throw notYet('ACTIVE, every seat held or sold');
      }
      const paid = await call('POST', '/api/v1/payments', { token: fan.token, body: { userId: fan.userId, reservationId: fan.reservationId }, via: via() });
      if (paid.status === 201) return 'paid';
      if (paid.status === 409 && paid.body?.error?.code === 'RESERVATION_EXPIRED') {
        fan.reservationId = undefined;
        throw notYet('the hold lapsed before the payment');
      }
      return odd('pay', paid);
    };

    const outcomes = await Promise.all(
      fans.map((fan, i) =>
        waitFor(() => step(fan, i), 45_000, 200).catch((error: unknown) => {
          unexpected.push(`fan #${i + 1} never finished: ${String(error)}`);
          return 'stuck' as const;
        }),
      ),
    );
    expect(unexpected, unexpected.slice(0, 10).join('\n')).toEqual([]);
    const buyers = fans.filter((_, i) => outcomes[i] === 'paid');
    expect(buyers, `${admitted} fans admitted, ${conflicts} holds lost to another fan, ${limited} refused by the seat limit`).toHaveLength(SEATS);
    expect(outcomes.filter((o) => o === 'sold-out')).toHaveLength(FANS - SEATS);
    // The race was spread over the instances.
    expect(holdsVia.size).toBe(n);

    // PostgreSQL: every seat sold exactly once, with one confirmed reservation and one payment each.
    const seats = await query<{ number: number; status: string; confirmed: number; payments: number }>(
      cluster,
      `select s.number, s.status, count(distinct r.id)::int as confirmed, count(p.id)::int as payments
         from seats s
         left join reservations r on r.seat_id = s.id and r.status = 'CONFIRMED'
         left join payments p on p.reservation_id = r.id
        where s.concert_id = $1
        group by s.id, s.number, s.status
        order by s.number`,
      [concertId],
    );
    expect(seats).toEqual(range(SEATS).map((i) => ({ number: i + 1, status: 'SOLD', confirmed: 1, payments: 1 })));
    const owners = await query<{ user_id: string; seats: number }>(
      cluster,
      `select r.user_id, count(*)::int as seats
         from reservations r join payments p on p.reservation_id = r.id
        where r.concert_id = $1
        group by r.user_id`,
      [concertId],
    );
    expect(
      owners.filter((o) => o.seats > 1),
      'users with more than one seat',
    ).toEqual([]);
    expect(owners.map((o) => o.user_id).sort()).toEqual(buyers.map((b) => b.userId).sort());

    // Every instance reads the sale as sold out, with nobody left in its line.
    await waitFor(async () => {
      for (const via of range(n)) {
        const sale = expectStatus(await cluster.call<SaleView>('GET', `/api/v1/sales/${saleId}`, { via }), 200);
        expect(sale, `sale on instance ${via}`).toMatchObject({ phase: 'SOLD_OUT', seatsLeft: 0 });
        const stats = expectStatus(await cluster.call<AdminSaleView>('GET', `/admin/v1/sales/${saleId}`, { admin: true, via }), 200);
        expect(stats, `line on instance ${via}`).toMatchObject({ phase: 'SOLD_OUT', active: 0, waiting: 0 });
      }
    }, 5_000);
    // Every one of the 300 tokens, through every instance: SOLD_OUT, or ended by its own payment.
    const paidTokens = new Set(buyers.map((b) => b.token));
    await mapLimit(
      fans.flatMap((fan) => range(n).map((via) => ({ fan, via }))),
      50,
      async ({ fan, via }) => {
        const reply = await me(cluster.call, fan.token, via);
        if (paidTokens.has(fan.token)) expectError(reply, 401, 'TOKEN_EXPIRED', `buyer's token on ${via}`);
        else expect(expectStatus(reply, 200, `token on ${via}`).status, `token on instance ${via}`).toBe('SOLD_OUT');
      },
    );
    // And nobody new gets in.
    expectError(await joinSale(cluster.call, await createUser(cluster), saleId, 1), 409, 'SOLD_OUT', 'join after the sold-out');
  });
});

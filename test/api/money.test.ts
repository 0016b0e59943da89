// Points and payments: exact balances under concurrency, idempotent retries, and payment's all-or-nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPaymentService } from '../../src/payments/payment.service.js';
import { queueTimings } from '../../src/queue/queue.store.factory.js';
import { MemoryQueueLines } from '../../src/queue/queue.store.memory.js';
import { GENERAL_LINE } from '../../src/queue/queue.store.js';
import {
  activeUser,
  bearer,
  createConcert,
  createTestApp,
  createUser,
  expectLedgerMatchesBalances,
  hold,
  joinQueue,
  json,
  pay,
  waitFor,
  type TestApp,
} from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ queue: { activeLimit: 1000, tickMs: 20 } });
});
afterAll(() => t.close());

function chargeRequest(who: { userId: string; token: string }, amount: unknown, key?: string) {
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/users/${who.userId}/points/charge`,
    headers: { ...bearer(who.token), ...(key ? { 'idempotency-key': key } : {}) },
    payload: { amount },
  });
}

async function balanceOf(who: { userId: string; token: string }) {
  return json(await t.app.inject({ method: 'GET', url: `/api/v1/users/${who.userId}/points`, headers: bearer(who.token) })).balance;
}

describe('points', () => {
  it('starts at 0 and adds each charge, with a ledger row for each', async () => {
    const fan = await activeUser(t.app);
    expect(await balanceOf(fan)).toBe(0);
    const res = await chargeRequest(fan, 10_000);
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ userId: fan.userId, balance: 10_000 });
    expect(json(await chargeRequest(fan, 10_000_000)).balance).toBe(10_010_000);
    await expectLedgerMatchesBalances(t.db, [fan.userId]);
  });

  it('refuses a bad amount with 400 INVALID_AMOUNT and changes nothing', async () => {
    const fan = await activeUser(t.app);
    for (const amount of [0, -5, 1.5, 10_000_001, '100', null, true, 1e20]) {
      const res = await chargeRequest(fan, amount);
      expect(res.statusCode, String(amount)).toBe(400);
      expect(json(res).error.code).toBe('INVALID_AMOUNT');
    }
    const missing = await t.app.inject({ method: 'POST', url: `/api/v1/users/${fan.userId}/points/charge`, headers: bearer(fan.token), payload: {} });
    expect(json(missing).error.code).toBe('INVALID_AMOUNT');
    expect(await balanceOf(fan)).toBe(0);
  });

  it('works for a WAITING token too', async () => {
    const busy = await createTestApp({ queue: { activeLimit: 0 } });
    try {
      const userId = await createUser(busy.app);
      const { token, status } = await joinQueue(busy.app, userId);
      expect(status).toBe('WAITING');
      const res = await busy.app.inject({ method: 'POST', url: `/api/v1/users/${userId}/points/charge`, headers: bearer(token), payload: { amount: 5 } });
      expect(json(res)).toEqual({ userId, balance: 5 });
    } finally {
      await busy.close();
    }
  });

  it('when 50 charges arrive at once, the balance is their exact sum', async () => {
    const fan = await activeUser(t.app);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => chargeRequest(fan, 1_000 + i)));
    expect(answers.every((r) => r.statusCode === 200)).toBe(true);
    const expected = Array.from({ length: 50 }, (_, i) => 1_000 + i).reduce((a, b) => a + b, 0);
    expect(await balanceOf(fan)).toBe(expected);
    await expectLedgerMatchesBalances(t.db, [fan.userId]);
  });

  it('charges once for a retried Idempotency-Key, however many retries arrive at once', async () => {
    const fan = await activeUser(t.app);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 10 }, () => chargeRequest(fan, 7_000, key)));
    for (const a of answers) {
      expect(a.statusCode).toBe(200);
      expect(json(a)).toEqual({ userId: fan.userId, balance: 7_000 });
    }
    expect(json(await chargeRequest(fan, 7_000, key))).toEqual({ userId: fan.userId, balance: 7_000 });
    expect(await balanceOf(fan)).toBe(7_000);
    const ledger = await t.db.selectFrom('point_ledger').select('amount').where('user_id', '=', fan.userId).execute();
    expect(ledger).toEqual([{ amount: 7_000 }]);

    const reused = await chargeRequest(fan, 8_000, key);
    expect(reused.statusCode).toBe(422);
    expect(json(reused).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // A key is the user's own: another user's identical key is a new request.
    const other = await activeUser(t.app);
    expect(json(await chargeRequest(other, 7_000, key)).balance).toBe(7_000);
  });

  it('stores only successful answers: a refused request with a key runs again on retry', async () => {
    const fan = await activeUser(t.app);
    const key = randomUUID();
    expect((await chargeRequest(fan, 0, key)).statusCode).toBe(400);
    expect((await chargeRequest(fan, 500, key)).statusCode).toBe(200);
    expect(await balanceOf(fan)).toBe(500);
    const invalidKey = await t.app.inject({
      method: 'POST',
      url: `/api/v1/users/${fan.userId}/points/charge`,
      headers: { ...bearer(fan.token), 'idempotency-key': 'x'.repeat(129) },
      payload: { amount: 1 },
    });
    expect(invalidKey.statusCode).toBe(400);
  });
});

describe('payments', () => {
  it('confirms the seat, debits the balance, records the payment and ends the token, all at once', async () => {
    const fan = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { price: 60_000 });
    const held = json(await hold(t.app, fan, concert, 3));
    const res = await pay(t.app, fan, held.reservationId);
    expect(res.statusCode).toBe(201);
    const payment = json(res);
    expect(payment).toEqual({
      paymentId: expect.any(String),
      reservationId: held.reservationId,
      userId: fan.userId,
      amount: 60_000,
      balance: 40_000,
      paidAt: expect.any(String),
    });
    const seat = await t.db.selectFrom('seats').select('status').where('concert_id', '=', concert.concertId).where('number', '=', 3).executeTakeFirstOrThrow();
    expect(seat.status).toBe('SOLD');
    const reservation = await t.db.selectFrom('reservations').select('status').where('id', '=', held.reservationId).executeTakeFirstOrThrow();
    expect(reservation.status).toBe('CONFIRMED');
    const payments = await t.db.selectFrom('payments').select(['id', 'amount']).where('reservation_id', '=', held.reservationId).execute();
    expect(payments).toEqual([{ id: payment.paymentId, amount: 60_000 }]);
    await expectLedgerMatchesBalances(t.db, [fan.userId]);

    const after = await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(fan.token) });
    expect(after.statusCode).toBe(401);
    expect(json(after).error.code).toBe('TOKEN_EXPIRED');
    // A new token puts the user back in line; paying again says it is paid.
    const again = await joinQueue(t.app, fan.userId);
    await waitFor(async () =>
      expect(json(await t.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(again.token) })).status).toBe('ACTIVE'),
    );
    const twice = await pay(t.app, { userId: fan.userId, token: again.token }, held.reservationId);
    expect(twice.statusCode).toBe(409);
    expect(json(twice).error.code).toBe('ALREADY_PAID');
  });

  it('refuses a payment the balance cannot cover, and changes nothing', async () => {
    const fan = await activeUser(t.app, 10_000);
    const concert = await createConcert(t.app, { price: 60_000 });
    const held = json(await hold(t.app, fan, concert, 1));
    const res = await pay(t.app, fan, held.reservationId);
    expect(res.statusCode).toBe(409);
    expect(json(res).error.code).toBe('INSUFFICIENT_BALANCE');
    expect(await balanceOf(fan)).toBe(10_000);
    const seat = await t.db.selectFrom('seats').select('status').where('concert_id', '=', concert.concertId).where('number', '=', 1).executeTakeFirstOrThrow();
    expect(seat.status).toBe('HELD');
    expect(await t.db.selectFrom('payments').select('id').where('reservation_id', '=', held.reservationId).execute()).toEqual([]);
    // The token still works: top up and pay.
    await chargeRequest(fan, 50_000);
    expect((await pay(t.app, fan, held.reservationId)).statusCode).toBe(201);
    await expectLedgerMatchesBalances(t.db, [fan.userId]);
  });

  it("refuses unknown and other users' reservations", async () => {
    const fan = await activeUser(t.app, 100_000);
    const other = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app);
    const held = json(await hold(t.app, fan, concert, 1));
    const unknown = await pay(t.app, fan, randomUUID());
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown).error.code).toBe('RESERVATION_NOT_FOUND');
    const theirs = await pay(t.app, other, held.reservationId);
    expect(theirs.statusCode).toBe(403);
    expect(json(theirs).error.code).toBe('USER_MISMATCH');
    const bodyMismatch = await t.app.inject({
      method: 'POST',
      url: '/api/v1/payments',
      headers: bearer(other.token),
      payload: { userId: fan.userId, reservationId: held.reservationId },
    });
    expect(json(bodyMismatch).error.code).toBe('USER_MISMATCH');
    expect(await balanceOf(other)).toBe(100_000);
  });

  it('when 10 payments of one hold arrive at once, one succeeds and one debit is made', async () => {
    const fan = await activeUser(t.app, 500_000);
    const concert = await createConcert(t.app, { price: 45_000 });
    const held = json(await hold(t.app, fan, concert, 9));
    const answers = await Promise.all(Array.from({ length: 10 }, () => pay(t.app, fan, held.reservationId)));
    const codes = answers.map((a) => a.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.statusCode !== 201)) {
      // Losers either saw the sale (ALREADY_PAID) or arrived after it ended the token.
      expect(['ALREADY_PAID', 'TOKEN_EXPIRED']).toContain(json(a).error.code);
    }
    expect(await t.db.selectFrom('payments').select('id').where('reservation_id', '=', held.reservationId).execute()).toHaveLength(1);
    const ledger = await t.db.selectFrom('point_ledger').select('amount').where('user_id', '=', fan.userId).where('kind', '=', 'PAYMENT').execute();
    expect(ledger).toEqual([{ amount: -45_000 }]);
    await expectLedgerMatchesBalances(t.db, [fan.userId]);
  });

  it('answers a retried payment with its first answer, although the payment ended the token', async () => {
    const fan = await activeUser(t.app, 100_000);
    const concert = await createConcert(t.app, { price: 20_000 });
    const held = json(await hold(t.app, fan, concert, 4));
    const key = randomUUID();
    const first = await pay(t.app, fan, held.reservationId, key);
    expect(first.statusCode).toBe(201);
    const retry = await pay(t.app, fan, held.reservationId, key);
    expect(retry.statusCode).toBe(201);
    expect(json(retry)).toEqual(json(first));
    expect(await t.db.selectFrom('payments').select('id').where('reservation_id', '=', held.reservationId).execute()).toHaveLength(1);

    const otherRequest = await pay(t.app, fan, randomUUID(), key);
    expect(otherRequest.statusCode).toBe(422);
    expect(json(otherRequest).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Without the key, the ended token is refused.
    const noKey = await pay(t.app, fan, held.reservationId);
    expect(json(noKey).error.code).toBe('TOKEN_EXPIRED');
    // A forged token does not get the stored answer.
    const forged = await t.app.inject({
      method: 'POST',
      url: '/api/v1/payments',
      headers: { authorization: `Bearer ${fan.token}x`, 'idempotency-key': key },
      payload: { userId: fan.userId, reservationId: held.reservationId },
    });
    expect(json(forged).error.code).toBe('INVALID_TOKEN');
  });

  it('a retried payment ends the paying token if ending it failed the first time', async () => {
    // As if the instance died between the commit and ending the token: the first expire fails.
    const lines = new MemoryQueueLines(queueTimings(t.config), { activeLimit: 10, paused: false });
    const store = lines.line(GENERAL_LINE);
    const expire = store.expire.bind(store);
    let failures = 1;
    store.expire = async (tokenId, now) => {
      if (failures-- > 0) throw new Error('connection lost');
      return expire(tokenId, now);
    };
    const flaky = await createTestApp({}, { lines });
    try {
      const fan = await activeUser(flaky.app, 100_000);
      const concert = await createConcert(flaky.app, { price: 10_000 });
      const held = json(await hold(flaky.app, fan, concert, 1));
      const key = randomUUID();
      const first = await pay(flaky.app, fan, held.reservationId, key);
      expect(first.statusCode).toBe(201);
      const stillActive = await flaky.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(fan.token) });
      expect(json(stillActive).status).toBe('ACTIVE');

      const retry = await pay(flaky.app, fan, held.reservationId, key);
      expect(json(retry)).toEqual(json(first));
      const ended = await flaky.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(fan.token) });
      expect(json(ended).error.code).toBe('TOKEN_EXPIRED');
    } finally {
      await flaky.close();
    }
  });

  it('judges a hold at the moment the payment arrived, not when its turn at the database came', async () => {
    const short = await createTestApp({ reservation: { holdSeconds: 0.4, sweepMs: 50 } });
    try {
      const fan = await activeUser(short.app, 100_000);
      const other = await activeUser(short.app, 100_000);
      const concert = await createConcert(short.app, { price: 1_000 });
      const inTime = json(await hold(short.app, fan, concert, 1));
      const tooLate = json(await hold(short.app, other, concert, 2));
      const arrivedInTime = new Date();
      // Both holds lapsed (the second was made a moment after the first, so it lapses a moment later).
      await waitFor(async () => expect(Date.now()).toBeGreaterThan(Math.max(Date.parse(inTime.heldUntil), Date.parse(tooLate.heldUntil)) + 100), 3_000, 10);
      // Both holds have lapsed by now; one payment arrived before that and waited, the other arrives now.
      const payments = createPaymentService({ db: short.db, queue: { endToken: async () => {} }, holds: { releaseTokenHolds: async () => 0 } });
      const paid = await payments.pay({ userId: fan.userId, reservationId: inTime.reservationId, arrivedAt: arrivedInTime }, { tokenId: randomUUID() });
      expect(paid.body.amount).toBe(1_000);
      await expect(
        payments.pay({ userId: other.userId, reservationId: tooLate.reservationId, arrivedAt: new Date() }, { tokenId: randomUUID() }),
      ).rejects.toMatchObject({
        code: 'RESERVATION_EXPIRED',
      });
      await expectLedgerMatchesBalances(short.db, [fan.userId, other.userId]);
    } finally {
      await short.close();
    }
  });

  it('hands the freed slot to the next in line within 2 s of a payment', async () => {
    const small = await createTestApp({ queue: { activeLimit: 1, tickMs: 50 } });
    try {
      const buyer = await activeUser(small.app, 100_000);
      const nextUser = await createUser(small.app);
      const next = await joinQueue(small.app, nextUser);
      expect(next.status).toBe('WAITING');
      const concert = await createConcert(small.app, { price: 1_000 });
      const held = json(await hold(small.app, buyer, concert, 1));
      expect((await pay(small.app, buyer, held.reservationId)).statusCode).toBe(201);
      const paidAt = Date.now();
      await waitFor(async () => {
        const res = await small.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(next.token) });
        expect(json(res).status).toBe('ACTIVE');
      }, 2_000);
      expect(Date.now() - paidAt).toBeLessThan(2_000);
    } finally {
      await small.close();
    }
  });
});

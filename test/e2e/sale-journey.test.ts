// Journey 7: a scheduled on-sale. One fan goes from the sales list's countdown through the pre-queue
// and the draw (checked in the browser and, independently, here in Node) to a paid seat, and is then
// stopped at the sale's seat limit; another fan, waiting behind the last seat, sees "Sold out" by
// itself the moment it is bought.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  demoUsers,
  docShot,
  newFan,
  openSeatMap,
  seat,
  shot,
  useServerAndBrowser,
  waitForAttribute,
  waitForText,
  waitUntil,
  watchConsole,
  type TestServer,
} from './harness.js';

interface Sale {
  saleId: string;
  title: string;
  opensAt: string;
  phase: string;
  draw: { commitment: string; seed: string | null };
}

interface AdminSale extends Sale {
  sold: number;
  held: number;
  free: number;
}

interface SaleToken {
  token: string;
  status: string;
  position: number;
  entryId: string;
  drawRank?: number | null;
}

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

async function createSale(server: TestServer, input: { concertId: string; queueOpensAt: string; opensAt: string; maxSeatsPerUser?: number }): Promise<Sale> {
  return server.request<Sale>('POST', '/admin/v1/sales', { body: input, admin: true });
}

function joinSaleByApi(server: TestServer, userId: string, saleId: string): Promise<SaleToken> {
  return server.request<SaleToken>('POST', '/api/v1/queue/tokens', { body: { userId, saleId } });
}

/** The draw as the contract defines it, recomputed with Node's crypto rather than the page's. */
function recomputeDraw(seedHex: string, entries: readonly string[]): string[] {
  const key = Buffer.from(seedHex, 'hex');
  return entries
    .map((entryId) => ({ entryId, order: createHmac('sha256', key).update(entryId).digest('hex') }))
    .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0))
    .map((entry) => entry.entryId);
}

function saleCard(page: Page, saleId: string) {
  return page.getByTestId('sales').locator(`[data-testid="sale"][data-sale-id="${saleId}"]`);
}

/** From the first page: the sale's Join button, then a user id typed in. */
async function joinSaleWithUserId(page: Page, baseUrl: string, sale: Sale, userId: string): Promise<void> {
  await page.goto(baseUrl + '/');
  await saleCard(page, sale.saleId)
    .getByRole('button', { name: `Join this sale: ${sale.title}` })
    .click();
  await page.getByRole('heading', { name: `Joining the sale: ${sale.title}` }).waitFor();
  await page.getByLabel('Your user ID').fill(userId);
  await page.getByRole('button', { name: 'Join the line' }).click();
}

describe('a scheduled on-sale', () => {
  const fixture = useServerAndBrowser();

  it('takes a fan from the countdown through the pre-queue and a draw they can check to a paid seat', async () => {
    const { server, browser } = fixture;
    const title = 'Aurora Night';
    const concertId = await server.createConcert({ title, venue: 'KSPO Dome, Seoul', dates: [{ date: '2027-04-10', seatCount: 20, price: 40_000 }] });
    // The pre-queue is open now. The open is set well ahead and brought forward (as an operator may)
    // once the fan stands in the pre-queue, so a slow machine cannot make the fan miss the pre-queue.
    const sale = await createSale(server, { concertId, queueOpensAt: inSeconds(0), opensAt: inSeconds(60), maxSeatsPerUser: 1 });
    expect(sale.phase).toBe('PREQUEUE');
    expect(sale.draw.seed).toBeNull();
    // A second sale whose line opens in two hours: listed, counting down, not joinable yet.
    const laterTitle = 'Midsummer Strings';
    const laterConcert = await server.createConcert({ title: laterTitle, dates: [{ date: '2027-06-21', seatCount: 10, price: 20_000 }] });
    const later = await createSale(server, { concertId: laterConcert, queueOpensAt: inSeconds(7200), opensAt: inSeconds(10_800) });
    // Two other fans are already in the pre-queue.
    const others = await Promise.all(
      ['Early bird', 'Night owl'].map(async (name) => {
        const userId = await server.createUser(name);
        return { userId, ...(await joinSaleByApi(server, userId, sale.saleId)) };
      }),
    );
    for (const other of others) expect(other.status).toBe('WAITING');
    const fan = (await demoUsers(server))[0]!;
    const balance = await server.balance(fan.userId);

    const { context, page } = await newFan(browser);
    const pageErrors = watchConsole(page);
    await page.goto(server.baseUrl + '/');
    await page.getByRole('heading', { name: 'Scheduled on-sales' }).waitFor();
    const card = saleCard(page, sale.saleId);
    await waitForText(card.getByTestId('sale-phase'), /^Pre-queue open$/);
    await waitForText(card.getByTestId('sale-seats'), /^20 seats left$/);
    const countdown = card.getByRole('timer');
    expect(await countdown.getAttribute('data-testid')).toBe('sale-countdown');
    const first = await waitForText(countdown, /^Draw and sale open in [01]:\d\d$/);
    await waitUntil(async () => (await countdown.textContent()) !== first, 'the countdown to tick', 5_000);
    const laterCard = saleCard(page, later.saleId);
    await waitForText(laterCard.getByTestId('sale-phase'), /^Line not open yet$/);
    await waitForText(laterCard.getByTestId('sale-countdown'), /^Line opens in [12]:\d\d:\d\d$/);
    expect(await laterCard.getByRole('button').count()).toBe(0);
    await shot(page, '7-01-sales-list');
    await docShot(page, 'sales-list');

    await card.getByRole('button', { name: `Join this sale: ${title}` }).click();
    await page.getByRole('heading', { name: `Joining the sale: ${title}` }).waitFor();
    await page.getByRole('button', { name: `Continue as ${fan.name}` }).click();

    await page.getByRole('heading', { name: 'You are in the pre-queue' }).waitFor();
    await waitForText(page.getByTestId('prequeue-count'), /^3$/);
    await waitForText(page.getByTestId('draw-countdown'), /^The draw is in [01]:\d\d$/);
    expect(await page.getByTestId('draw-countdown').getAttribute('role')).toBe('timer');
    await waitForText(page.getByTestId('draw-explain'), /everyone here gets a random place in line/);
    const commitment = page.getByTestId('commitment');
    expect(await commitment.getAttribute('data-commitment')).toBe(sale.draw.commitment);
    expect(await commitment.textContent()).toBe(`${sale.draw.commitment.slice(0, 12)}…`);
    await shot(page, '7-02-prequeue');
    await docShot(page, 'sale-prequeue');

    // The open comes in 3 s; the page must move on by itself, without a reload.
    await page.evaluate('window.__noReload = true');
    await server.request('PATCH', `/admin/v1/sales/${sale.saleId}`, { body: { opensAt: inSeconds(3) }, admin: true });
    await page.getByRole('heading', { name: /^(You are in the waiting room|Choose a concert)$/ }).waitFor({ timeout: 20_000 });
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor({ timeout: 20_000 });
    expect(await page.evaluate('window.__noReload === true')).toBe(true);

    const rankText = await waitForText(page.getByTestId('draw-rank'), /^The draw gave you place [1-3] in line\.$/);
    const rank = Number(await page.getByTestId('draw-rank').getAttribute('data-draw-rank'));
    expect(rankText).toContain(`place ${rank} `);

    // Independently of the page: the published seed keeps the commitment, and the order it makes
    // puts each of the three entries where the service says.
    const draw = await server.request<{ commitment: string; seed: string; entries: string[] }>('GET', `/api/v1/sales/${sale.saleId}/draw`);
    expect(draw.commitment).toBe(sale.draw.commitment);
    expect(createHash('sha256').update(Buffer.from(draw.seed, 'hex')).digest('hex')).toBe(sale.draw.commitment);
    expect(draw.entries).toHaveLength(3);
    const order = recomputeDraw(draw.seed, draw.entries);
    const otherEntries = others.map((other) => other.entryId);
    const fanEntry = draw.entries.find((entryId) => !otherEntries.includes(entryId))!;
    expect(otherEntries.every((entryId) => draw.entries.includes(entryId))).toBe(true);
    expect(rank).toBe(order.indexOf(fanEntry) + 1);
    for (const other of others) {
      const me = await server.request<SaleToken>('GET', '/api/v1/queue/tokens/me', { token: other.token });
      expect(me.drawRank).toBe(order.indexOf(other.entryId) + 1);
    }

    await page.getByRole('button', { name: 'Check the draw' }).click();
    const result = page.getByTestId('draw-check-result');
    const verdict = await waitUntil(() => result.getAttribute('data-verdict', { timeout: 1_000 }), 'a verdict of the draw check');
    expect({ verdict, said: await result.textContent() }).toEqual({ verdict: 'match', said: expect.any(String) });
    expect(await page.getByTestId('draw-check-commitment').getAttribute('data-ok')).toBe('true');
    expect(await page.getByTestId('draw-check-rank').getAttribute('data-ok')).toBe('true');
    expect(await page.getByTestId('draw-check-rank').textContent()).toContain(
      `Recomputed in this browser from all 3 entries: your place is ${rank}, the same as the service says.`,
    );
    await shot(page, '7-03-draw-checked');
    await docShot(page, 'sale-draw-check');

    await openSeatMap(page, title);
    await seat(page, 7).click();
    await page.getByRole('button', { name: 'Hold this seat' }).click();
    await page.getByRole('heading', { name: 'Seat 7 is held for you' }).waitFor();
    await waitForText(page.getByTestId('balance'), new RegExp(`^${balance.toLocaleString('en-US')} won$`));
    await page.getByRole('button', { name: 'Pay 40,000 won' }).click();
    await page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    expect(await page.getByTestId('done-seat').textContent()).toBe('7');
    expect(await page.getByTestId('done-amount').textContent()).toBe('40,000 won');
    await shot(page, '7-04-paid');

    // One seat per fan in this sale: joining again is allowed, a second hold is not.
    await page.getByRole('button', { name: "Join this sale's line again for another seat" }).click();
    await openSeatMap(page, title);
    await waitForAttribute(seat(page, 7), 'aria-label', 'Seat 7, taken');
    await seat(page, 8).click();
    await page.getByRole('button', { name: 'Hold this seat' }).click();
    await waitForText(page.getByTestId('seat-notice'), /^You already hold or own 1 seat of this sale, the most one fan may have\.$/);
    await shot(page, '7-05-seat-limit');
    const facts = await server.request<AdminSale>('GET', `/admin/v1/sales/${sale.saleId}`, { admin: true });
    expect({ sold: facts.sold, held: facts.held }).toEqual({ sold: 1, held: 0 });

    // The only thing the page may have complained about is the refused second hold.
    const refusedHold = /status of 409 .*\/api\/v1\/reservations\)$/;
    expect(pageErrors.errors().filter((error) => !refusedHold.test(error))).toEqual([]);
    expect(pageErrors.errors().filter((error) => refusedHold.test(error))).toHaveLength(1);
    await context.close();
  });

  it('shows a fan waiting behind the last seat "Sold out" without a reload when it is bought', async () => {
    const { server, browser } = fixture;
    const title = 'The Last Seat';
    const concertId = await server.createConcert({ title, dates: [{ date: '2027-05-05', seatCount: 1, price: 30_000 }] });
    const sale = await createSale(server, { concertId, queueOpensAt: inSeconds(0), opensAt: inSeconds(0) });
    const buyerId = await server.createUser('Ji-ho'); // no points yet: tops up on the hold page
    const waiterId = await server.createUser('Da-eun');

    const a = await newFan(browser);
    const aConsole = watchConsole(a.page);
    await a.page.goto(server.baseUrl + '/');
    const card = saleCard(a.page, sale.saleId);
    await waitForText(card.getByTestId('sale-phase'), /^On sale now$/);
    await waitForText(card.getByTestId('sale-seats'), /^1 seats? left$/);
    expect(await card.getByTestId('sale-countdown').count()).toBe(0);
    await joinSaleWithUserId(a.page, server.baseUrl, sale, buyerId);
    await openSeatMap(a.page, title);
    await seat(a.page, 1).click();
    await a.page.getByRole('button', { name: 'Hold this seat' }).click();
    await a.page.getByRole('heading', { name: 'Seat 1 is held for you' }).waitFor();
    await shot(a.page, '7-06-buyer-holds-the-last-seat');

    // The second fan joins while the only seat is held: admission follows the seats, so they wait.
    const b = await newFan(browser);
    const bConsole = watchConsole(b.page);
    await joinSaleWithUserId(b.page, server.baseUrl, sale, waiterId);
    await b.page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await waitForText(b.page.getByTestId('position'), /^1$/);
    await b.page.getByText('Live updates').waitFor();
    await b.page.evaluate('window.__noReload = true');
    await shot(b.page, '7-07-second-fan-waits');

    await a.page.getByLabel('Amount to add (won)').fill('30000');
    await a.page.getByRole('button', { name: 'Add points' }).click();
    await waitForText(a.page.getByTestId('balance'), /^30,000 won$/);
    await a.page.getByRole('button', { name: 'Pay 30,000 won' }).click();
    await a.page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    await shot(a.page, '7-08-buyer-paid');

    const soldOut = b.page.getByTestId('sold-out');
    await soldOut.waitFor({ timeout: 10_000 });
    await soldOut.getByRole('heading', { name: 'Sold out' }).waitFor();
    expect(await soldOut.textContent()).toContain(`Every seat of ${title} is sold`);
    expect(await b.page.evaluate('window.__noReload === true')).toBe(true);
    await shot(b.page, '7-09-sold-out');

    // Back on the first page the sale is listed as sold out, with nothing to join.
    await b.page.getByRole('button', { name: 'Start over' }).click();
    const listed = saleCard(b.page, sale.saleId);
    await waitForText(listed.getByTestId('sale-phase'), /^Sold out$/);
    expect(await listed.getByRole('button').count()).toBe(0);
    expect(await listed.getByTestId('sale-seats').count()).toBe(0);

    expect(aConsole.errors()).toEqual([]);
    expect(bConsole.errors()).toEqual([]);
    await a.context.close();
    await b.context.close();
  });
});

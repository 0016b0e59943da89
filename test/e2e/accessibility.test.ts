// Every screen of both pages passes axe-core (no violation of impact serious or critical) in English
// and in Korean: the fan's journey from choosing who they are through the waiting room (running,
// paused with an operator message) to a paid seat, a sale's pre-queue, draw check and sold-out screen,
// a place that ended, and the operator's page.
import { describe, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  adminKey,
  demoUsers,
  expectAccessibleInBothLanguages,
  joinWithUserId,
  newFan,
  openSeatMap,
  seat,
  useServerAndBrowser,
  waitForText,
  type TestServer,
} from './harness.js';

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

interface Sale {
  saleId: string;
  title: string;
}

async function createSale(server: TestServer, concertId: string, opensInSeconds: number, activeLimit?: number): Promise<Sale> {
  return server.request<Sale>('POST', '/admin/v1/sales', {
    body: { concertId, queueOpensAt: inSeconds(0), opensAt: inSeconds(opensInSeconds), ...(activeLimit !== undefined ? { activeLimit } : {}) },
    admin: true,
  });
}

async function joinSale(page: Page, sale: Sale, fanName: string): Promise<void> {
  await page
    .getByTestId('sales')
    .locator(`[data-testid="sale"][data-sale-id="${sale.saleId}"]`)
    .getByRole('button', { name: `Join this sale: ${sale.title}` })
    .click();
  await page.getByRole('heading', { name: `Joining the sale: ${sale.title}` }).waitFor();
  await page.getByRole('button', { name: `Continue as ${fanName}` }).click();
}

describe('accessibility (axe-core, English and Korean)', () => {
  const fixture = useServerAndBrowser({ QUEUE_ACTIVE_LIMIT: '1' });

  it("passes on the fan's screens from choosing who to a paid seat, the waiting room paused with a message included", async () => {
    const { server, browser } = fixture;
    const title = 'Axe Hall';
    await server.createConcert({ title, dates: [{ date: '2027-07-01', seatCount: 24, price: 30_000 }] });
    const holder = await server.createUser('Slot holder');
    await server.issueToken(holder); // the only active slot: the fan below waits
    const fanId = await server.createUser('Min-jun'); // no points: the checkout shows the top-up form

    const { context, page } = await newFan(browser);
    await page.goto(server.baseUrl + '/');
    await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
    await page
      .getByRole('button', { name: /^Continue as / })
      .first()
      .waitFor();
    await expectAccessibleInBothLanguages(page, 'choose who');

    await joinWithUserId(page, server.baseUrl, fanId);
    await page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await waitForText(page.getByTestId('position'), /^1$/);
    await expectAccessibleInBothLanguages(page, 'waiting room');

    await server.request('PATCH', '/admin/v1/queue', { body: { paused: true, message: 'Doors open at 7 pm; please keep this page open.' }, admin: true });
    await page.getByTestId('paused').waitFor();
    await page.getByTestId('operator-message').waitFor();
    await expectAccessibleInBothLanguages(page, 'waiting room, paused, with an operator message');
    await server.request('PATCH', '/admin/v1/queue', { body: { paused: false, activeLimit: 2, message: null }, admin: true });

    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: new RegExp(title) }).waitFor();
    await expectAccessibleInBothLanguages(page, 'concerts');
    await page.getByRole('button', { name: new RegExp(title) }).click();
    await page.getByRole('heading', { name: 'Choose a date' }).waitFor();
    await page.getByRole('button', { name: /seats left/ }).waitFor();
    await expectAccessibleInBothLanguages(page, 'dates');
    await page.getByRole('button', { name: /seats left/ }).click();
    await page.getByRole('heading', { name: 'Choose a seat' }).waitFor();
    await seat(page, 3).waitFor();
    await seat(page, 3).click();
    await page.getByRole('button', { name: 'Hold this seat' }).waitFor();
    await expectAccessibleInBothLanguages(page, 'seat map');

    await page.getByRole('button', { name: 'Hold this seat' }).click();
    await page.getByRole('heading', { name: 'Seat 3 is held for you' }).waitFor();
    await page.getByLabel('Amount to add (won)').waitFor();
    await expectAccessibleInBothLanguages(page, 'checkout with top-up');
    await page.getByRole('button', { name: 'Add points' }).click();
    await page.getByText('Points added. Your balance is now 30,000 won.').waitFor();
    await expectAccessibleInBothLanguages(page, 'checkout, topped up');
    await page.getByRole('button', { name: 'Pay 30,000 won' }).click();
    await page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    await expectAccessibleInBothLanguages(page, 'confirmation');
    await context.close();
  });

  it("passes on a sale's pre-queue, its draw check and its sold-out screen", async () => {
    const { server, browser } = fixture;
    const title = 'Axe Arena';
    const concertId = await server.createConcert({ title, dates: [{ date: '2027-08-01', seatCount: 1, price: 10_000 }] });
    const sale = await createSale(server, concertId, 120, 1);
    const [first, second] = await demoUsers(server);

    const a = await newFan(browser);
    await a.page.goto(server.baseUrl + '/');
    await a.page.getByRole('heading', { name: 'Scheduled on-sales' }).waitFor();
    await expectAccessibleInBothLanguages(a.page, 'sales list');
    await joinSale(a.page, sale, first!.name);
    await a.page.getByRole('heading', { name: 'You are in the pre-queue' }).waitFor();
    await a.page.getByTestId('commitment').waitFor();
    await expectAccessibleInBothLanguages(a.page, 'pre-queue');

    await server.request('PATCH', `/admin/v1/sales/${sale.saleId}`, { body: { opensAt: inSeconds(2) }, admin: true });
    await a.page.getByRole('heading', { name: 'Choose a concert' }).waitFor({ timeout: 20_000 });
    await a.page.getByRole('button', { name: 'Check the draw' }).click();
    await a.page.getByTestId('draw-check-result').waitFor();
    await expectAccessibleInBothLanguages(a.page, 'draw check');

    // The second fan waits behind the only seat, which the first fan then buys.
    await openSeatMap(a.page, title);
    await seat(a.page, 1).click();
    await a.page.getByRole('button', { name: 'Hold this seat' }).click();
    await a.page.getByRole('heading', { name: 'Seat 1 is held for you' }).waitFor();
    const b = await newFan(browser);
    await b.page.goto(server.baseUrl + '/');
    await joinSale(b.page, sale, second!.name);
    await b.page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await a.page.getByRole('button', { name: 'Pay 10,000 won' }).click();
    await a.page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    await b.page.getByTestId('sold-out').waitFor({ timeout: 10_000 });
    await expectAccessibleInBothLanguages(b.page, 'sold out');
    await a.context.close();
    await b.context.close();
  });

  it("passes on the operator's page", async () => {
    const { server, browser } = fixture;
    const { context, page } = await newFan(browser, { width: 1000, height: 900 });
    await page.goto(server.baseUrl + '/admin');
    await page.getByRole('heading', { name: 'Queue operator' }).waitFor();
    await expectAccessibleInBothLanguages(page, 'operator sign-in');
    await page.getByLabel('Admin key').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.getByTestId('admission'), /^(Running|Paused)$/);
    await page
      .getByTestId('history-general-waiting')
      .getByRole('img', { name: /Waiting and active/ })
      .waitFor();
    await expectAccessibleInBothLanguages(page, 'operator page');
    await context.close();
  });
});

// Beyond the five journeys: when the event stream cannot be used the waiting room polls instead
// and still moves on; when a token ends the fan is told in words and can rejoin with one button.
import { beforeAll, describe, expect, it } from 'vitest';
import { joinWithUserId, newFan, openSeatMap, seat, shot, useServerAndBrowser, waitForText } from './harness.js';

describe('waiting room fallback and token expiry', () => {
  const fixture = useServerAndBrowser({ QUEUE_ACTIVE_LIMIT: '1', QUEUE_ACTIVE_TTL_SECONDS: '6' });

  beforeAll(async () => {
    await fixture.server.createConcert({ title: 'Short Set', dates: [{ date: '2027-03-01', seatCount: 10, price: 10_000 }] });
  });

  it('polls when the event stream fails, then tells the fan when the turn ends and lets them rejoin', async () => {
    const { server, browser } = fixture;
    const holder = await server.createUser('Slot holder');
    expect((await server.issueToken(holder)).status).toBe('ACTIVE'); // takes the only slot for 6 s

    const { context, page } = await newFan(browser);
    // Make every attempt to open the stream fail, as a proxy that buffers SSE might.
    await page.route('**/queue/tokens/me/events**', (route) => route.abort());
    const fanId = await server.createUser('Patient fan');
    await joinWithUserId(page, server.baseUrl, fanId);
    await page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await page.getByText(/Checking every \d+ s/).waitFor();
    await waitForText(page.getByTestId('position'), /^1$/);
    await shot(page, '6-01-polling-fallback');

    // The holder's active time runs out; polling notices the admission.
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor({ timeout: 15_000 });
    await shot(page, '6-02-admitted-by-polling');

    // Now this fan's own 6 s run out while idling on the concert list: the page notices by itself.
    await page.getByRole('heading', { name: 'Your place in line has ended' }).waitFor({ timeout: 15_000 });
    expect(await page.locator('main').textContent()).not.toMatch(/TOKEN_EXPIRED|401/);
    await shot(page, '6-03-expired');

    await page.getByRole('button', { name: 'Join the line again' }).click();
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    await shot(page, '6-04-rejoined');

    // The same on the seat map when the new turn runs out.
    await openSeatMap(page, 'Short Set');
    await seat(page, 1).waitFor();
    await page.getByRole('heading', { name: 'Your place in line has ended' }).waitFor({ timeout: 15_000 });
    await context.close();
  });
});

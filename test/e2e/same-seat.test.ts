// Journey 3: two fans pick the same seat at the same moment. Exactly one holds it; the other is
// told in words, stays on the map and sees the seat greyed out.
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { joinWithUserId, newFan, openSeatMap, seat, shot, useServerAndBrowser, waitUntil } from './harness.js';

describe('two fans, one seat', () => {
  const fixture = useServerAndBrowser();

  it('lets one fan hold the seat and tells the other, greying it out on their map', async () => {
    const { server, browser } = fixture;
    const title = 'Duel Night';
    await server.createConcert({ title, dates: [{ date: '2027-01-15', seatCount: 40, price: 70_000 }] });
    const fans = await Promise.all(
      ['Jisoo', 'Hana'].map(async (name) => {
        const userId = await server.createUser(name);
        const fan = await newFan(browser);
        await joinWithUserId(fan.page, server.baseUrl, userId);
        await openSeatMap(fan.page, title);
        await seat(fan.page, 7).click();
        await fan.page.getByRole('button', { name: 'Hold this seat' }).waitFor();
        return fan;
      }),
    );
    const [one, two] = fans as [(typeof fans)[0], (typeof fans)[0]];
    await shot(one.page, '3-01-fan-one-picks-7');
    await shot(two.page, '3-02-fan-two-picks-7');

    // Both press "Hold this seat" at once.
    await Promise.all([one.page.getByRole('button', { name: 'Hold this seat' }).click(), two.page.getByRole('button', { name: 'Hold this seat' }).click()]);

    const outcome = async (page: Page) => {
      if (await page.getByRole('heading', { name: 'Seat 7 is held for you' }).isVisible()) return 'held';
      if (await page.getByText('Sorry, someone else just took seat 7. Please pick another seat.').isVisible()) return 'lost';
      return undefined;
    };
    const results = await waitUntil(async () => {
      const both = await Promise.all([outcome(one.page), outcome(two.page)]);
      return both.every(Boolean) ? both : undefined;
    }, 'both fans to see the outcome');
    expect([...results].sort()).toEqual(['held', 'lost']);

    const winner = results[0] === 'held' ? one : two;
    const loser = results[0] === 'held' ? two : one;
    await shot(winner.page, '3-03-winner-holds');
    // The loser is still on the map, the seat is greyed out, not pressable, and nothing is selected.
    await loser.page.getByRole('heading', { name: 'Choose a seat' }).waitFor();
    expect(await seat(loser.page, 7).getAttribute('aria-label')).toBe('Seat 7, taken');
    expect(await seat(loser.page, 7).getAttribute('aria-disabled')).toBe('true');
    expect(await seat(loser.page, 7).isDisabled()).toBe(true);
    expect(await loser.page.getByRole('button', { name: 'Hold this seat' }).count()).toBe(0);
    // Keyboard focus stays on the map, on the seat that was lost, rather than falling to the page.
    await waitUntil(async () => (await loser.page.evaluate('document.activeElement?.getAttribute("data-seat")')) === '7', 'focus on seat 7');
    const alert = loser.page.getByRole('alert');
    expect(await alert.textContent()).not.toMatch(/[A-Z]+_[A-Z]+/); // a sentence, never the raw code
    await shot(loser.page, '3-04-loser-told');

    // The winner goes back to the map while the loser carries on with seat 8: the winner's open
    // map greys seat 8 out on its next refresh, with no reload or click.
    await winner.page.getByRole('button', { name: 'Choose another seat' }).last().click();
    await seat(winner.page, 8).waitFor();
    expect(await seat(winner.page, 8).getAttribute('aria-label')).toBe('Seat 8, 70,000 won, available');
    expect(await seat(winner.page, 7).getAttribute('aria-label')).toBe('Seat 7, taken');
    await seat(loser.page, 8).click();
    await loser.page.getByRole('button', { name: 'Hold this seat' }).click();
    await loser.page.getByRole('heading', { name: 'Seat 8 is held for you' }).waitFor();
    await shot(loser.page, '3-05-loser-holds-8');
    await waitUntil(async () => (await seat(winner.page, 8).getAttribute('aria-label')) === 'Seat 8, taken', 'seat 8 to grey out on the open map', 10_000);
    await shot(winner.page, '3-06-winner-map-refreshed');
    for (const fan of fans) await fan.context.close();
  });
});

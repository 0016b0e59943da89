// Journey 2: with one active slot, the second fan waits at position 1, watching the waiting room
// update live, and moves on to the concerts by itself when the first fan pays.
import { describe, expect, it } from 'vitest';
import { demoUsers, docShot, joinWithUserId, newFan, openSeatMap, seat, shot, useServerAndBrowser, waitForAttribute, waitForText } from './harness.js';

describe('the waiting room', () => {
  const fixture = useServerAndBrowser({ QUEUE_ACTIVE_LIMIT: '1' });

  it('shows the second fan position 1 and lets them in without a reload when the first fan pays', async () => {
    const { server, browser } = fixture;
    const title = 'Spring Tour';
    await server.createConcert({ title, dates: [{ date: '2026-12-31', seatCount: 20, price: 30_000 }] });
    const first = await server.createUser('First fan');
    const second = (await demoUsers(server))[1]!; // joins by clicking a demo fan
    await server.charge(first, 30_000); // this also gives the first fan the only active slot

    const a = await newFan(browser);
    await joinWithUserId(a.page, server.baseUrl, first);
    await openSeatMap(a.page, title);
    await seat(a.page, 4).click();
    await a.page.getByRole('button', { name: 'Hold this seat' }).click();
    await a.page.getByRole('heading', { name: 'Seat 4 is held for you' }).waitFor();
    await shot(a.page, '2-01-first-fan-holds');

    const b = await newFan(browser);
    await b.page.goto(server.baseUrl + '/');
    await b.page.getByRole('button', { name: `Continue as ${second.name}` }).click();
    await b.page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await waitForText(b.page.getByTestId('position'), /^1$/);
    await waitForText(b.page.getByTestId('wait'), /\S/);
    // Progress since joining: first in line at join is 0 % until admitted (never a half-full bar).
    const progress = b.page.getByRole('progressbar', { name: 'Progress to the front of the line' });
    expect(await progress.getAttribute('aria-valuenow')).toBe('0');
    // The stream is open: the page says it is live, not polling, and how fresh its numbers are.
    await b.page.getByText('Live updates').waitFor();
    await waitForText(b.page.getByTestId('updated'), /^Updated \d+ s ago$/);
    await shot(b.page, '2-02-second-fan-waits');
    await docShot(b.page, 'waiting-room');

    // A reload keeps the place in line (the token is in sessionStorage).
    await b.page.reload();
    await b.page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await waitForText(b.page.getByTestId('position'), /^1$/);
    await b.page.evaluate('window.__noReload = true');

    await a.page.getByRole('button', { name: 'Pay 30,000 won' }).click();
    await a.page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    await shot(a.page, '2-03-first-fan-paid');

    // The slot frees within 2 s; the waiting room moves on by itself.
    await b.page.getByRole('heading', { name: 'Choose a concert' }).waitFor({ timeout: 10_000 });
    expect(await b.page.evaluate('window.__noReload === true')).toBe(true);
    await b.page.getByRole('button', { name: new RegExp(title) }).waitFor();
    await shot(b.page, '2-04-second-fan-admitted');

    // And the seat the first fan bought shows as taken to the second.
    await b.page.getByRole('button', { name: new RegExp(title) }).click();
    await b.page.getByRole('button', { name: /seats left/ }).click();
    await seat(b.page, 4).waitFor();
    await waitForAttribute(seat(b.page, 4), 'aria-label', 'Seat 4, taken');
    await shot(b.page, '2-05-seat-4-sold');
    await a.context.close();
    await b.context.close();
  });
});

// Journey 1: a fan goes from the first page to the confirmation, through a seat map where other
// fans' holds already show as taken.
import { describe, expect, it } from 'vitest';
import { demoUsers, newFan, seat, shot, useServerAndBrowser, waitForText } from './harness.js';

describe('a fan buys a seat', () => {
  const fixture = useServerAndBrowser();

  it('goes from the first page to the confirmation, seeing seats others hold greyed out', async () => {
    const { server, browser } = fixture;
    const title = 'Winter Gala';
    const concertId = await server.createConcert({ title, dates: [{ date: '2026-12-24', seatCount: 30, price: 50_000 }] });
    // A newcomer picks a seeded demo fan on the first page; demo fans come with points.
    const demoFan = (await demoUsers(server))[0]!;
    const balance = await server.balance(demoFan.userId);
    expect(balance).toBeGreaterThanOrEqual(50_000);
    const won = (n: number) => `${n.toLocaleString('en-US')} won`;
    // Three other fans hold seats 3, 8 and 12 before our fan looks at the map.
    for (const seatNumber of [3, 8, 12]) {
      const other = await server.createUser(`Other ${seatNumber}`);
      const { token } = await server.issueToken(other);
      await server.request('POST', '/api/v1/reservations', {
        token,
        body: { userId: other, concertId, date: '2026-12-24', seatNumber },
      });
    }

    const { context, page } = await newFan(browser);
    await page.goto(server.baseUrl + '/');
    await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
    // Demo mode lists the seeded demo fans as one-click choices.
    await page.getByLabel('Your user ID').waitFor();
    await page.getByRole('button', { name: `Continue as ${demoFan.name}` }).waitFor();
    await shot(page, '1-01-choose-who');

    await page.getByRole('button', { name: `Continue as ${demoFan.name}` }).click();
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    await waitForText(page.locator('.banner'), /It is your turn · Your turn ends in \d+:\d\d/);
    await page.getByText(`Signed in as ${demoFan.name}`).waitFor();
    await shot(page, '1-02-concerts');

    await page.getByRole('button', { name: new RegExp(title) }).click();
    await page.getByRole('heading', { name: 'Choose a date' }).waitFor();
    const dateButton = page.getByRole('button', { name: /seats left/ });
    expect(await dateButton.textContent()).toContain('27 of 30 seats left');
    expect(await dateButton.textContent()).toContain('December 24, 2026');
    await shot(page, '1-03-dates');

    await dateButton.click();
    await page.getByRole('heading', { name: 'Choose a seat' }).waitFor();
    await seat(page, 1).waitFor();
    expect(await page.locator('.seat').count()).toBe(30);
    for (const taken of [3, 8, 12]) {
      expect(await seat(page, taken).getAttribute('aria-label')).toBe(`Seat ${taken}, taken`);
      expect(await seat(page, taken).getAttribute('aria-disabled')).toBe('true');
    }
    expect(await seat(page, 5).getAttribute('aria-label')).toBe('Seat 5, 50,000 won, available');

    // Keyboard: focus the grid's one tab stop, arrow right four times to seat 5, press Enter.
    await seat(page, 1).focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    expect(await seat(page, 5).getAttribute('aria-pressed')).toBe('true');
    expect(await seat(page, 5).getAttribute('aria-label')).toBe('Seat 5, 50,000 won, selected');
    await page.getByText('Seat 5 · 50,000 won').waitFor();
    await shot(page, '1-04-seat-map');
    // The README's picture of the seat map is a hall's (seat-map.test.ts).

    await page.getByRole('button', { name: 'Hold this seat' }).click();
    await page.getByRole('heading', { name: 'Seat 5 is held for you' }).waitFor();
    await waitForText(page.getByRole('timer').filter({ hasText: 'Hold ends' }), /^Hold ends in [45]:\d\d$/);
    await waitForText(page.getByTestId('balance'), new RegExp(`^${won(balance)}$`));
    await shot(page, '1-05-held');

    await page.getByRole('button', { name: 'Pay 50,000 won' }).click();
    await page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    expect(await page.getByTestId('done-seat').textContent()).toBe('5');
    expect(await page.getByTestId('done-amount').textContent()).toBe('50,000 won');
    expect(await page.getByTestId('done-date').textContent()).toContain('December 24, 2026');
    expect(await page.getByTestId('done-payment').textContent()).toMatch(/^[0-9a-f-]{36}$/);
    await page.getByText(title, { exact: false }).first().waitFor();
    await page.getByText(won(balance - 50_000), { exact: true }).waitFor();
    await shot(page, '1-06-confirmation');

    // The confirmation survives a reload, and the toggle switches it to Korean.
    await page.reload();
    await page.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    await page.getByRole('button', { name: 'Switch the language to Korean' }).click();
    await page.getByRole('heading', { name: '예매가 완료되었습니다!' }).waitFor();
    expect(await page.getByTestId('done-amount').textContent()).toBe('50,000원');
    expect(await page.evaluate('document.documentElement.lang')).toBe('ko');
    await shot(page, '1-07-confirmation-korean');

    // The server agrees: seat 5 is no longer free.
    const { token } = await server.issueToken(await server.createUser('Checker'));
    const seats = await server.request<{ seats: { number: number }[] }>('GET', `/api/v1/concerts/${concertId}/dates/2026-12-24/seats`, { token });
    expect(seats.seats.map((s) => s.number)).not.toContain(5);
    await context.close();
  });

  it('speaks Korean to a Korean browser, and the toggle switches to English', async () => {
    const { server, browser } = fixture;
    const context = await browser.newContext({ locale: 'ko-KR', viewport: { width: 375, height: 812 } });
    const page = await context.newPage();
    await page.goto(server.baseUrl + '/');
    await page.getByRole('heading', { name: '티켓 대기열에 들어가기' }).waitFor();
    expect(await page.evaluate('document.documentElement.lang')).toBe('ko');
    await page.getByLabel('사용자 ID').waitFor();
    await page.getByRole('button', { name: '언어를 영어로 바꾸기' }).click();
    await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
    await shot(page, '1-08-korean-browser-switched');
    // The choice is remembered across a reload.
    await page.reload();
    await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
    await context.close();
  });
});

// Journey: a concert with a layout, seen by a fan in another time zone. The dates show the venue's time
// with its zone named and each date's price range; the map draws the stage, the sections with an aisle
// between each two, labelled rows and seats coloured by price tier with a legend, every seat's name
// giving its place and price; on a phone the chosen seat's summary stays pinned to the bottom of the
// screen. In English and Korean.
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  docShot,
  expectAccessibleInBothLanguages,
  joinWithUserId,
  seat,
  shot,
  useServerAndBrowser,
  waitForAttribute,
  waitForText,
  type TestServer,
} from './harness.js';

const date = '2027-03-14';
const layout = {
  stage: 'top',
  sections: [
    {
      name: 'VIP',
      price: 150_000,
      rows: [
        { name: 'A', seats: 4 },
        { name: 'B', seats: 6 },
      ],
    },
    {
      name: 'R',
      price: 120_000,
      rows: [
        { name: 'C', seats: 8 },
        { name: 'D', seats: 8 },
      ],
    },
    { name: 'S', price: 90_000, rows: [{ name: 'E', seats: 10 }] },
  ],
};

async function createHall(server: TestServer, title: string): Promise<string> {
  const body = {
    title,
    venue: 'Olympic Hall, Seoul',
    timeZone: 'Asia/Seoul',
    layout,
    // 10:00 UTC is 19:00 in Seoul, and 02:00 the same day in Los Angeles, where the fan's browser is.
    dates: [{ date, startsAt: `${date}T10:00:00.000Z` }],
  };
  const { concertId } = await server.request<{ concertId: string }>('POST', '/admin/v1/concerts', { body, admin: true });
  // Another fan holds VIP row A seat 2 (seat number 2).
  const other = await server.createUser('Other fan');
  const { token } = await server.issueToken(other);
  await server.request('POST', '/api/v1/reservations', { token, body: { userId: other, concertId, date, seatNumber: 2 } });
  return concertId;
}

/** A fan whose browser is in Los Angeles, at the given size and language. */
async function fanInLosAngeles(browser: Browser, viewport: { width: number; height: number }, locale: string) {
  const context = await browser.newContext({ viewport, locale, timezoneId: 'America/Los_Angeles', reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

/** Every seat's accessible name contains the text it shows (axe's label-in-name), and its price. */
async function expectSeatNamesHoldTheirTextAndPrice(page: Page, won: (n: number) => string): Promise<void> {
  const seats = await page.locator('.venue [data-seat]').evaluateAll((buttons) =>
    buttons.map((b) => ({
      text: (b.textContent ?? '').trim(),
      name: b.getAttribute('aria-label') ?? '',
      row: b.closest('[data-row]')?.getAttribute('data-row'),
    })),
  );
  expect(seats).toHaveLength(36);
  for (const s of seats) {
    expect(s.name, s.name).toContain(s.text);
    expect(s.name).toMatch(new RegExp(`${won(90_000)}|${won(120_000)}|${won(150_000)}`));
  }
}

describe('the seat map of a hall', () => {
  const fixture = useServerAndBrowser();

  it('at desktop width draws the stage, sections, aisles, labelled rows and a price legend, with times in the venue zone', async () => {
    const { server, browser } = fixture;
    const title = 'Hall Layout Night';
    await createHall(server, title);
    const { context, page } = await fanInLosAngeles(browser, { width: 1280, height: 800 }, 'en-US');
    await joinWithUserId(page, server.baseUrl, await server.createUser('Desktop fan'));
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    await page.getByRole('button', { name: new RegExp(title) }).click();

    // The date: 19:00 in Seoul with the zone named, not 02:00 Los Angeles time; the date's price range.
    await page.getByRole('heading', { name: 'Choose a date' }).waitFor();
    const dateButton = page.getByRole('button', { name: /seats left/ });
    expect(await dateButton.getByTestId('date-time').textContent()).toBe('7:00 PM Korean Standard Time');
    expect(await dateButton.textContent()).toContain('Sunday, March 14, 2027');
    expect(await dateButton.textContent()).toContain('35 of 36 seats left');
    expect(await dateButton.getByTestId('price-range').textContent()).toBe('90,000 won – 150,000 won');
    await shot(page, 'sm-01-dates');

    await dateButton.click();
    await page.getByRole('heading', { name: 'Choose a seat' }).waitFor();
    await seat(page, 1).waitFor();
    expect(await page.getByTestId('seat-map-time').textContent()).toBe('7:00 PM Korean Standard Time');

    // The stage above the sections, which run VIP, R, S from it with an aisle between each two.
    const stage = await page.getByTestId('stage').boundingBox();
    expect(await page.getByTestId('stage').textContent()).toBe('Stage');
    const sections = page.locator('.venue .section');
    expect(await sections.evaluateAll((all) => all.map((s) => s.getAttribute('data-section')))).toEqual(['VIP', 'R', 'S']);
    expect(await page.locator('.venue .section-title').allTextContents()).toEqual(['VIP · 150,000 won', 'R · 120,000 won', 'S · 90,000 won']);
    expect(await page.locator('.venue .aisle').count()).toBe(2);
    const vipBox = await sections.nth(0).boundingBox();
    const sBox = await sections.nth(2).boundingBox();
    expect(stage!.y + stage!.height).toBeLessThanOrEqual(vipBox!.y);
    expect(vipBox!.y + vipBox!.height).toBeLessThan(sBox!.y);
    // Rows labelled at both ends; a row's seats show their place in it.
    expect(await page.locator('[data-row="C"] .row-name').allTextContents()).toEqual(['C', 'C']);
    expect(await page.locator('[data-row="C"] [data-seat]').allTextContents()).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);

    // The legend: one colour per price, the same colour as that price's seats.
    const legend = page.getByTestId('price-legend').locator('li');
    expect(await legend.allTextContents()).toEqual([' VIP: 150,000 won', ' R: 120,000 won', ' S: 90,000 won']);
    const swatchColours = (await page.evaluate(
      `[...document.querySelectorAll('[data-testid="price-legend"] .swatch')].map((s) => getComputedStyle(s).borderTopColor)`,
    )) as string[];
    expect(new Set(swatchColours).size).toBe(3);
    const seatColour = (n: number) => page.evaluate(`getComputedStyle(document.querySelector('[data-seat="${n}"]')).borderTopColor`);
    expect([await seatColour(1), await seatColour(11), await seatColour(27)]).toEqual(swatchColours);

    // Names give the place and the price; the held seat is taken.
    expect(await seat(page, 5).getAttribute('aria-label')).toBe('VIP row B seat 1, 150,000 won, available');
    expect(await seat(page, 2).getAttribute('aria-label')).toBe('VIP row A seat 2, 150,000 won, taken');
    expect(await seat(page, 2).getAttribute('aria-disabled')).toBe('true');
    await page.getByRole('button', { name: 'R row C seat 3, 120,000 won, available' }).waitFor();
    await expectSeatNamesHoldTheirTextAndPrice(page, (n) => `${n.toLocaleString('en-US')} won`);

    // Keyboard: one tab stop; arrows move on screen, along a row and to the row behind.
    await seat(page, 5).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(`document.activeElement?.getAttribute('aria-label')`)).toBe('VIP row B seat 2, 150,000 won, available');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(`document.activeElement?.closest('[data-row]')?.getAttribute('data-row')`)).toBe('C');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    expect(await page.evaluate(`document.activeElement?.closest('[data-row]')?.getAttribute('data-row')`)).toBe('A');
    await seat(page, 5).click();
    await waitForAttribute(seat(page, 5), 'aria-pressed', 'true');
    expect(await seat(page, 5).getAttribute('aria-label')).toBe('VIP row B seat 1, 150,000 won, selected');
    expect(await page.locator('.hold-summary').textContent()).toBe('VIP row B seat 1 · 150,000 won');
    await shot(page, 'sm-02-map-desktop');
    await expectAccessibleInBothLanguages(page, 'seat map of a hall');

    // Korean: the same map in words a Korean fan reads, the time still the venue's.
    await page.getByRole('button', { name: 'Switch the language to Korean' }).click();
    await page.getByRole('heading', { name: '좌석 선택' }).waitFor();
    expect(await page.getByTestId('stage').textContent()).toBe('무대');
    expect(await seat(page, 5).getAttribute('aria-label')).toBe('VIP B열 좌석 1, 150,000원, 선택됨');
    expect(await seat(page, 6).getAttribute('aria-label')).toBe('VIP B열 좌석 2, 150,000원, 선택 가능');
    expect(await page.locator('.hold-summary').textContent()).toBe('VIP B열 좌석 1 · 150,000원');
    expect(await page.getByTestId('seat-map-time').textContent()).toMatch(/^오후 7:00 한국 표준시$/);
    expect(await page.getByTestId('price-legend').locator('li').allTextContents()).toEqual([' VIP: 150,000원', ' R: 120,000원', ' S: 90,000원']);
    await expectSeatNamesHoldTheirTextAndPrice(page, (n) => `${n.toLocaleString('en-US')}원`);
    await shot(page, 'sm-03-map-korean');
    await page.getByRole('button', { name: '언어를 영어로 바꾸기' }).click();
    await page.getByRole('heading', { name: 'Choose a seat' }).waitFor();

    // At the README's width, for its picture of the map.
    await page.setViewportSize({ width: 900, height: 1000 });
    await docShot(page, 'seat-map');
    await context.close();
  });

  it('at phone width pins the chosen seat to the bottom of the screen, in Korean and English', async () => {
    const { server, browser } = fixture;
    const title = 'Hall Layout Matinee';
    await createHall(server, title);
    const viewport = { width: 390, height: 844 };
    const { context, page } = await fanInLosAngeles(browser, viewport, 'ko-KR');
    await page.goto(server.baseUrl + '/');
    await page.getByRole('heading', { name: '티켓 대기열에 들어가기' }).waitFor();
    await page.getByLabel('사용자 ID').fill(await server.createUser('Phone fan'));
    await page.getByRole('button', { name: '대기열 들어가기' }).click();
    await page.getByRole('heading', { name: '공연 선택' }).waitFor();
    await page.getByRole('button', { name: new RegExp(title) }).click();
    await page.getByRole('heading', { name: '날짜 선택' }).waitFor();
    const dateButton = page.getByRole('button', { name: /석 남음/ });
    expect(await dateButton.getByTestId('date-time').textContent()).toBe('오후 7:00 한국 표준시');
    expect(await dateButton.getByTestId('price-range').textContent()).toBe('90,000원 – 150,000원');
    await dateButton.click();
    await page.getByRole('heading', { name: '좌석 선택' }).waitFor();
    await seat(page, 1).waitFor();

    // The hall fits a phone: no sideways scrolling for these rows, and no page wider than the screen.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
    expect(await page.locator('.venue-scroll').evaluate((e) => e.scrollWidth <= e.clientWidth + 1)).toBe(true);
    const seatBox = await seat(page, 36).boundingBox();
    expect(seatBox!.width).toBeGreaterThanOrEqual(24);
    expect(seatBox!.height).toBeGreaterThanOrEqual(24);

    // Nothing chosen: no bar. A seat in the back row chosen: the summary is pinned to the screen's bottom.
    expect(await page.getByTestId('hold-bar').isVisible()).toBe(false);
    await seat(page, 31).click();
    await waitForText(page.locator('.hold-summary'), /^S E열 좌석 5 · 90,000원$/);
    const pinned = async () => {
      const box = await page.getByTestId('hold-bar').boundingBox();
      expect(box).not.toBeNull();
      expect(Math.abs(box!.y + box!.height - viewport.height)).toBeLessThanOrEqual(1);
      expect(box!.width).toBeGreaterThanOrEqual(viewport.width - 1);
    };
    await pinned();
    await page.evaluate('window.scrollTo(0, 0)');
    await pinned();
    await shot(page, 'sm-04-phone-korean');
    // The bar covers no seat once scrolled to the end: the card leaves room under the map.
    await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
    const lastRow = await page.locator('[data-row="E"]').boundingBox();
    const bar = await page.getByTestId('hold-bar').boundingBox();
    expect(lastRow!.y + lastRow!.height).toBeLessThanOrEqual(bar!.y);

    await page
      .getByRole('button', { name: 'Switch the language to English' })
      .or(page.getByRole('button', { name: '언어를 영어로 바꾸기' }))
      .click();
    await page.getByRole('heading', { name: 'Choose a seat' }).waitFor();
    expect(await page.locator('.hold-summary').textContent()).toBe('S row E seat 5 · 90,000 won');
    await pinned();
    await shot(page, 'sm-05-phone-english');

    // The pinned button holds the seat.
    await page.getByRole('button', { name: 'Hold this seat' }).click();
    // Checkout names the seat as the map did, not by its number.
    await page.getByRole('heading', { name: 'S row E seat 5 is held for you' }).waitFor();
    await context.close();
  });
});

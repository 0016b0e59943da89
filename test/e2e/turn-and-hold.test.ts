// A turn and its hold agree: one place in line holds one seat at a time (a second tab's hold is refused
// with HOLD_EXISTS and the page shows the hold it already has, in a sentence), a hold never outlives
// the turn, so one made late in the turn can be paid until it ends, and when the turn runs out the page
// says so (not "held for you") and the seat is free for everyone else at once.
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { demoUsers, newFan, openSeatMap, seat, shot, useServerAndBrowser, waitForText, waitUntil, type TestServer } from './harness.js';

const turnSeconds = 12;

interface Reservation {
  reservationId: string;
  seatNumber: number;
  heldUntil: string;
}

/** What the page keeps in sessionStorage about this fan (web/src/fan/session.ts). */
async function session(page: Page): Promise<{ token: string; reservation?: Reservation }> {
  return JSON.parse((await page.evaluate('sessionStorage.getItem("boxoffice.fan")')) as string) as { token: string; reservation?: Reservation };
}

async function freeSeats(server: TestServer, token: string, concertId: string, date: string): Promise<number[]> {
  const answer = await server.request<{ seats: { number: number }[] }>('GET', `/api/v1/concerts/${concertId}/dates/${date}/seats`, { token });
  return answer.seats.map((s) => s.number);
}

describe('a turn and its hold', () => {
  const fixture = useServerAndBrowser({ QUEUE_ACTIVE_LIMIT: '5', QUEUE_ACTIVE_TTL_SECONDS: String(turnSeconds), RESERVATION_HOLD_SECONDS: '300' });

  it("refuses a second tab's hold with a sentence and shows the hold this place already has", async () => {
    const { server, browser } = fixture;
    const title = 'Twin Tabs';
    const concertId = await server.createConcert({ title, dates: [{ date: '2027-09-01', seatCount: 12, price: 10_000 }] });
    const fan = (await demoUsers(server))[0]!;
    const { context, page } = await newFan(browser);
    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `Continue as ${fan.name}` }).click();
    await openSeatMap(page, title);

    // A second tab of the same place in line, on the same seat map.
    const saved = (await page.evaluate('sessionStorage.getItem("boxoffice.fan")')) as string;
    const tab = await context.newPage();
    await tab.addInitScript((value: string) => sessionStorage.setItem('boxoffice.fan', value), saved);
    await tab.goto(server.baseUrl + '/');
    await tab.getByRole('heading', { name: 'Choose a seat' }).waitFor();

    await seat(page, 3).click();
    await page.getByRole('button', { name: 'Hold this seat' }).click();
    await page.getByRole('heading', { name: 'Seat 3 is held for you' }).waitFor();

    await seat(tab, 5).click();
    await tab.getByRole('button', { name: 'Hold this seat' }).click();
    await waitForText(
      tab.getByTestId('hold-exists'),
      /^You already hold seat 3 from another tab or window, and one place in line holds one seat at a time, so here it is\.$/,
    );
    await tab.getByRole('heading', { name: 'Seat 3 is held for you' }).waitFor();
    await shot(tab, '11-01-second-tab-hold-exists');
    // Seat 5 was never taken.
    const { token } = await session(tab);
    expect(await freeSeats(server, token, concertId, '2027-09-01')).toContain(5);
    expect(await freeSeats(server, token, concertId, '2027-09-01')).not.toContain(3);

    // Paying in the second tab pays the one hold.
    await tab.getByRole('button', { name: 'Pay 10,000 won' }).click();
    await tab.getByRole('heading', { name: 'You have a ticket!' }).waitFor();
    await context.close();
  });

  it('lets a hold made late in the turn be paid until it ends, in Korean', async () => {
    const { server, browser } = fixture;
    const title = 'Last Call';
    await server.createConcert({ title, dates: [{ date: '2027-09-02', seatCount: 12, price: 10_000 }] });
    const fan = (await demoUsers(server))[1]!;
    const { context, page } = await newFan(browser, undefined, 'ko-KR');
    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `${fan.name} 님으로 계속하기` }).click();
    await page.getByRole('heading', { name: '공연 선택' }).waitFor();
    await page.getByRole('button', { name: new RegExp(title) }).click();
    await page.getByRole('heading', { name: '날짜 선택' }).waitFor();
    await page.getByRole('button', { name: /석 남음/ }).click();
    await page.getByRole('heading', { name: '좌석 선택' }).waitFor();
    await seat(page, 2).click();

    // Late in the turn: at most 5 s of it left.
    await waitForText(page.locator('.banner-timer'), /이용 시간 0:0[1-5] 남음/, 15_000);
    await page.getByRole('button', { name: '이 좌석 선점하기' }).click();
    await page.getByRole('heading', { name: '2번 좌석을 잡아 두었습니다' }).waitFor();

    // The hold ends with the turn, not 300 s later.
    const { token, reservation } = await session(page);
    const turn = await server.request<{ expiresAt: string }>('GET', '/api/v1/queue/tokens/me', { token });
    expect(Date.parse(reservation!.heldUntil)).toBeLessThanOrEqual(Date.parse(turn.expiresAt) + 1_000);
    await waitForText(page.getByRole('timer').filter({ hasText: '선점' }), /^선점 0:0[0-5] 남음$/);

    // Paid in the last seconds of the hold: accepted.
    await waitForText(page.getByRole('timer').filter({ hasText: '선점' }), /^선점 0:0[12] 남음$/, 10_000);
    await page.getByRole('button', { name: '10,000원 결제하기' }).click();
    await page.getByRole('heading', { name: '예매가 완료되었습니다!' }).waitFor();
    await shot(page, '11-02-paid-at-the-end-of-the-turn');
    await context.close();
  });

  it('says the hold and the turn ended when the turn runs out, and frees the seat for others at once', async () => {
    const { server, browser } = fixture;
    const title = 'Running Out';
    const concertId = await server.createConcert({ title, dates: [{ date: '2027-09-03', seatCount: 12, price: 10_000 }] });
    const [, , fan, other] = await demoUsers(server);
    const { context, page } = await newFan(browser);
    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `Continue as ${fan!.name}` }).click();
    await openSeatMap(page, title);
    await seat(page, 4).click();
    await page.getByRole('button', { name: 'Hold this seat' }).click();
    await page.getByRole('heading', { name: 'Seat 4 is held for you' }).waitFor();
    const { token } = await session(page);
    const turnEnds = Date.parse((await server.request<{ expiresAt: string }>('GET', '/api/v1/queue/tokens/me', { token })).expiresAt);

    // Another fan, admitted meanwhile, watches the date's free seats.
    const { token: otherToken } = await server.issueToken(other!.userId);
    expect(await freeSeats(server, otherToken, concertId, '2027-09-03')).not.toContain(4);

    // The heading stops saying "held for you" once the hold lapsed with the turn.
    await page.getByRole('heading', { name: 'Your hold on seat 4 has ended' }).waitFor({ timeout: turnSeconds * 1000 + 5_000 });
    expect(await page.getByRole('heading', { name: 'Seat 4 is held for you' }).count()).toBe(0);
    const freedAt = await waitUntil(
      async () => ((await freeSeats(server, otherToken, concertId, '2027-09-03')).includes(4) ? Date.now() : undefined),
      'seat 4 to be listed again',
      5_000,
    );
    expect(freedAt - turnEnds, 'seat 4 listed again this long after the turn ended').toBeLessThan(1_500);

    await page.getByRole('heading', { name: 'Your place in line has ended' }).waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('ended').getAttribute('data-reason')).toBe('TURN_OVER');
    expect(await page.getByTestId('ended-why').textContent()).toBe('Your turn ended before payment.');
    await shot(page, '11-03-turn-over');
    await context.close();
  });
});

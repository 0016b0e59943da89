// The waiting room tells the truth about a line that stands still: the stream brings a fresh state
// (and estimate) at every heartbeat even when the place does not move, the page says how old its
// numbers are, the progress bar measures progress since joining, a paused line says so instead of
// estimating, the operator's message reaches every waiting fan within 2 s, and a place that lapsed
// because the page went silent says exactly that.
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { expectAccessibleInBothLanguages, joinWithUserId, newFan, shot, useServerAndBrowser, waitForText, waitUntil, type TestServer } from './harness.js';

/** The times of the page's polls (GET …/tokens/me; the stream is …/tokens/me/events). */
function recordPolls(page: Page, server: TestServer): number[] {
  const times: number[] = [];
  page.on('request', (request) => {
    if (request.method() === 'GET' && request.url() === `${server.baseUrl}/api/v1/queue/tokens/me`) times.push(Date.now());
  });
  return times;
}

async function joinInKorean(page: Page, server: TestServer, userId: string): Promise<void> {
  await page.goto(server.baseUrl + '/');
  await page.getByRole('heading', { name: '티켓 대기열에 들어가기' }).waitFor();
  await page.getByLabel('사용자 ID').fill(userId);
  await page.getByRole('button', { name: '대기열 들어가기' }).click();
  await page.getByRole('heading', { name: '대기실에 있습니다' }).waitFor();
}

describe('the waiting room tells the truth', () => {
  // Nobody is admitted (limit 0), so places stand still; a silent page lapses after 3 s, and so the
  // stream's heartbeat (a third of that) brings a fresh state every second.
  const fixture = useServerAndBrowser({ QUEUE_ACTIVE_LIMIT: '0', QUEUE_WAITING_IDLE_SECONDS: '3' });

  it('refreshes the state on the stream while the place stands still, says how fresh it is, and measures progress since joining', async () => {
    const { server, browser } = fixture;
    const { context, page } = await newFan(browser);
    const polls = recordPolls(page, server);
    const progress = page.getByRole('progressbar', { name: 'Progress to the front of the line' });
    // Two fans ahead, kept alive here as their pages would.
    const ahead = await Promise.all(['Ahead one', 'Ahead two'].map(async (name) => (await server.issueToken(await server.createUser(name))).token));
    let keepAlive = true;
    const pinging = (async () => {
      while (keepAlive) {
        const pings = ahead.map((token) => fetch(`${server.baseUrl}/api/v1/queue/tokens/me`, { headers: { authorization: `Bearer ${token}` } }));
        await Promise.allSettled(pings);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    })();
    try {
      await joinWithUserId(page, server.baseUrl, await server.createUser('Still fan'));
      await page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
      await waitForText(page.getByTestId('position'), /^3$/);
      // Progress since joining: none yet.
      expect(await progress.getAttribute('aria-valuenow')).toBe('0');

      // The two ahead are let in (and keep their slots): this fan is first in line, two places on.
      await server.request('PATCH', '/admin/v1/queue', { body: { activeLimit: 2 }, admin: true });
      await waitForText(page.getByTestId('position'), /^1$/);
    } finally {
      keepAlive = false;
      await pinging;
    }
    expect(await progress.getAttribute('aria-valuenow')).toBe('67');

    // Still at 1, nothing changes in the line, yet every heartbeat brings a fresh state on the stream.
    await waitForText(page.getByTestId('link'), /^Live updates$/);
    const updated = page.getByTestId('updated');
    const pollsBefore = polls.length;
    let at = Number(await updated.getAttribute('data-updated-at'));
    for (let i = 0; i < 3; i++) {
      at = await waitUntil(
        async () => {
          const next = Number(await updated.getAttribute('data-updated-at', { timeout: 1_000 }));
          return next > at ? next : undefined;
        },
        'a fresh state on the stream without a change of place',
        5_000,
      );
    }
    expect(polls.length).toBe(pollsBefore); // it came on the stream, not from a poll
    expect(await page.getByTestId('position').textContent()).toBe('1');
    expect(await updated.textContent()).toMatch(/^Updated (just now|[1-3] s ago)$/);
    await waitForText(page.getByTestId('wait'), /\S/);
    await shot(page, '9-01-stream-refreshes-a-still-place');
    await context.close();
  });

  it('says a paused line is paused instead of estimating, and shows the operator message to every waiting fan within 2 s', async () => {
    const { server, browser } = fixture;
    await server.request('PATCH', '/admin/v1/queue', { body: { activeLimit: 0 }, admin: true });
    const en = await newFan(browser);
    await joinWithUserId(en.page, server.baseUrl, await server.createUser('Patient fan'));
    await en.page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    const ko = await newFan(browser, undefined, 'ko-KR');
    await joinInKorean(ko.page, server, await server.createUser('인내하는 팬'));
    for (const page of [en.page, ko.page]) await page.getByTestId('wait').waitFor();

    /** Waits at most 2 s from `since` for `check` on both pages. */
    const within2s = async (since: number, what: string, check: (page: Page) => Promise<boolean>) => {
      for (const page of [en.page, ko.page]) {
        await waitUntil(
          async () => await check(page),
          `${what} (${await page.evaluate('document.documentElement.lang')})`,
          Math.max(0, since + 2_000 - Date.now()),
        );
      }
    };

    let since = Date.now();
    await server.request('PATCH', '/admin/v1/queue', { body: { paused: true }, admin: true });
    await within2s(since, 'the paused sentence', (page) => page.getByTestId('paused').isVisible());
    expect(await en.page.getByTestId('paused').textContent()).toBe('Admission is paused by the organiser; you keep your place.');
    expect(await ko.page.getByTestId('paused').textContent()).toBe('주최 측이 입장을 일시 정지했습니다. 대기 순번은 그대로 유지됩니다.');
    // No estimate while nobody is let in, and never "less than a minute".
    for (const page of [en.page, ko.page]) expect(await page.getByTestId('wait').count()).toBe(0);
    expect(await en.page.locator('main').textContent()).not.toContain('less than a minute');
    expect(await ko.page.locator('main').textContent()).not.toContain('1분 미만');

    const message = 'Doors open at 7 pm; the sale resumes at 6:30.';
    since = Date.now();
    await server.request('PATCH', '/admin/v1/queue', { body: { message }, admin: true });
    await within2s(since, "the operator's message", (page) => page.getByTestId('operator-message').isVisible());
    for (const page of [en.page, ko.page]) {
      // In a polite live region, so a screen reader announces it without moving focus.
      await page.getByRole('status').filter({ hasText: message }).waitFor({ timeout: 1_000 });
    }
    expect(await en.page.getByTestId('operator-message').textContent()).toBe(`Message from the organiser${message}`);
    expect(await ko.page.getByTestId('operator-message').textContent()).toBe(`주최 측 안내${message}`);
    await shot(en.page, '9-02-paused-with-a-message');
    await shot(ko.page, '9-03-paused-with-a-message-korean');

    since = Date.now();
    await server.request('PATCH', '/admin/v1/queue', { body: { message: null, paused: false }, admin: true });
    await within2s(
      since,
      'the message and the pause to go',
      async (page) => (await page.getByTestId('operator-message').count()) === 0 && (await page.getByTestId('paused').count()) === 0,
    );
    for (const page of [en.page, ko.page]) await page.getByTestId('wait').waitFor();
    await en.context.close();
    await ko.context.close();
  });

  it('tells a fan whose page went offline so, and once their place lapsed, that it lapsed because the page was silent', async () => {
    const { server, browser } = fixture;
    const { context, page } = await newFan(browser, undefined, 'ko-KR');
    await joinInKorean(page, server, await server.createUser('조용한 팬'));
    await waitForText(page.getByTestId('link'), /^실시간 갱신 중$/);
    // The first state has come over the stream (the line says "live" from the start, before it has).
    await page.getByTestId('updated').waitFor();

    await context.setOffline(true);
    const connection = page.getByTestId('connection');
    await waitForText(connection, /^인터넷 연결이 끊긴 것 같습니다/);
    expect(await connection.getAttribute('data-link')).toBe('offline');
    // The page's own clock says how long it has been silent: past the 3 s after which a place lapses.
    await waitForText(page.getByTestId('updated'), /^([4-9]|\d\d)초 전 갱신$/, 15_000);
    await shot(page, '9-04-offline');

    await context.setOffline(false);
    await page.getByRole('heading', { name: '대기 순번이 만료되었습니다' }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('ended').getAttribute('data-reason')).toBe('IDLE');
    expect(await page.getByTestId('ended-why').textContent()).toBe('이 페이지가 너무 오래 응답하지 않아 순번이 만료되었습니다.');
    await shot(page, '9-05-lapsed-idle');
    await expectAccessibleInBothLanguages(page, 'a place that ended');
    await page.locator('button.lang').click();
    await waitForText(page.getByTestId('ended-why'), /^Your place lapsed because this page was silent for too long\.$/);
    await context.close();
  });
});

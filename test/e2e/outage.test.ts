// Outages, told honestly: when the service goes away the waiting room says it cannot reach boxoffice
// (not that the fan's connection failed), keeps the place, and retries with exponential back-off
// instead of a fixed beat; when the fan's own connection drops it says that instead; on recovery it goes
// back to live updates in the same place. A crash that loses the newest places tells those fans the line
// was restarted and gives them a new place, instead of a list of causes that did not happen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  demoUsers,
  expectAccessibleInBothLanguages,
  expectNoCspViolations,
  freePort,
  launchBrowser,
  newFan,
  shot,
  startServer,
  waitForText,
  waitUntil,
  type TestServer,
} from './harness.js';

/** When the page's polls (GET …/tokens/me; the stream is …/tokens/me/events) failed to reach the service. */
function recordFailedPolls(page: Page, baseUrl: string): number[] {
  const times: number[] = [];
  page.on('requestfailed', (request) => {
    if (request.method() === 'GET' && request.url() === `${baseUrl}/api/v1/queue/tokens/me`) times.push(Date.now());
  });
  return times;
}

/**
 * When each poll that failed to reach the service began, by the page's own clock (set up before the
 * page loads). The times this process hears of failures lag by however busy the machine is, which
 * can bring two of them closer than the page's waits; a failed request carries no start time.
 */
async function recordFailedPollStarts(page: Page): Promise<() => Promise<number[]>> {
  await page.addInitScript(() => {
    const starts: number[] = [];
    (window as unknown as { failedPollStarts: number[] }).failedPollStarts = starts;
    const fetchOf = window.fetch.bind(window);
    window.fetch = async (input, init) => {
      const startedAt = Date.now();
      try {
        return await fetchOf(input, init);
      } catch (failure) {
        const url = input instanceof Request ? input.url : String(input);
        if ((init?.method ?? 'GET') === 'GET' && new URL(url, location.href).pathname === '/api/v1/queue/tokens/me') starts.push(startedAt);
        throw failure;
      }
    };
  });
  return () => page.evaluate(() => [...(window as unknown as { failedPollStarts: number[] }).failedPollStarts]);
}

describe('outages, told honestly', () => {
  // One server on a data directory of its own and a fixed port, so it can be stopped and started
  // again under the pages' feet. Nobody is admitted (limit 0): the fans stay in the waiting room.
  let env: Record<string, string>;
  let dataDir: string;
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'boxoffice-e2e-outage-'));
    env = { PORT: String(await freePort()), DATA_DIR: dataDir, QUEUE_ACTIVE_LIMIT: '0' };
    [server, browser] = await Promise.all([startServer(env), launchBrowser()]);
  });
  afterEach(async () => {
    // A test that failed while the service was stopped leaves it stopped: start it again for the next.
    if (server.stopped) server = await startServer(env);
    expectNoCspViolations();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says boxoffice cannot be reached, backs off between tries, keeps the place, and goes live again when the service is back', async () => {
    const fan = (await demoUsers(server))[0]!;
    const { context, page } = await newFan(browser);
    // Pins the jitter at the middle of each back-off window, so the waits are 0.5, 1, 2, 4, 8 s.
    await page.addInitScript('Math.random = () => 0.5');
    const failedStarts = await recordFailedPollStarts(page);
    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `Continue as ${fan.name}` }).click();
    await page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    const place = await waitForText(page.getByTestId('position'), /^\d+$/);
    await waitForText(page.getByTestId('link'), /^Live updates$/);

    // The service stops (its lines are saved on the way out, as on any orderly shutdown).
    await server.stop();
    const connection = page.getByTestId('connection');
    await waitForText(connection, /^We can't reach boxoffice right now; your place in line is kept/);
    expect(await connection.getAttribute('data-link')).toBe('unreachable');
    expect(await page.locator('main').textContent()).not.toMatch(/Check your connection|offline/);
    expect(await page.locator('.stats').getAttribute('class')).toContain('stale');

    // Each try waits twice as long as the one before: 0.5, 1, 2, 4 s apart, not a fixed 2 s beat.
    const failed = await waitUntil(
      async () => {
        const starts = await failedStarts();
        return starts.length >= 5 && starts;
      },
      'five tries of the stopped service',
      20_000,
    );
    const gaps = failed.slice(1, 5).map((at, i) => at - failed[i]!);
    expect(gaps, `gaps between tries: ${gaps.join(', ')} ms`).toHaveLength(4);
    gaps.forEach((gap, i) => {
      const planned = 500 * 2 ** i;
      expect(gap, `try ${i + 2} after ${gap} ms, planned ${planned} ms`).toBeGreaterThanOrEqual(planned - 100);
      expect(gap, `try ${i + 2} after ${gap} ms, planned ${planned} ms`).toBeLessThan(planned + 900);
    });
    // The numbers are kept, and the page says how old they are.
    expect(await page.getByTestId('position').textContent()).toBe(place);
    await waitForText(page.getByTestId('updated'), /^Updated ([5-9]|\d\d) s ago$/);
    await shot(page, '10-01-service-unreachable');
    await expectAccessibleInBothLanguages(page, 'waiting room, service unreachable');

    server = await startServer(env);
    await waitForText(page.getByTestId('link'), /^Live updates$/, 30_000);
    expect(await connection.count()).toBe(0);
    expect(await page.getByTestId('position').textContent()).toBe(place);
    await waitForText(page.getByTestId('updated'), /^Updated (just now|[1-2] s ago)$/);
    await shot(page, '10-02-back-live');
    await context.close();
  });

  it('tells a 503 from an offline connection, in Korean, and recovers from both in the same place', async () => {
    const fan = (await demoUsers(server))[1]!;
    const { context, page } = await newFan(browser, undefined, 'ko-KR');
    // The service answers 503 to this fan's polls and refuses its stream, as an overloaded one may.
    let unavailable = true;
    await page.route('**/api/v1/queue/tokens/me**', async (route) => {
      if (!unavailable) return route.continue();
      if (route.request().url().includes('/events')) return route.abort('connectionrefused');
      return route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'the service is briefly unavailable' } }),
      });
    });
    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `${fan.name} 님으로 계속하기` }).click();
    await page.getByRole('heading', { name: '대기실에 있습니다' }).waitFor();
    const connection = page.getByTestId('connection');
    await waitForText(connection, /^지금 boxoffice 서버에 연결할 수 없습니다\. 대기 순번은 그대로 유지되며/);
    expect(await connection.getAttribute('data-link')).toBe('unreachable');
    await shot(page, '10-03-503-korean');

    unavailable = false;
    await waitForText(page.getByTestId('link'), /^실시간 갱신 중$/, 20_000);
    const place = await waitForText(page.getByTestId('position'), /^\d+$/);

    const failed = recordFailedPolls(page, server.baseUrl);
    await context.setOffline(true);
    await waitForText(connection, /^인터넷 연결이 끊긴 것 같습니다\. 대기 순번은 그대로 유지되며/);
    // Still the fan's connection, not the service, after a try has failed while offline.
    await waitUntil(() => failed.length >= 1, 'a try while offline');
    await waitForText(connection, /^인터넷 연결이 끊긴 것 같습니다/);
    expect(await connection.getAttribute('data-link')).toBe('offline');
    await shot(page, '10-04-offline-korean');
    await context.setOffline(false);
    // Back online: at once, not at the end of a back-off wait.
    await waitForText(page.getByTestId('link'), /^실시간 갱신 중$/, 5_000);
    expect(await page.getByTestId('position').textContent()).toBe(place);
    expect(await connection.count()).toBe(0);
    await context.close();
  });

  it('after a crash that lost the newest place, says the line was restarted and gives the fan a new place', async () => {
    const fan = (await demoUsers(server))[2]!;
    const { context, page } = await newFan(browser);
    // The service crashes the moment it has given this fan a place, before it could save it.
    await page.route('**/api/v1/queue/tokens', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const response = await route.fetch();
      await server.crash();
      await route.fulfill({ response });
    });
    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `Continue as ${fan.name}` }).click();
    await page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await waitForText(page.getByTestId('connection'), /^We can't reach boxoffice right now/);
    await page.unroute('**/api/v1/queue/tokens');

    server = await startServer(env);
    await waitForText(
      page.getByTestId('notice'),
      /^The waiting line was restarted by the service, so you were given a new place in it automatically\.$/,
      40_000,
    );
    await waitForText(page.getByTestId('link'), /^Live updates$/);
    await waitForText(page.getByTestId('position'), /^\d+$/);
    expect(await page.locator('main').textContent()).not.toMatch(/closed for too long|turn ran out|already paid/);
    await shot(page, '10-05-line-restarted');
    await context.close();
  });
});

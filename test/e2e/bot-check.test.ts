// The bot check and the join limit as a fan meets them: the page solves the proof of work while the
// fan chooses who they are, so the join does not wait for it; a proof is spent by its join; a refused
// proof is retried once with a fresh one; and a join over the limit says how long to wait.
import { describe, expect, it } from 'vitest';
import type { Page, Request } from 'playwright-core';
import { demoUsers, newFan, shot, useServerAndBrowser, waitUntil } from './harness.js';

interface JoinBody {
  userId: string;
  saleId?: string;
  proof?: string;
}

/** The page's joins and challenge fetches, in order. */
function watchJoins(page: Page): { joins: JoinBody[]; challenges: () => number } {
  const joins: JoinBody[] = [];
  let challenges = 0;
  page.on('request', (request: Request) => {
    const { pathname } = new URL(request.url());
    if (pathname === '/api/v1/queue/tokens' && request.method() === 'POST') joins.push(request.postDataJSON() as JoinBody);
    if (pathname === '/api/v1/challenge') challenges++;
  });
  return { joins, challenges: () => challenges };
}

/** Records whether "Checking your browser…" was ever on the page, however briefly. */
async function watchForCheckingState(page: Page): Promise<() => Promise<boolean>> {
  await page.evaluate(`(() => {
    window.__sawChecking = false;
    const look = () => { if (document.body.textContent.includes('Checking your browser')) window.__sawChecking = true; };
    new MutationObserver(look).observe(document.body, { childList: true, subtree: true, characterData: true });
    look();
  })()`);
  return async () => (await page.evaluate('window.__sawChecking')) === true;
}

async function postJoin(baseUrl: string, body: JoinBody): Promise<{ status: number; code: string | undefined }> {
  const response = await fetch(`${baseUrl}/api/v1/queue/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const payload = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, code: payload.error?.code };
}

describe('the bot check, as a fan meets it', () => {
  const fixture = useServerAndBrowser({ BOT_CHECK: 'pow', BOT_CHECK_COST: '5000' });

  it('is solved while the fan chooses, so the join carries a proof without waiting, and the proof works once', async () => {
    const { server, browser } = fixture;
    const [fan, other] = await demoUsers(server);
    // Without a proof the server refuses the join: the page's join below is not let through for free.
    expect(await postJoin(server.baseUrl, { userId: other!.userId })).toEqual({ status: 403, code: 'BOT_CHECK_FAILED' });

    const { context, page } = await newFan(browser);
    const seen = watchJoins(page);
    // The solver is a worker that ends when it has the answer: its end means the proof is ready.
    const solved = new Promise<void>((resolve) => page.on('worker', (worker) => worker.on('close', () => resolve())));
    await page.goto(server.baseUrl + '/');
    await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
    const sawChecking = await watchForCheckingState(page);
    await solved;
    expect(seen.challenges()).toBe(1);

    await page.getByRole('button', { name: `Continue as ${fan!.name}` }).click();
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    await shot(page, 'bot-check-joined');
    expect(await sawChecking()).toBe(false);
    expect(seen.joins).toHaveLength(1);
    const proof = seen.joins[0]!.proof;
    expect(typeof proof).toBe('string');
    const payload = JSON.parse(Buffer.from(proof!, 'base64').toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(payload).sort()).toEqual(['algorithm', 'challenge', 'number', 'salt', 'signature']);
    expect(payload['number']).toBeLessThanOrEqual(5000);

    // Spent by the page's join: the same proof lets nobody else in.
    expect(await postJoin(server.baseUrl, { userId: other!.userId, proof: proof! })).toEqual({ status: 403, code: 'BOT_CHECK_FAILED' });
    // And the page already asked for the next challenge, for whatever join comes next.
    await waitUntil(() => seen.challenges() === 2, 'a second challenge after the join');
    await context.close();
  });

  it('says it is checking the browser when the fan is quicker than the check, and retries a refused proof once', async () => {
    const { server, browser } = fixture;
    const fan = (await demoUsers(server))[2]!;
    const { context, page } = await newFan(browser);
    const seen = watchJoins(page);
    // Hold the first challenge until the fan has pressed Join, so the join has to wait for the check.
    let release!: () => void;
    const pressed = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    await page.route('**/api/v1/challenge', async (route) => {
      if (!held) {
        held = true;
        await pressed;
      }
      await route.continue();
    });
    // The server refuses the first proof (as it would an expired one); the page should get a fresh one.
    let refused = false;
    await page.route('**/api/v1/queue/tokens', async (route) => {
      if (refused) return route.continue();
      refused = true;
      await route.fulfill({
        status: 403,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'BOT_CHECK_FAILED', message: 'the proof is not valid' } }),
      });
    });

    await page.goto(server.baseUrl + '/');
    await page.getByRole('button', { name: `Continue as ${fan.name}` }).click();
    await page.getByRole('status').filter({ hasText: 'Checking your browser…' }).waitFor();
    await shot(page, 'bot-check-checking');
    release();

    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    expect(seen.joins).toHaveLength(2);
    const [first, second] = seen.joins.map((join) => join.proof);
    expect(first).toEqual(expect.any(String));
    expect(second).toEqual(expect.any(String));
    expect(second).not.toBe(first);
    expect(await page.getByText('Checking your browser…').count()).toBe(0);
    await context.close();
  });
});

describe('the join limit, as a fan meets it', () => {
  const fixture = useServerAndBrowser({ RATE_LIMIT_JOIN_PER_MINUTE: '1' });

  it('tells a fan over the limit how many seconds to wait', async () => {
    const { server, browser } = fixture;
    const [first, second] = await demoUsers(server);
    const a = await newFan(browser);
    await a.page.goto(server.baseUrl + '/');
    await a.page.getByRole('button', { name: `Continue as ${first!.name}` }).click();
    await a.page.getByRole('heading', { name: 'Choose a concert' }).waitFor();

    // Same address, second join within the minute.
    const b = await newFan(browser);
    const refusal = b.page.waitForResponse((response) => response.url().endsWith('/api/v1/queue/tokens'));
    await b.page.goto(server.baseUrl + '/');
    await b.page.getByRole('button', { name: `Continue as ${second!.name}` }).click();
    const response = await refusal;
    expect(response.status()).toBe(429);
    const retryAfter = Number(await response.headerValue('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    await b.page
      .getByRole('alert')
      .filter({ hasText: `Too many tries. Please try again in ${retryAfter} s.` })
      .waitFor();
    await shot(b.page, 'join-rate-limited');
    await a.context.close();
    await b.context.close();
  });
});

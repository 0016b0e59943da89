// A fan sent over by the ticket seller's site: the link carries the seller's signed statement of who
// they are (`#assertion=<jwt>`). The page takes it out of the address bar, keeps it for the tab, and
// sends it on the join only; a refused one gets a sentence telling the fan what to do.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Request } from 'playwright-core';
import { demoUsers, newFan, shot, useServerAndBrowser } from './harness.js';

const secret = 'e2e-user-auth-secret-0123456789abcdef';

function assertionFor(userId: string, key = secret): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(key));
}

describe("a fan sent over by the seller's site", () => {
  const fixture = useServerAndBrowser({ USER_AUTH_SECRET: secret });

  it('joins with the assertion from the link, which leaves the address bar and goes nowhere but the join', async () => {
    const { server, browser } = fixture;
    const fan = (await demoUsers(server))[0]!;
    // A user id alone is not enough on this server.
    const bare = await fetch(`${server.baseUrl}/api/v1/queue/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: fan.userId }),
    });
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { error: { code: string } }).error.code).toBe('INVALID_USER_ASSERTION');

    const assertion = await assertionFor(fan.userId);
    const { context, page } = await newFan(browser);
    const carried: string[] = [];
    page.on('request', (request: Request) => {
      if (request.headers()['authorization'] === `Bearer ${assertion}`) carried.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await page.goto(`${server.baseUrl}/#assertion=${assertion}`);
    await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
    const href = (await page.evaluate('location.href')) as string;
    expect(href).toBe(`${server.baseUrl}/`);
    expect(href).not.toContain(assertion);
    // The seller said who this is: the form is filled in already.
    expect(await page.getByLabel('Your user ID').inputValue()).toBe(fan.userId);

    await page.getByRole('button', { name: 'Join the line' }).click();
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    await shot(page, 'seller-assertion-joined');
    expect(carried).toEqual(['POST /api/v1/queue/tokens']);
    await context.close();
  });

  it("tells the fan to sign in again on the seller's site when the assertion is refused, and names a mismatch", async () => {
    const { server, browser } = fixture;
    const [fan, someoneElse] = await demoUsers(server);
    const { context, page } = await newFan(browser);

    // Signed with another key: the server cannot check it.
    await page.goto(`${server.baseUrl}/#assertion=${await assertionFor(fan!.userId, 'not-the-seller-secret-0123456789abcdef')}`);
    await page.getByRole('button', { name: 'Join the line' }).click();
    await page.getByRole('alert').filter({ hasText: "Please sign in again on the seller's site" }).waitFor();
    await shot(page, 'seller-assertion-refused');

    // A valid assertion for one fan, used to join as another. (From a blank page: a link differing from
    // the page's address only in its fragment would not load the page again.)
    await page.goto('about:blank');
    await page.goto(`${server.baseUrl}/#assertion=${await assertionFor(fan!.userId)}`);
    await page.getByRole('button', { name: `Continue as ${someoneElse!.name}` }).click();
    await page.getByRole('alert').filter({ hasText: 'The ticket seller signed you in as a different fan' }).waitFor();
    // The fan it vouches for gets in.
    await page.getByRole('button', { name: `Continue as ${fan!.name}` }).click();
    await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
    await context.close();
  });
});

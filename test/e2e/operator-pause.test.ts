// Journey 5: the operator signs in on /admin, pauses admission and a new fan waits in line,
// not admitted, until the operator resumes.
import { describe, expect, it } from 'vitest';
import { adminKey, joinWithUserId, newFan, shot, useServerAndBrowser, waitForText } from './harness.js';

describe('the operator page', () => {
  const fixture = useServerAndBrowser();

  it('pauses the queue so a new fan waits, then resumes it', async () => {
    const { server, browser } = fixture;
    const admin = await newFan(browser, { width: 1000, height: 900 });
    const page = admin.page;
    await page.goto(server.baseUrl + '/admin');
    await page.getByRole('heading', { name: 'Queue operator' }).waitFor();

    await page.getByLabel('Admin key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That admin key is not right.').waitFor();
    await shot(page, '5-01-wrong-key');

    await page.getByLabel('Admin key').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.getByTestId('admission'), /^Running$/);
    await waitForText(page.getByTestId('limit'), /^100$/);
    await shot(page, '5-02-signed-in');

    await page.getByRole('button', { name: 'Pause admission' }).click();
    await waitForText(page.getByTestId('admission'), /^Paused$/);
    await page.getByText('Admission is paused: nobody new is let in.').waitFor();
    await page.getByRole('button', { name: 'Resume admission' }).waitFor();

    const fanId = await server.createUser('Late fan');
    const fan = await newFan(browser);
    await joinWithUserId(fan.page, server.baseUrl, fanId);
    await fan.page.getByRole('heading', { name: 'You are in the waiting room' }).waitFor();
    await waitForText(fan.page.getByTestId('position'), /^1$/);

    // The operator's live view (polled every 2 s) counts the fan as waiting, and by then many
    // admission ticks (100 ms) have passed without letting the fan in.
    await waitForText(page.getByTestId('waiting'), /^1$/);
    await waitForText(page.getByTestId('active'), /^0$/);
    expect(await fan.page.getByRole('heading', { name: 'You are in the waiting room' }).isVisible()).toBe(true);
    expect(await fan.page.getByTestId('position').textContent()).toBe('1');
    // The general line's chart is drawn from the server's history of the line (a bucket a second here).
    const waitingChart = page.getByTestId('history-general-waiting');
    await waitingChart.getByRole('img', { name: /^Waiting and active\. Now 1 waiting and 0 active$/ }).waitFor({ timeout: 10_000 });
    expect(await waitingChart.locator('.series.waiting, .point.waiting').count()).toBeGreaterThan(0);
    // The operator's message reaches the waiting fan, and clearing it takes it away.
    const general = page.locator('section[aria-labelledby="queue-title"]');
    await general.getByLabel('Message to the line').fill('Doors open at 19:00. Thank you for waiting.');
    await general.getByRole('button', { name: 'Post message' }).click();
    await page.getByText('The message is shown to the line.').waitFor();
    await waitForText(fan.page.getByTestId('operator-message'), /Doors open at 19:00\. Thank you for waiting\./);
    await general.getByRole('button', { name: 'Clear message' }).click();
    await page.getByText('The message is cleared.').waitFor();
    await fan.page.getByTestId('operator-message').waitFor({ state: 'detached' });
    expect(await general.getByLabel('Message to the line').inputValue()).toBe('');

    const fifteen = page.getByTestId('history-general').getByRole('button', { name: '15 min' });
    await fifteen.click();
    expect(await fifteen.getAttribute('aria-pressed')).toBe('true');
    await shot(page, '5-03-paused-one-waiting');
    await shot(fan.page, '5-04-fan-waits');

    await page.getByLabel('Active limit').fill('5');
    await page.getByRole('button', { name: 'Save limit' }).click();
    await page.getByText('Active limit set to 5.').waitFor();
    await waitForText(page.getByTestId('limit'), /^5$/);

    await page.getByRole('button', { name: 'Resume admission' }).click();
    await waitForText(page.getByTestId('admission'), /^Running$/);
    await fan.page.getByRole('heading', { name: 'Choose a concert' }).waitFor({ timeout: 10_000 });
    await waitForText(page.getByTestId('active'), /^1$/);
    await waitForText(page.getByTestId('admitted'), /^[1-9]\d*$/);
    // Once the fan is admitted, the rate and the fan's actual wait are charted too.
    await page
      .getByTestId('history-general-admitted')
      .getByRole('img', { name: /Last [\d,]+ admitted per minute/ })
      .waitFor({ timeout: 10_000 });
    await page
      .getByTestId('history-general-wait')
      .getByRole('img', { name: /Last admitted: median .+, 90th percentile .+, 99th percentile .+/ })
      .waitFor();
    await shot(page, '5-05-resumed');
    await shot(fan.page, '5-06-fan-admitted');

    const stats = await server.request<{ paused: boolean; activeLimit: number }>('GET', '/admin/v1/queue', { admin: true });
    expect(stats).toMatchObject({ paused: false, activeLimit: 5 });
    await fan.context.close();
    await admin.context.close();
  });
});

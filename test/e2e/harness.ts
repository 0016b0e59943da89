// Shared by the browser tests: starts the built server on a free port with its own in-memory
// database, drives the admin and public API to make each test's data, launches Debian's
// Chromium through playwright-core, and saves step screenshots under test-output/e2e. Every page of a
// browser launched here reports Content-Security-Policy violations, and a test that caused one fails;
// expectAccessible checks a page with axe-core without loosening that policy.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const adminKey = 'e2e-admin-key-0123456789';
export const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const shotsDir = path.join(repoRoot, 'test-output', 'e2e');

export interface TestServer {
  baseUrl: string;
  /** A JSON call; throws with the status and body when the answer is not 2xx. */
  request<T>(method: string, urlPath: string, options?: { body?: unknown; token?: string; admin?: boolean }): Promise<T>;
  createUser(name: string): Promise<string>;
  createConcert(input: { title: string; venue?: string; dates: { date: string; seatCount: number; price: number }[] }): Promise<string>;
  issueToken(userId: string): Promise<{ token: string; status: string; position: number }>;
  charge(userId: string, amount: number): Promise<number>;
  balance(userId: string): Promise<number>;
  logs(): string;
  /** Whether the server process has exited (stopped, crashed or died). */
  readonly stopped: boolean;
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash would: nothing is saved on the way out. */
  crash(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitUntil<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const entry = path.join(repoRoot, 'dist', 'src', 'server.js');
  if (!existsSync(entry)) throw new Error('dist/src/server.js is missing: run npm run build first');
  // A restart of the same server passes its PORT (and DATA_DIR) again, so pages keep their address.
  const port = env['PORT'] ? Number(env['PORT']) : await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  // Always the embedded database and in-process queue, whatever the calling shell points at.
  const { DATABASE_URL: _db, REDIS_URL: _redis, ...inherited } = process.env;
  const child = spawn(process.execPath, [entry], {
    cwd: repoRoot,
    env: {
      ...inherited,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: 'memory://',
      SEED_DEMO: 'true',
      ADMIN_KEY: adminKey,
      QUEUE_TICK_MS: '100',
      // The operator's charts read the lines' history, which each server adds to every bucket.
      QUEUE_HISTORY_SECONDS: '1',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      // The tests drive every fan from one address; a test of the limits sets its own.
      RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_JOIN_PER_MINUTE: '0',
      RATE_LIMIT_HOLD_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );

  const request = async <T>(method: string, urlPath: string, options: { body?: unknown; token?: string; admin?: boolean } = {}): Promise<T> => {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (options.admin) headers['x-admin-key'] = adminKey;
    const response = await fetch(baseUrl + urlPath, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${urlPath} → ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(timer);
  };
  const crash = async () => {
    if (exited) return;
    child.kill('SIGKILL');
    await exit;
  };

  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error(`server exited during start-up:\n${output}`);
        const response = await fetch(`${baseUrl}/readyz`).catch(() => undefined);
        return response?.status === 200;
      },
      'GET /readyz to answer 200',
      60_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n--- server output ---\n${output}`);
  }

  const issueToken = (userId: string) => request<{ token: string; status: string; position: number }>('POST', '/api/v1/queue/tokens', { body: { userId } });

  return {
    baseUrl,
    request,
    issueToken,
    async createUser(name) {
      return (await request<{ userId: string }>('POST', '/admin/v1/users', { body: { name }, admin: true })).userId;
    },
    async createConcert({ title, venue = 'Olympic Hall, Seoul', dates }) {
      const body = {
        title,
        venue,
        dates: dates.map((d) => ({ date: d.date, startsAt: `${d.date}T10:00:00.000Z`, seatCount: d.seatCount, price: d.price })),
      };
      return (await request<{ concertId: string }>('POST', '/admin/v1/concerts', { body, admin: true })).concertId;
    },
    async charge(userId, amount) {
      const { token } = await issueToken(userId);
      const answer = await request<{ balance: number }>('POST', `/api/v1/users/${userId}/points/charge`, { body: { amount }, token });
      return answer.balance;
    },
    async balance(userId) {
      const { token } = await issueToken(userId);
      return (await request<{ balance: number }>('GET', `/api/v1/users/${userId}/points`, { token })).balance;
    },
    logs: () => output,
    get stopped() {
      return exited;
    },
    stop,
    crash,
  };
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install it with apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  reportCspViolations(browser);
  return browser;
}

/** What the pages' Content-Security-Policy refused since the last expectNoCspViolations(). */
const cspViolations: string[] = [];

// Runs in every page before its own scripts; the binding hands each violation to this process at once,
// so one seen just before a test closes its page is not lost with the page.
const cspListener = `document.addEventListener('securitypolicyviolation', (event) => {
  window.__reportCspViolation(event.violatedDirective + ' refused ' + (event.blockedURI || 'inline code') +
    ' at ' + (event.sourceFile || location.href) + ':' + event.lineNumber);
});`;

/**
 * Every context of `browser` (newContext, and newPage through it) reports CSP violations twice over:
 * the page's securitypolicyviolation events, and the console's "Refused to … Content Security Policy"
 * lines, which also cover workers.
 */
function reportCspViolations(browser: Browser): void {
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    await context.exposeBinding('__reportCspViolation', (_source, text: string) => {
      cspViolations.push(text);
    });
    await context.addInitScript({ content: cspListener });
    context.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) cspViolations.push(`console: ${message.text()}`);
    });
    return context;
  };
}

/** Fails when any page refused something under its Content-Security-Policy since the last call. */
export function expectNoCspViolations(): void {
  const seen = cspViolations.splice(0);
  expect(seen, 'Content-Security-Policy violations').toEqual([]);
}

/** A fresh fan: own cookies and storage, English (or `locale`), a given screen size. */
export async function newFan(
  browser: Browser,
  viewport = { width: 900, height: 1000 },
  locale: 'en-US' | 'ko-KR' = 'en-US',
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, locale, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
}

/**
 * Saves a screenshot the README shows (docs/*.png, committed). Only when missing or asked for with
 * E2E_DOCS=1, so an ordinary test run leaves the working tree clean.
 */
export async function docShot(page: Page, name: string): Promise<void> {
  const file = path.join(repoRoot, 'docs', `${name}.png`);
  if (existsSync(file) && process.env['E2E_DOCS'] !== '1') return;
  // The body's box, so a short page has no empty band below it.
  await page.locator('body').screenshot({ path: file });
}

// Accessibility ------------------------------------------------------------------------------

let axeSource: string | undefined;

interface AxeNode {
  target: unknown[];
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: AxeNode[];
}

/**
 * Runs axe-core on the page as it is now and fails on any violation of impact serious or critical,
 * listing each rule, the elements and what is wrong with them. axe's source goes in through the
 * DevTools protocol (page.evaluate), which the page's Content-Security-Policy does not govern, so the
 * policy stays as strict as in production and the CSP-violation check still sees everything else.
 */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
  const violations = (await page.evaluate(`window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)`)) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const lang = await page.evaluate('document.documentElement.lang');
  const report = serious.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`).join('\n')}`,
  );
  expect.soft(report, `axe violations on ${screen} (lang ${String(lang)})`).toEqual([]);
}

/**
 * expectAccessible in the page's language, then in the other one through the page's language button,
 * then back: every screen is checked in English and Korean. The screen must stay put meanwhile.
 */
export async function expectAccessibleInBothLanguages(page: Page, screen: string): Promise<void> {
  const first = (await page.evaluate('document.documentElement.lang')) as string;
  const other = first === 'ko' ? 'en' : 'ko';
  await expectAccessible(page, screen);
  await page.locator('button.lang').click();
  await waitUntil(async () => (await page.evaluate('document.documentElement.lang')) === other, `lang=${other}`);
  await expectAccessible(page, screen);
  await page.locator('button.lang').click();
  await waitUntil(async () => (await page.evaluate('document.documentElement.lang')) === first, `lang=${first}`);
}

/** Waits until the locator's text matches. */
export async function waitForText(locator: Locator, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return waitUntil(
    async () => {
      const text = (await locator.textContent({ timeout: 1_000 })) ?? '';
      return pattern.test(text) ? text : undefined;
    },
    `text ${pattern}`,
    timeoutMs,
  );
}

/** Waits until the locator's attribute has the value. */
export async function waitForAttribute(locator: Locator, name: string, value: string | null, timeoutMs = 15_000): Promise<void> {
  await waitUntil(async () => (await locator.getAttribute(name, { timeout: 1_000 })) === value, `${name}=${value}`, timeoutMs);
}

/**
 * Collects what a page reports as broken: console errors (a failed request shows there as "Failed to
 * load resource … status of N", with the request's URL) and uncaught exceptions. Read it at the end of
 * a journey; a step that expects a refusal names it and filters it out. One refusal is the contract,
 * not a fault: a server without the bot check answers the page's GET /api/v1/challenge with 404.
 */
export function watchConsole(page: Page): { errors: () => string[] } {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location().url;
    if (/status of 404\b/.test(message.text()) && url.endsWith('/api/v1/challenge')) return;
    seen.push(url ? `${message.text()} (${url})` : message.text());
  });
  page.on('pageerror', (error) => seen.push(`uncaught: ${error.message}`));
  return { errors: () => [...seen] };
}

/** The seeded demo fans (GET /api/v1/demo/users, demo mode only). */
export async function demoUsers(server: TestServer): Promise<{ userId: string; name: string }[]> {
  return (await server.request<{ users: { userId: string; name: string }[] }>('GET', '/api/v1/demo/users')).users;
}

// Fan steps shared by several journeys ------------------------------------------------------

export async function joinWithUserId(page: Page, baseUrl: string, userId: string): Promise<void> {
  await page.goto(baseUrl + '/');
  await page.getByRole('heading', { name: 'Get in line for tickets' }).waitFor();
  await page.getByLabel('Your user ID').fill(userId);
  await page.getByRole('button', { name: 'Join the line' }).click();
}

export async function openSeatMap(page: Page, concertTitle: string): Promise<void> {
  await page.getByRole('heading', { name: 'Choose a concert' }).waitFor();
  await page.getByRole('button', { name: new RegExp(concertTitle) }).click();
  await page.getByRole('heading', { name: 'Choose a date' }).waitFor();
  await page
    .getByRole('button', { name: /seats left/ })
    .first()
    .click();
  await page.getByRole('heading', { name: 'Choose a seat' }).waitFor();
  await page.getByRole('group', { name: /^Seats on/ }).waitFor();
}

export function seat(page: Page, number: number): Locator {
  return page.locator(`[data-seat="${number}"]`);
}

/**
 * Starts a server (with extra environment) and Chromium for one test file, and stops both after it.
 * The fields are set before the first test runs.
 */
export function useServerAndBrowser(env: Record<string, string> = {}): { server: TestServer; browser: Browser } {
  const fixture = {} as { server: TestServer; browser: Browser };
  beforeAll(async () => {
    [fixture.server, fixture.browser] = await Promise.all([startServer(env), launchBrowser()]);
  });
  afterEach(expectNoCspViolations);
  afterAll(async () => {
    await fixture.browser?.close();
    await fixture.server?.stop();
  });
  return fixture;
}

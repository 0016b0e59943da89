// Measures what the bot check costs a fan: how long the fan page's solver (its pow-worker, the very
// file the page starts) takes to solve one challenge at a BOT_CHECK_COST, in headless Chromium against
// the built server, unthrottled and with the CPU slowed 4x as a stand-in for a mid-range phone. Each
// run is what the page does: fetch a challenge, start the worker, wait for its answer. Prints numbers,
// asserts nothing. Run after `npm run build`: npx tsx scripts/measure-pow.ts [--cost N] [--runs R]
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { parseFlags } from './lib/args.js';
import { cleanUp, installExitHandlers, repoRoot, startService } from './lib/service.js';

const usage = `npx tsx scripts/measure-pow.ts [--cost N] [--runs R]
  --cost N   BOT_CHECK_COST for the server (ALTCHA's maxnumber); default: the server's own default
  --runs R   challenges solved per setting (default 30)`;
const flags = parseFlags(process.argv.slice(2), { booleans: [], numbers: ['cost', 'runs'] }, usage);
const runs = flags.num('runs', 30);
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

interface Sample {
  /** From asking for the worker to its answer, in the page: what a fan waits if they click at once. */
  ms: number;
  /** The answer: how many hashes the search took (it counts up from 0). */
  number: number;
  maxnumber: number;
}

/** The worker file the fan page starts, found in the build and checked to be the one its bundle names. */
function findWorker(): string {
  const assets = path.join(repoRoot, 'dist', 'web', 'assets');
  const files = readdirSync(assets);
  const worker = files.find((file) => /^pow-worker-[\w-]+\.js$/.test(file));
  if (!worker) throw new Error('no pow-worker-*.js in dist/web/assets: run npm run build first');
  const named = files.filter((file) => /^index-[\w-]+\.js$/.test(file)).some((file) => readFileSync(path.join(assets, file), 'utf8').includes(worker));
  if (!named) throw new Error(`the fan page's bundle does not start ${worker}: rebuild with npm run build`);
  return `/assets/${worker}`;
}

// Runs in the page, under its Content-Security-Policy like the page's own code.
const solveInPage = `async ({ workerUrl, runs }) => {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const challenge = await (await fetch('/api/v1/challenge', { cache: 'no-store' })).json();
    const started = performance.now();
    const solution = await new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl, { type: 'module' });
      worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
      worker.onerror = (event) => { worker.terminate(); reject(new Error(event.message)); };
      worker.postMessage(challenge);
    });
    if (!solution) throw new Error('the worker found no solution');
    samples.push({ ms: performance.now() - started, number: solution.number, maxnumber: challenge.maxnumber });
  }
  return samples;
}`;

async function measure(browser: Browser, baseUrl: string, workerUrl: string, cpuSlowdown: number): Promise<Sample[]> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
  try {
    const page = await context.newPage();
    if (cpuSlowdown > 1) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: cpuSlowdown });
    }
    await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
    // One unmeasured solve, so the worker file is in the cache as it is for a fan who has read the page.
    await page.evaluate(`(${solveInPage})(${JSON.stringify({ workerUrl, runs: 1 })})`);
    return (await page.evaluate(`(${solveInPage})(${JSON.stringify({ workerUrl, runs })})`)) as Sample[];
  } finally {
    await context.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function median(samples: Sample[]): number {
  return percentile(
    samples.map((s) => s.ms).sort((a, b) => a - b),
    50,
  );
}

function report(label: string, samples: Sample[]): void {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const hashes = samples.reduce((sum, s) => sum + s.number + 1, 0);
  const seconds = samples.reduce((sum, s) => sum + s.ms, 0) / 1000;
  console.log(
    `  ${label.padEnd(22)} median ${percentile(ms, 50).toFixed(0).padStart(6)} ms   p90 ${percentile(ms, 90).toFixed(0).padStart(6)} ms   ` +
      `max ${ms[ms.length - 1]!.toFixed(0).padStart(6)} ms   (${Math.round(hashes / seconds).toLocaleString('en-US')} hashes/s)`,
  );
}

/** One join with a proof from the worker, so the numbers are for proofs the server accepts. */
async function checkAccepted(browser: Browser, baseUrl: string, workerUrl: string, adminKey: string): Promise<void> {
  const created = await fetch(`${baseUrl}/admin/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-key': adminKey },
    body: JSON.stringify({ name: 'Measure fan' }),
  });
  const { userId } = (await created.json()) as { userId: string };
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
    const status = await page.evaluate(`(async ({ workerUrl, userId }) => {
      const challenge = await (await fetch('/api/v1/challenge')).json();
      const solution = await new Promise((resolve) => {
        const worker = new Worker(workerUrl, { type: 'module' });
        worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
        worker.postMessage(challenge);
      });
      const { algorithm, challenge: hash, salt, signature } = challenge;
      const proof = btoa(JSON.stringify({ algorithm, challenge: hash, number: solution.number, salt, signature }));
      const response = await fetch('/api/v1/queue/tokens', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId, proof }),
      });
      return response.status;
    })(${JSON.stringify({ workerUrl, userId })})`);
    if (status !== 201 && status !== 200) throw new Error(`the server refused a join with the worker's proof: ${String(status)}`);
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  installExitHandlers();
  const workerUrl = findWorker();
  const service = await startService({
    postgres: false,
    redis: false,
    instances: 1,
    env: { BOT_CHECK: 'pow', ...(flags.has('cost') ? { BOT_CHECK_COST: String(flags.num('cost', 0)) } : {}) },
    label: 'pow',
  });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const baseUrl = service.urls[0]!;
    await checkAccepted(browser, baseUrl, workerUrl, service.adminKey);
    const fast = await measure(browser, baseUrl, workerUrl, 1);
    const slow = await measure(browser, baseUrl, workerUrl, 4);
    console.log(`Bot-check solve time in the fan page's worker, cost (maxnumber) ${fast[0]!.maxnumber.toLocaleString('en-US')}, ${runs} challenges each:`);
    report('unthrottled', fast);
    report('CPU slowed 4x (phone)', slow);
    console.log('  (the answer is uniform in 0…maxnumber, so a solve averages half the cost in hashes)');
    const ratio = median(slow) / median(fast);
    if (ratio < 2) {
      console.log(
        `  Note: the 4x row is only ${ratio.toFixed(1)}x the first. Chromium applies Emulation.setCPUThrottlingRate to the ` +
          "page's main thread; the worker and WebCrypto's digest thread run at full speed, so that row understates a phone.",
      );
    }
  } finally {
    await browser.close();
    await cleanUp();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanUp();
  process.exit(1);
});

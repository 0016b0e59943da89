// Measures the built front end: the gzipped size of each page's JS and CSS in dist/web, and the
// time to first contentful paint of / in headless Chromium against a real server, unthrottled and
// on an emulated slow phone (4x CPU slowdown, 1.6 Mbit/s, 150 ms round trip).
// Run after `npm run build`: npx tsx scripts/measure-web.ts [runs]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const webDir = path.join(root, 'dist', 'web');
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const runs = Number(process.argv[2] ?? 5);

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function reportSizes(): void {
  const assets = readdirSync(path.join(webDir, 'assets')).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
  const sizes = new Map(
    assets.map((file) => {
      const bytes = readFileSync(path.join(webDir, 'assets', file));
      return [file, { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, br: brotliCompressSync(bytes).length }] as const;
    }),
  );
  console.log('Bundle (gzip -9; the server sends the pre-built .br to browsers that accept it):');
  for (const [file, size] of sizes) {
    console.log(`  assets/${file.padEnd(26)} ${kb(size.raw).padStart(9)} raw ${kb(size.gzip).padStart(9)} gzip ${kb(size.br).padStart(9)} br`);
  }
  const total = (pick: (s: { gzip: number; br: number }) => number) => [...sizes.values()].reduce((sum, s) => sum + pick(s), 0);
  console.log(`  all JS+CSS${' '.repeat(39)}${kb(total((s) => s.gzip)).padStart(9)} gzip ${kb(total((s) => s.br)).padStart(9)} br`);
  for (const page of ['index.html', 'admin.html']) {
    const html = readFileSync(path.join(webDir, page), 'utf8');
    const used = [...html.matchAll(/\/assets\/([^"']+\.(?:js|css))/g)].map((m) => m[1]!);
    const gzip = [...new Set(used)].reduce((sum, file) => sum + (sizes.get(file)?.gzip ?? 0), 0);
    console.log(`  ${page.padEnd(11)} loads ${used.length} files: ${kb(gzip)} gzip (JS+CSS)`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForReady(url: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const response = await fetch(url).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 in time`);
}

interface Paint {
  fcp: number;
  domContentLoaded: number;
}

async function measureOnce(browser: Browser, url: string, slow: boolean): Promise<Paint> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
  const page = await context.newPage();
  if (slow) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 150,
      downloadThroughput: (1.6 * 1024 * 1024) / 8,
      uploadThroughput: (750 * 1024) / 8,
    });
  }
  await page.goto(url, { waitUntil: 'load' });
  await page.getByRole('heading', { level: 1 }).waitFor();
  const paint = (await page.evaluate(`(() => {
    const fcp = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
    const nav = performance.getEntriesByType('navigation')[0];
    return { fcp: fcp ? fcp.startTime : NaN, domContentLoaded: nav ? nav.domContentLoadedEventEnd : NaN };
  })()`)) as Paint;
  await context.close();
  return paint;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(webDir, 'index.html'))) throw new Error('dist/web is missing: run npm run build first');
  reportSizes();

  const port = await freePort();
  const server = spawn(process.execPath, [path.join(root, 'dist', 'src', 'server.js')], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: 'memory://',
      SEED_DEMO: 'true',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
    },
    stdio: 'ignore',
  });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const url = `http://127.0.0.1:${port}/`;
    await waitForReady(`http://127.0.0.1:${port}/readyz`, 60_000);
    await measureOnce(browser, url, false); // warm the server's file cache, not the browser's
    for (const slow of [false, true]) {
      const samples: Paint[] = [];
      for (let i = 0; i < runs; i++) samples.push(await measureOnce(browser, url, slow));
      const fcp = median(samples.map((s) => s.fcp));
      const dcl = median(samples.map((s) => s.domContentLoaded));
      console.log(
        `First contentful paint of / (${slow ? 'slow phone: 4x CPU, 1.6 Mbit/s, 150 ms RTT' : 'unthrottled, localhost'}), ` +
          `median of ${runs} cold loads: ${fcp.toFixed(0)} ms (DOMContentLoaded ${dcl.toFixed(0)} ms)`,
      );
    }
  } finally {
    await browser.close();
    server.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

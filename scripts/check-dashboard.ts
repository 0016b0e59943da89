// `npm run check:dashboard`: every query of deploy/grafana/boxoffice.json, asked of a real Prometheus that
// scrapes a real boxoffice after real traffic, so a metric or label the service does not export shows up
// here as a failing panel rather than as an empty graph during a sale. Also runs `promtool check config`
// on deploy/prometheus.yml. Needs Prometheus (Debian: `apt-get install prometheus`); by default two
// instances on a throwaway PostgreSQL database and Redis prefix, `--embedded` for one on PGlite.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminClient } from './lib/admin.js';
import { parseFlags } from './lib/args.js';
import { errorCode, keepAliveAgent, requestJson, type JsonResponse } from './lib/http.js';
import { checkConfig, prometheusBin, prometheusInstalled, promtoolBin, type RunningPrometheus, scrapeConfig, startPrometheus } from './lib/prometheus.js';
import { cleanUp, ensureBuilt, installExitHandlers, onCleanUp, repoRoot, startService } from './lib/service.js';
import { openSse } from './lib/sse.js';

const USAGE = `usage: npm run check:dashboard -- [flags]
  --embedded   one instance on embedded PGlite and the in-process queue (default: two instances on the
               local PostgreSQL and Redis); the Redis panel is then skipped
  --build      rebuild dist/ first (default: only when missing; a warning when older than src/)
environment: PROMETHEUS_BIN (default ${prometheusBin}), PROMTOOL_BIN (default: promtool beside it)`;

const flags = parseFlags(process.argv.slice(2), { booleans: ['embedded', 'build'], numbers: [] }, USAGE);
const embedded = flags.bool('embedded');

const DASHBOARD = path.join(repoRoot, 'deploy', 'grafana', 'boxoffice.json');
const DEPLOYED_CONFIG = path.join(repoRoot, 'deploy', 'prometheus.yml');
const SCRAPE_SECONDS = 1;
/** Short, so the general line's silent fan is found abandoned within seconds. */
const IDLE_SECONDS = 3;
const PRICE = 50_000;

/** What Grafana puts in for its own variables; a dashboard variable becomes "match anything". */
const GRAFANA_BUILTINS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
};

/**
 * Queries of counted events (rates, increases, counters): the traffic makes every event the dashboard
 * counts, so one reading 0 everywhere missed them. A warning, not a failure: it is usually a series born
 * at its first event, whose first value rate() and increase() cannot see.
 */
const COUNTS_EVENTS = /\b(?:rate|irate|increase)\(|_total\b/;

/** Queries that have no series in a healthy run, and why. The metrics they read must still be exported. */
const QUIET_WHEN_HEALTHY: Array<{ pattern: RegExp; why: string }> = [{ pattern: /status=~"5\.\."/, why: 'no 5xx in a healthy run' }];

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (ms: number) => new Date(ms).toISOString();

// ---- the dashboard -----------------------------------------------------------------------------

interface Panel {
  title?: string;
  targets?: Array<{ expr?: string; legendFormat?: string }>;
  panels?: Panel[];
}

interface Dashboard {
  panels?: Panel[];
  templating?: { list?: Array<{ name: string; type: string }> };
}

interface PanelQuery {
  panel: string;
  expr: string;
  legend: string;
}

function readQueries(dashboard: Dashboard): PanelQuery[] {
  const queries: PanelQuery[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) queries.push({ panel: p.title ?? '(untitled)', expr: t.expr, legend: t.legendFormat ?? '' });
      // A collapsed row keeps its panels inside it.
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels ?? []);
  return queries;
}

/** `$x`, `${x}`, `${x:format}` and `[[x]]` replaced; throws on a variable the dashboard does not define. */
function substituteVariables(expr: string, dashboard: Dashboard): string {
  const own = new Set((dashboard.templating?.list ?? []).filter((v) => v.type !== 'datasource').map((v) => v.name));
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const builtin = GRAFANA_BUILTINS[name];
    if (builtin !== undefined) return builtin;
    if (own.has(name)) return '.*';
    throw new Error(`${whole} is neither a Grafana built-in nor one of the dashboard's variables`);
  });
}

/** The metric names an expression selects with matchers or a range (`name{…}`, `name[…]`). */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b([a-zA-Z_:][\w:]*)\s*(?=\{|\[)/g)) names.add(m[1]!);
  return [...names];
}

/** The labels a legend format names (`{{line}} {{state}}`). */
function legendLabels(legend: string): string[] {
  return [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
}

// ---- traffic -----------------------------------------------------------------------------------

/** A fan's calls, round-robin over the instances. */
function fanClient(urls: string[]) {
  const agent = keepAliveAgent(8);
  let next = 0;

  async function call<T>(
    what: string,
    method: 'GET' | 'POST',
    route: string,
    expected: number,
    options: { token?: string; body?: unknown; idempotencyKey?: string } = {},
  ): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const url = `${urls[next++ % urls.length]}${route}`;
    const res = await requestJson<T>({ method, url, headers, body: options.body, agent, timeoutMs: 10_000 });
    if (res.status !== expected) throw new Error(`${what}: ${method} ${route} answered ${res.status} ${errorCode(res.body) ?? ''}, expected ${expected}`);
    return res;
  }

  const status = async (token: string) => (await call<{ status: string }>('poll', 'GET', '/api/v1/queue/tokens/me', 200, { token })).body.status;

  return {
    call,

    async join(userId: string, saleId?: string): Promise<string> {
      const res = await call<{ token: string }>('join', 'POST', '/api/v1/queue/tokens', 201, { body: saleId ? { userId, saleId } : { userId } });
      return res.body.token;
    },

    /** Polls every half second for `ms`, as a patient fan in a paused line would. */
    async keepPolling(token: string, ms: number): Promise<void> {
      for (const end = Date.now() + ms; Date.now() < end; ) {
        await status(token);
        await sleep(500);
      }
    },

    async pollUntilActive(token: string, timeoutMs = 20_000): Promise<void> {
      for (const end = Date.now() + timeoutMs; ; ) {
        const now = await status(token);
        if (now === 'ACTIVE') return;
        if (now !== 'WAITING') throw new Error(`a waiting fan's token became ${now}`);
        if (Date.now() > end) throw new Error(`a fan was not admitted within ${timeoutMs / 1000} s`);
        await sleep(300);
      }
    },

    close: () => agent.destroy(),
  };
}

/**
 * Enough of a sale that every metric family has a series: a paused general line where one fan goes
 * silent (abandoned) and one streams and polls (admitted after a measured wait), a few more admitted one
 * at a time (`scraped` resolves after every target's next scrape), then a two-seat sale whose two fans
 * are drawn, race for a seat (the loser refused), top up and pay, each request sent twice with one
 * Idempotency-Key (replays), until the sale is sold out.
 */
async function generateTraffic(urls: string[], adminKey: string, scraped: () => Promise<void>): Promise<void> {
  const admin = adminClient(urls, adminKey, 8);
  const fans = fanClient(urls);
  try {
    const [silent, patient, first, second, ...latecomers] = (await admin.createUsers(4 + urls.length)) as [string, string, string, string, ...string[]];

    await admin.patchQueue({ paused: true });
    await fans.join(silent);
    const waiting = await fans.join(patient);
    const stream = openSse(`${urls.at(-1)}/api/v1/queue/tokens/me/events`, { authorization: `Bearer ${waiting}` }, () => {});
    // Open until the queries are done, so the streams gauge reads 1 somewhere.
    onCleanUp(async () => stream.close());
    await fans.keepPolling(waiting, (IDLE_SECONDS + 1.5) * 1000);
    await admin.patchQueue({ paused: false });
    await fans.pollUntilActive(waiting);
    // A series is born at its first event, which rate() cannot see (it has no sample before it). One
    // admission more than there are instances, a scrape apart, gives some instance a rise to measure.
    for (const userId of latecomers) {
      await scraped();
      await fans.pollUntilActive(await fans.join(userId));
    }
    log(`general line: one fan abandoned, ${1 + latecomers.length} admitted`);

    const { concertId, dates } = await admin.createConcert([2], PRICE);
    const date = dates[0]!;
    const now = Date.now();
    const { body: sale } = await admin.createSale({ concertId, queueOpensAt: iso(now), opensAt: iso(now + 2_000), maxSeatsPerUser: 1 });
    const buyers = [
      { userId: first, token: await fans.join(first, sale.saleId), seat: 1 },
      { userId: second, token: await fans.join(second, sale.saleId), seat: 2 },
    ];
    await Promise.all(buyers.map((b) => fans.pollUntilActive(b.token)));
    const [a, b] = buyers as [(typeof buyers)[0], (typeof buyers)[0]];
    await fans.call('dates', 'GET', `/api/v1/concerts/${concertId}/dates`, 200, { token: a.token });
    await fans.call('seats', 'GET', `/api/v1/concerts/${concertId}/dates/${date}/seats`, 200, { token: a.token });

    const hold = (buyer: typeof a, seatNumber: number, expected: number) =>
      fans.call<{ reservationId: string }>('hold', 'POST', '/api/v1/reservations', expected, {
        token: buyer.token,
        body: { userId: buyer.userId, concertId, date, seatNumber },
      });
    const reservations = [(await hold(a, 1, 201)).body.reservationId];
    // A 409's series (route, status) is born with it: refused once per instance more, a scrape apart,
    // like the admissions above.
    for (let i = 0; i <= urls.length; i++) {
      if (i > 0) await scraped();
      await hold(b, 1, 409);
    }
    reservations.push((await hold(b, 2, 201)).body.reservationId);

    for (const [i, buyer] of buyers.entries()) {
      const reservationId = reservations[i]!;
      for (let send = 0; send < 2; send++) {
        await fans.call('top-up', 'POST', `/api/v1/users/${buyer.userId}/points/charge`, 200, {
          token: buyer.token,
          body: { amount: PRICE },
          idempotencyKey: `check-dashboard-charge-${buyer.userId}`,
        });
      }
      for (let send = 0; send < 2; send++) {
        await fans.call('pay', 'POST', '/api/v1/payments', 201, {
          token: buyer.token,
          body: { userId: buyer.userId, reservationId },
          idempotencyKey: `check-dashboard-pay-${reservationId}`,
        });
      }
    }
    for (const end = Date.now() + 15_000; (await admin.sale(sale.saleId)).body.phase !== 'SOLD_OUT'; ) {
      if (Date.now() > end) throw new Error('the sale did not sell out within 15 s of its last payment');
      await sleep(200);
    }
    log('sale: holds refused, two seats paid (twice each), sold out');
  } finally {
    fans.close();
    admin.close();
  }
}

/** True when a source file changed after the last build. */
function builtBeforeSources(): boolean {
  const built = path.join(repoRoot, 'dist', 'src', 'server.js');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const sources = readdirSync(path.join(repoRoot, 'src'), { recursive: true, withFileTypes: true });
  return sources.some((f) => f.isFile() && statSync(path.join(f.parentPath, f.name)).mtimeMs > builtAt);
}

// ---- the check ---------------------------------------------------------------------------------

interface Row {
  panel: string;
  expr: string;
  series: string;
  /** The largest value the query answered, '-' when none. */
  max: string;
  result: 'OK' | 'WARN' | 'FAIL' | 'SKIP';
  note: string;
}

/** Three significant digits, without an exponent for the sizes a dashboard shows. */
function formatValue(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 ? Math.round(v).toString() : String(Number(v.toPrecision(3)));
}

function printTable(rows: Row[]): void {
  const header = ['panel', 'series', 'max', 'result', 'expr'];
  const cells = rows.map((r) => [r.panel, r.series, r.max, r.result + (r.note ? ` (${r.note})` : ''), r.expr]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n'));
}

async function checkQuery(prometheus: RunningPrometheus, dashboard: Dashboard, { panel, expr, legend }: PanelQuery): Promise<Row> {
  const fail = (note: string, series = '-', max = '-'): Row => ({ panel, expr, series, max, result: 'FAIL', note });
  if (embedded && expr.includes('boxoffice_redis_')) return { panel, expr, series: '-', max: '-', result: 'SKIP', note: 'no Redis when embedded' };
  let query: string;
  try {
    query = substituteVariables(expr, dashboard);
  } catch (err) {
    return fail((err as Error).message);
  }
  const answer = await prometheus.query(query);
  if (!answer.ok) return fail(answer.error);
  const series = String(answer.series.length);
  // Grafana draws NaN as nothing: a query whose every value is NaN is an empty panel.
  const values = answer.series.map((s) => s.value).filter((v) => !Number.isNaN(v));
  const nan = answer.series.length - values.length;
  if (answer.series.length > 0) {
    if (values.length === 0) return fail('every value NaN', series);
    const max = formatValue(Math.max(...values));
    // A label the legend names but the query aggregated away leaves the panel's lines unnamed.
    const lost = legendLabels(legend).filter((l) => answer.series.some((s) => s.metric[l] === undefined));
    if (lost.length > 0) return fail(`legend's ${lost.map((l) => `{{${l}}}`).join(', ')} not in the result`, series, max);
    const nanNote = nan > 0 ? `${nan} NaN` : '';
    if (COUNTS_EVENTS.test(expr) && Math.max(...values) <= 0) {
      return { panel, expr, series, max, result: 'WARN', note: ['0 though the traffic made these events', nanNote].filter(Boolean).join('; ') };
    }
    return { panel, expr, series, max, result: 'OK', note: nanNote };
  }
  const quiet = QUIET_WHEN_HEALTHY.find((q) => q.pattern.test(expr));
  if (!quiet) return fail('no data', series);
  // Empty by design, but the metrics it reads must be exported, or the panel could never show anything.
  const names = metricNames(query);
  const exported = await prometheus.query(`count by (__name__) ({__name__=~"${names.join('|')}"})`);
  if (!exported.ok || exported.series.length < names.length) return fail(`no data, and not all of ${names.join(', ')} exported`, series);
  return { panel, expr, series, max: '-', result: 'OK', note: `empty: ${quiet.why}` };
}

async function main(): Promise<void> {
  if (!prometheusInstalled()) {
    console.error(
      `Prometheus is not installed (looked for ${prometheusBin} and ${promtoolBin}).\n` +
        'On Debian or Ubuntu: sudo apt-get install prometheus (then stop its service: sudo systemctl disable --now prometheus),\n' +
        'or point PROMETHEUS_BIN (and PROMTOOL_BIN) at the binaries of a release from prometheus.io.',
    );
    process.exitCode = 2;
    return;
  }
  installExitHandlers();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'boxoffice-dashboard-'));
  onCleanUp(async () => rmSync(dir, { recursive: true, force: true }));

  // The deployed file reads its key from a file beside it: check a copy with a key of its own.
  const deployed = path.join(dir, 'deployed');
  mkdirSync(deployed);
  copyFileSync(DEPLOYED_CONFIG, path.join(deployed, 'prometheus.yml'));
  writeFileSync(path.join(deployed, 'metrics-key'), 'not-a-real-key\n', { mode: 0o600 });
  checkConfig(path.join(deployed, 'prometheus.yml'));
  log('promtool check config deploy/prometheus.yml: ok');

  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const queries = readQueries(dashboard);
  if (queries.length === 0) throw new Error('the dashboard has no queries');

  // Not rebuilt unasked (src/ may be mid-edit), but a stale dist/ may lack a metric the source exports.
  if (!flags.bool('build') && builtBeforeSources()) log('warning: dist/ is older than src/; --build checks the source as it is now');
  ensureBuilt(flags.bool('build'));
  const metricsKey = randomBytes(16).toString('hex');
  const service = await startService({
    postgres: !embedded,
    redis: !embedded,
    instances: embedded ? 1 : 2,
    env: {
      METRICS_KEY: metricsKey,
      QUEUE_TICK_MS: '100',
      QUEUE_WAITING_IDLE_SECONDS: String(IDLE_SECONDS),
      QUEUE_ACTIVE_TTL_SECONDS: '120',
      RESERVATION_SWEEP_MS: '500',
    },
    label: 'dashboard',
  });
  log(`service: ${service.describe} at ${service.urls.join(', ')}`);

  const keyFile = path.join(dir, 'metrics-key');
  writeFileSync(keyFile, `${metricsKey}\n`, { mode: 0o600 });
  const configFile = path.join(dir, 'prometheus.yml');
  const targets = service.urls.map((u) => new URL(u).host);
  writeFileSync(configFile, scrapeConfig({ job: 'boxoffice', targets, credentialsFile: keyFile, intervalSeconds: SCRAPE_SECONDS }));
  checkConfig(configFile);
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const prometheus = await startPrometheus(configFile, dataDir);
  await prometheus.waitForScrapes(Date.now(), 2, SCRAPE_SECONDS);
  log(`prometheus: ${prometheus.url}, scraping ${targets.length} target${targets.length > 1 ? 's' : ''} every ${SCRAPE_SECONDS} s`);

  await generateTraffic(service.urls, service.adminKey, () => prometheus.waitForScrapes(Date.now(), 1, SCRAPE_SECONDS));
  // A few scrapes after the last event, so every rate() has two samples of the new counts.
  await prometheus.waitForScrapes(Date.now(), 3, SCRAPE_SECONDS);

  const rows: Row[] = [];
  for (const q of queries) rows.push(await checkQuery(prometheus, dashboard, q));

  console.log(`\nGrafana dashboard deploy/grafana/boxoffice.json against ${service.describe}:\n`);
  printTable(rows);
  const count = (result: Row['result']) => rows.filter((r) => r.result === result).length;
  const failed = count('FAIL');
  const tally = [`${count('OK')} passed`, ...(['WARN', 'SKIP', 'FAIL'] as const).filter((r) => count(r) > 0).map((r) => `${count(r)} ${r}`)];
  console.log(`\n${rows.length} queries: ${tally.join(', ')}.`);
  if (failed > 0) process.exitCode = 1;
}

main()
  .catch((err) => {
    console.error('check:dashboard failed:', err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUp();
    process.exit();
  });

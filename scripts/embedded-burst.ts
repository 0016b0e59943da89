// `npx tsx scripts/embedded-burst.ts`: how long a poll waits while the embedded database (PGlite on a
// real directory) takes a burst of writes. Builds the app in this process on a temporary DATA_DIR,
// fires concurrent point top-ups over real HTTP and polls GET /api/v1/queue/tokens/me every 10 ms.
// The client runs in a worker thread of its own, so a blocked server thread cannot also delay the
// poller's clock: a poll's latency counts from when it was due, and a stall shows in full.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { parseFlags } from './lib/args.js';
import { formatMs, percentile } from './lib/stats.js';

const USAGE = `usage: npx tsx scripts/embedded-burst.ts [flags]
  --charges N     top-ups fired at once (default 2000)
  --users N       users the top-ups are spread over (default 200)
  --sockets N     client sockets carrying the burst (default 500)
  --poll-ms N     poll interval (default 10)`;

const flags = parseFlags(process.argv.slice(2), { booleans: [], numbers: ['charges', 'users', 'sockets', 'poll-ms'] }, USAGE);
const settings = {
  charges: flags.num('charges', 2_000),
  users: flags.num('users', 200),
  sockets: flags.num('sockets', 500),
  pollMs: flags.num('poll-ms', 10),
};
const ADMIN_KEY = 'embedded-burst-admin-key';
const AMOUNT = 1_000;

interface ClientReport {
  polls: Array<{ latencyMs: number; status: number }>;
  charges: Array<{ latencyMs: number; status: number }>;
  burstMs: number;
}

/** Plain JavaScript, evaluated in a worker: no TypeScript loader needed there. */
const clientSource = `
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { parentPort, workerData } = require('node:worker_threads');
const { base, users, charges, sockets, pollMs, amount } = workerData;

function send(agent, method, url, headers, body) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const h = { ...headers };
    if (payload !== undefined) { h['content-type'] = 'application/json'; h['content-length'] = Buffer.byteLength(payload); }
    const req = http.request(base + url, { method, headers: h, agent, timeout: 120000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

(async () => {
  const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const burstAgent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const poller = users[0];
  const polls = [];
  const pending = [];
  let next = performance.now();
  let polling = true;
  const timer = setInterval(() => {
    // Every poll that fell due is sent now and timed from when it was due (no coordinated omission).
    const now = performance.now();
    while (polling && next <= now) {
      const due = next;
      next += pollMs;
      pending.push(send(pollAgent, 'GET', '/api/v1/queue/tokens/me', { authorization: 'Bearer ' + poller.token })
        .then((status) => polls.push({ latencyMs: performance.now() - due, status })));
    }
  }, 1);
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: charges }, (_, i) => {
    const u = users[i % users.length];
    const t0 = performance.now();
    return send(burstAgent, 'POST', '/api/v1/users/' + u.userId + '/points/charge', { authorization: 'Bearer ' + u.token }, { amount })
      .then((status) => ({ latencyMs: performance.now() - t0, status }));
  }));
  const burstMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 300));
  polling = false;
  clearInterval(timer);
  await Promise.all(pending);
  pollAgent.destroy();
  burstAgent.destroy();
  parentPort.postMessage({ polls, charges: results, burstMs });
})();
`;

function summarise(samples: Array<{ latencyMs: number; status: number }>) {
  const sorted = Float64Array.from(samples.map((s) => s.latencyMs)).sort();
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    statuses: JSON.stringify(statuses),
  };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-burst-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    ADMIN_KEY,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    QUEUE_ACTIVE_LIMIT: '100000',
    RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_JOIN_PER_MINUTE: '0',
  });
  const { app, db } = await buildApp(config);
  try {
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const created = await app.inject({
      method: 'POST',
      url: '/admin/v1/users/batch',
      headers: { 'x-admin-key': ADMIN_KEY },
      payload: { count: settings.users },
    });
    const userIds = (created.json() as { userIds: string[] }).userIds;
    const users = await Promise.all(
      userIds.map(async (userId) => {
        const res = await app.inject({ method: 'POST', url: '/api/v1/queue/tokens', payload: { userId } });
        return { userId, token: (res.json() as { token: string }).token };
      }),
    );

    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const report = await new Promise<ClientReport>((resolve, reject) => {
      const client = new Worker(clientSource, {
        eval: true,
        workerData: { base, users, charges: settings.charges, sockets: settings.sockets, pollMs: settings.pollMs, amount: AMOUNT },
      });
      client.once('message', resolve);
      client.once('error', reject);
    });
    lag.disable();

    const { total } = await db
      .selectFrom('users')
      .select(sql<number>`coalesce(sum(balance), 0)::bigint`.as('total'))
      .where('id', 'in', userIds)
      .executeTakeFirstOrThrow();
    const polls = summarise(report.polls);
    const charges = summarise(report.charges);
    console.log(`embedded database on disk (${dataDir}), ${settings.charges} top-ups over ${settings.users} users, ${settings.sockets} sockets`);
    console.log(
      `  burst:   ${formatMs(report.burstMs)} for ${charges.count} charges (${Math.round((charges.count / report.burstMs) * 1000)}/s), statuses ${charges.statuses}`,
    );
    console.log(`  charge:  p50 ${formatMs(charges.p50)}  p99 ${formatMs(charges.p99)}  max ${formatMs(charges.max)}`);
    console.log(
      `  poll:    p50 ${formatMs(polls.p50)}  p99 ${formatMs(polls.p99)}  max ${formatMs(polls.max)}  (${polls.count} polls every ${settings.pollMs} ms, statuses ${polls.statuses})`,
    );
    console.log(`  event-loop lag: max ${formatMs(lag.max / 1e6)}  p99 ${formatMs(lag.percentile(99) / 1e6)}`);
    const acknowledged = report.charges.filter((c) => c.status === 200).length * AMOUNT;
    if (total !== acknowledged) console.log(`  BALANCES WRONG: ${total} stored, ${acknowledged} acknowledged`);
  } finally {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// `npx tsx scripts/measure-limits.ts`: what a scripted client that ignores Retry-After gets past the
// rate limits. Builds the app in this process (embedded, the contract's default limits), then for a
// number of seconds three clients send as fast as they can, each from its own address: one joins the
// line with fresh users, one holds seats with one ACTIVE token, one reads a balance. Prints, per
// client and per minute of the run, requests sent and accepted (anything but 429).
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { parseFlags } from './lib/args.js';
import { formatInt } from './lib/stats.js';

const USAGE = `usage: npx tsx scripts/measure-limits.ts [flags]
  --seconds S       how long the clients hammer (default 125: two full windows and a bit)
  --concurrency C   requests in flight per client (default 8)`;
const flags = parseFlags(process.argv.slice(2), { booleans: [], numbers: ['seconds', 'concurrency'] }, USAGE);
const seconds = flags.num('seconds', 125);
const concurrency = flags.num('concurrency', 8);
const ADMIN_KEY = `limits-${randomUUID()}`;

interface Tally {
  sent: number[];
  accepted: number[];
  /** Answers by status over the whole run. */
  statuses: Map<number, number>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(base: string, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      `${base}${path}`,
      { method, agent, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...options.headers } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  // The defaults of the contract; TRUST_PROXY lets each client be its own address over one socket pool.
  const config = loadConfig({
    DATA_DIR: 'memory://',
    PORT: '0',
    ADMIN_KEY,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    TRUST_PROXY: 'true',
    QUEUE_ACTIVE_LIMIT: '100000',
  });
  const { app } = await buildApp(config);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const admin = { 'x-admin-key': ADMIN_KEY, 'x-forwarded-for': '198.51.100.1' };
  try {
    const users: string[] = [];
    const made = await call(base, 'POST', '/admin/v1/users/batch', { body: { count: 10_000 }, headers: admin });
    if (made.status !== 201) throw new Error(`user batch: ${made.status} ${made.body}`);
    users.push(...(JSON.parse(made.body) as { userIds: string[] }).userIds);
    const concert = await call(base, 'POST', '/admin/v1/concerts', {
      headers: admin,
      body: { title: 'Limits', venue: 'Hall', dates: [{ date: '2027-03-01', startsAt: '2027-03-01T10:00:00.000Z', seatCount: 200, price: 1000 }] },
    });
    if (concert.status !== 201) throw new Error(`concert: ${concert.status} ${concert.body}`);
    const concertId = (JSON.parse(concert.body) as { concertId: string }).concertId;
    const holder = users.pop()!;
    const joined = await call(base, 'POST', '/api/v1/queue/tokens', { body: { userId: holder }, headers: { 'x-forwarded-for': '198.51.100.2' } });
    const token = (JSON.parse(joined.body) as { token: string }).token;
    // Holds need an ACTIVE token: wait for the admission tick.
    for (let status = ''; status !== 'ACTIVE'; ) {
      const me = await call(base, 'GET', '/api/v1/queue/tokens/me', { headers: { authorization: `Bearer ${token}` } });
      status = (JSON.parse(me.body) as { status: string }).status;
      if (status !== 'ACTIVE') await new Promise((r) => setTimeout(r, 50));
    }

    // Fresh users while they last, then the same ones again (a rejoin answers 200 with the same place).
    let joins = 0;
    const joiner = () => users[joins++ % users.length]!;
    const start = Date.now();
    const end = start + seconds * 1000;
    const minutes = Math.ceil(seconds / 60);
    const tally = (): Tally => ({ sent: Array(minutes).fill(0), accepted: Array(minutes).fill(0), statuses: new Map() });
    const clients: Record<string, { tally: Tally; send: () => Promise<number> }> = {
      'join (30 per address per minute)': {
        tally: tally(),
        send: async () =>
          (await call(base, 'POST', '/api/v1/queue/tokens', { body: { userId: joiner() }, headers: { 'x-forwarded-for': '203.0.113.10' } })).status,
      },
      'hold (60 per token per minute)': {
        tally: tally(),
        send: async () =>
          (
            await call(base, 'POST', '/api/v1/reservations', {
              body: { userId: holder, concertId, date: '2027-03-01', seatNumber: 1 + Math.floor(Math.random() * 200) },
              headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.11' },
            })
          ).status,
      },
      'balance read (600 per address per minute)': {
        tally: tally(),
        send: async () =>
          (await call(base, 'GET', `/api/v1/users/${holder}/points`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.12' } }))
            .status,
      },
    };
    await Promise.all(
      Object.values(clients).flatMap(({ tally: t, send }) =>
        Array.from({ length: concurrency }, async () => {
          while (Date.now() < end) {
            const minute = Math.min(minutes - 1, Math.floor((Date.now() - start) / 60_000));
            const status = await send();
            t.sent[minute]!++;
            if (status !== 429) t.accepted[minute]!++;
            t.statuses.set(status, (t.statuses.get(status) ?? 0) + 1);
          }
        }),
      ),
    );
    console.log(`\na client ignoring Retry-After, ${concurrency} requests in flight, for ${seconds} s (minute ${minutes} is partial):\n`);
    for (const [name, { tally: t }] of Object.entries(clients)) {
      const perMinute = t.sent.map((sent, i) => `minute ${i + 1}: ${formatInt(t.accepted[i]!)} accepted of ${formatInt(sent)}`);
      const statuses = [...t.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${formatInt(n)}`);
      console.log(`${name.padEnd(42)} ${perMinute.join(' · ')}  (${statuses.join(', ')})`);
    }
  } finally {
    await app.close();
    agent.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// The multi-instance harness: starts three real `node dist/src/server.js` processes on their own ports
// against one fresh PostgreSQL database and one Redis prefix, gives the tests a client that spreads
// requests round-robin over the live instances (or sends to one), and removes every process, the
// database and the Redis keys afterwards. Tests see the service only through HTTP, as a client would.
// With REDIS_CLUSTER=true, REDIS_URL names a Redis Cluster's seed nodes and the instances use it so.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { deleteRedisKeys } from '../helpers/redis-keys.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const ADMIN_KEY = 'cluster-admin-key';
const serverEntry = path.join(repoRoot, 'dist', 'src', 'server.js');
/** `npm run start:cluster`'s launcher: one process whose workers share its port. */
export const clusterEntry = path.join(repoRoot, 'dist', 'src', 'cluster.js');
const defaultPgUrl = process.env['CLUSTER_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/**
 * A pooler in transaction mode (PgBouncer) in front of that server: instances connect through it, to the
 * database of the same name; the harness still creates and drops the database on the server itself.
 */
const defaultPgPoolUrl = process.env['CLUSTER_PG_POOL_URL'] || undefined;
const defaultRedisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** Whether REDIS_URL is a Redis Cluster's seed list (CI runs the suite both ways). */
export const onRedisCluster = process.env['REDIS_CLUSTER'] === 'true';
/** The service's own variables: never inherited from the calling shell, only set by the harness. */
const serviceVariables =
  /^(PORT|HOST|DATABASE_URL|DATABASE_TRANSACTION_POOLING|DATA_DIR|REDIS_URL|REDIS_CLUSTER|REDIS_PREFIX|ADMIN_KEY|TOKEN_SECRET|SEED_DEMO|NODE_ENV|LOG_LEVEL|QUEUE_.*|RESERVATION_.*)$/;
const startTimeoutMs = 60_000;

export interface Reply<T = any> {
  status: number;
  body: T;
  /** Which instance answered. */
  via: number;
}

export interface CallOptions {
  body?: unknown;
  token?: string;
  admin?: boolean;
  headers?: Record<string, string>;
  /** Send to this instance instead of the next one in the round-robin. */
  via?: number;
}

export interface Instance {
  readonly index: number;
  readonly port: number;
  readonly baseUrl: string;
  readonly alive: boolean;
  logs(): string;
}

export interface ClusterOptions {
  /** Environment for every instance (QUEUE_ACTIVE_LIMIT, …); strings as the shell would pass them. */
  env?: Record<string, string>;
  /** Extra environment for single instances, by index. */
  instanceEnv?: Record<number, Record<string, string>>;
  size?: number;
  /** What each instance runs: the server (default) or another built entry such as `clusterEntry`. */
  entry?: string;
  /** PostgreSQL to use instead of `CLUSTER_PG_URL`: a URL of an existing database, beside which the harness creates its own. */
  pgUrl?: string;
  /**
   * A pooler in transaction mode in front of `pgUrl`'s server, for the instances (its database of the
   * same name); defaults to `CLUSTER_PG_POOL_URL` unless `pgUrl` is given.
   */
  pgPoolUrl?: string;
  /** Redis to use instead of `REDIS_URL`. */
  redisUrl?: string;
  /** Whether `redisUrl` is a Redis Cluster; without `redisUrl`, REDIS_CLUSTER decides. */
  redisCluster?: boolean;
}

export interface Cluster {
  instances: Instance[];
  /** The database the instances share (created for this cluster, dropped by `stop`), on the server itself. */
  databaseUrl: string;
  /** The instances' REDIS_PREFIX (its keys are deleted by `stop`). */
  redisPrefix: string;
  /** One HTTP call, round-robin over the live instances unless `via` names one. */
  call<T = any>(method: string, urlPath: string, options?: CallOptions): Promise<Reply<T>>;
  /** SIGKILL, no goodbye: the instance stops mid-whatever-it-was-doing. */
  kill(index: number): Promise<void>;
  /** Starts a killed instance again on the same port and waits until it is ready. */
  restart(index: number): Promise<void>;
  /** SIGTERM, and how the process ended. */
  terminate(index: number): Promise<{ code: number | null; signal: string | null }>;
  stop(): Promise<void>;
}

/** Polls `check` until it returns without throwing, or fails with its last error after the deadline. */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Reserves `count` distinct free ports on 127.0.0.1 (all probes stay open until every port is known). */
export async function freePorts(count: number): Promise<number[]> {
  const probes: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const probe = createServer();
      probes.push(probe);
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return probes.map((p) => {
      const address = p.address();
      if (typeof address !== 'object' || !address) throw new Error('no port');
      return address.port;
    });
  } finally {
    await Promise.all(probes.map((p) => new Promise((resolve) => p.close(resolve))));
  }
}

async function withPg<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Every child process any cluster started, killed even if the test runner exits without cleanup. */
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

class ServerProcess implements Instance {
  private child: ChildProcess | undefined;
  private output = '';
  private exited: Promise<void> = Promise.resolve();
  alive = false;
  exit: { code: number | null; signal: string | null } = { code: null, signal: null };

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly entry: string,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  logs(): string {
    return this.output;
  }

  start(): void {
    const child = spawn(process.execPath, [this.entry], { cwd: repoRoot, env: { ...this.env, PORT: String(this.port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.alive = true;
    everyChild.add(child);
    const keep = (chunk: Buffer) => {
      // The tail is what explains a failure; a chatty instance must not fill the memory.
      this.output = (this.output + chunk.toString()).slice(-64_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.alive = false;
        this.exit = { code, signal };
        everyChild.delete(child);
        this.output += `\n[instance ${this.index} exited: code ${code}, signal ${signal}]\n`;
        resolve();
      }),
    );
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`instance ${this.index} exited during start-up:\n${this.output}`);
      const status = await fetch(`${this.baseUrl}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`instance ${this.index} not ready after ${startTimeoutMs} ms (last /readyz: ${status}):\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive || !this.child) return;
    this.child.kill(signal);
    const force = setTimeout(() => this.child?.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(force);
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const entry = options.entry ?? serverEntry;
  if (!existsSync(entry)) throw new Error(`${path.relative(repoRoot, entry)} is missing: run npm run build before npm run test:cluster`);
  const size = options.size ?? 3;
  const basePgUrl = options.pgUrl ?? defaultPgUrl;
  const redisUrl = options.redisUrl ?? defaultRedisUrl;
  const redisCluster = options.redisUrl ? (options.redisCluster ?? false) : onRedisCluster;
  const run = randomBytes(6).toString('hex');
  const dbName = `boxoffice_cluster_${run}`;
  const prefix = `cluster-test:${run}:`;
  const dbUrl = new URL(basePgUrl);
  dbUrl.pathname = `/${dbName}`;
  const poolUrl = options.pgUrl ? options.pgPoolUrl : (options.pgPoolUrl ?? defaultPgPoolUrl);
  const instanceDbUrl = poolUrl ? new URL(poolUrl) : dbUrl;
  instanceDbUrl.pathname = `/${dbName}`;

  const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !serviceVariables.test(e[0])));
  const shared: Record<string, string> = {
    ...inherited,
    HOST: '127.0.0.1',
    DATABASE_URL: instanceDbUrl.toString(),
    ...(poolUrl ? { DATABASE_TRANSACTION_POOLING: 'true' } : {}),
    REDIS_URL: redisUrl,
    REDIS_CLUSTER: String(redisCluster),
    REDIS_PREFIX: prefix,
    TOKEN_SECRET: randomBytes(32).toString('base64url'),
    ADMIN_KEY,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'false',
    QUEUE_TICK_MS: '100',
    // The tests drive every fan from one address; a test of the limits sets its own.
    RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_JOIN_PER_MINUTE: '0',
    RATE_LIMIT_HOLD_PER_MINUTE: '0',
    ...options.env,
  };

  await withPg(basePgUrl, (c) => c.query(`create database ${dbName}`));
  const ports = await freePorts(size);
  const servers = ports.map((port, i) => new ServerProcess(i, port, { ...shared, ...options.instanceEnv?.[i] }, entry));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(servers.map((s) => s.stop('SIGTERM')));
    const errors: unknown[] = [];
    await withPg(basePgUrl, (c) => c.query(`drop database if exists ${dbName} with (force)`)).catch((e: unknown) => errors.push(e));
    await deleteRedisKeys(redisUrl, prefix).catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, 'cluster clean-up failed');
  };

  try {
    // All at once, as a deployment would: the instances race each other through the migrations.
    for (const s of servers) s.start();
    await Promise.all(servers.map((s) => s.waitReady()));
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  let next = 0;
  const pick = (): ServerProcess => {
    for (let tried = 0; tried < servers.length; tried++) {
      const s = servers[next++ % servers.length]!;
      if (s.alive) return s;
    }
    throw new Error('no instance is alive');
  };

  const call = async <T>(method: string, urlPath: string, o: CallOptions = {}): Promise<Reply<T>> => {
    const server = o.via === undefined ? pick() : servers[o.via]!;
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers['authorization'] = `Bearer ${o.token}`;
    if (o.admin) headers['x-admin-key'] = ADMIN_KEY;
    const response = await fetch(server.baseUrl + urlPath, {
      method,
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the tests will show the text.
    }
    return { status: response.status, body: body as T, via: server.index };
  };

  return {
    instances: servers,
    databaseUrl: dbUrl.toString(),
    redisPrefix: prefix,
    call,
    async kill(index) {
      await servers[index]!.stop('SIGKILL');
    },
    async restart(index) {
      const s = servers[index]!;
      if (s.alive) throw new Error(`instance ${index} is still running`);
      s.start();
      await s.waitReady();
    },
    async terminate(index) {
      const s = servers[index]!;
      await s.stop('SIGTERM');
      return s.exit;
    },
    stop,
  };
}

// ---- small helpers the tests share -------------------------------------------------------------

/** Throws with the whole reply unless its status is the expected one; returns the body. */
export function expectStatus<T = any>(reply: Reply<T>, status: number, what = ''): T {
  if (reply.status !== status) {
    throw new Error(`${what ? what + ': ' : ''}expected ${status}, got ${reply.status} from instance ${reply.via}: ${JSON.stringify(reply.body)}`);
  }
  return reply.body;
}

/** Expects the contract's error shape with this status and code. */
export function expectError(reply: Reply<unknown>, status: number, code: string, what = ''): void {
  const body = expectStatus(reply as Reply<{ error?: { code?: string } }>, status, what);
  if (body?.error?.code !== code) throw new Error(`${what ? what + ': ' : ''}expected ${code}, got ${JSON.stringify(body)} from instance ${reply.via}`);
}

export async function createUser(cluster: Cluster, via?: number): Promise<string> {
  return expectStatus(await cluster.call<{ userId: string }>('POST', '/admin/v1/users', { body: { name: 'fan' }, admin: true, via }), 201, 'create user')
    .userId;
}

let dateCounter = 0;
/** A unique far-future date, so concerts in one database never share one by accident. */
export function uniqueDate(): string {
  const day = new Date(Date.UTC(2028, 0, 1) + (dateCounter++ + Math.floor(Math.random() * 5000)) * 86_400_000);
  return day.toISOString().slice(0, 10);
}

export async function createConcert(cluster: Cluster, seatCount: number, price = 50_000): Promise<{ concertId: string; date: string }> {
  const date = uniqueDate();
  const reply = await cluster.call<{ concertId: string }>('POST', '/admin/v1/concerts', {
    admin: true,
    body: { title: `Cluster ${randomUUID().slice(0, 8)}`, venue: 'Test Hall', dates: [{ date, startsAt: `${date}T10:00:00.000Z`, seatCount, price }] },
  });
  return { concertId: expectStatus(reply, 201, 'create concert').concertId, date };
}

export interface QueueTokenView {
  userId: string;
  status: 'WAITING' | 'ACTIVE' | 'EXPIRED';
  position: number;
  token: string;
}

export async function join(cluster: Cluster, userId: string, via?: number): Promise<Reply<QueueTokenView>> {
  return cluster.call<QueueTokenView>('POST', '/api/v1/queue/tokens', { body: { userId }, via });
}

export async function poll(cluster: Cluster, token: string, via?: number): Promise<Reply<QueueTokenView>> {
  return cluster.call<QueueTokenView>('GET', '/api/v1/queue/tokens/me', { token, via });
}

export interface QueueStats {
  waiting: number;
  active: number;
  activeLimit: number;
  admittedPerMinute: number;
  paused: boolean;
}

/** GET /admin/v1/queue on every live instance. */
export async function queueStatsEverywhere(cluster: Cluster): Promise<QueueStats[]> {
  const live = cluster.instances.filter((i) => i.alive);
  return Promise.all(
    live.map(async (i) => expectStatus(await cluster.call<QueueStats>('GET', '/admin/v1/queue', { admin: true, via: i.index }), 200, 'queue stats')),
  );
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface EventStream {
  /** Every `data:` object received so far, with the time it arrived (Date.now()). */
  events: { data: any; at: number }[];
  /** Resolves with the first event (already received or coming) that matches, or fails at the deadline. */
  next(match: (data: any) => boolean, timeoutMs?: number): Promise<{ data: any; at: number }>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens the queue's Server-Sent Events stream on one instance, with the token in the query as EventSource would. */
export function openEvents(cluster: Cluster, token: string, via: number): Promise<EventStream> {
  const instance = cluster.instances[via]!;
  return new Promise((resolve, reject) => {
    const events: { data: any; at: number }[] = [];
    const waiters = new Set<() => void>();
    let buffer = '';
    let endStream!: () => void;
    const ended = new Promise<void>((r) => (endStream = r));
    const request = http.get(`${instance.baseUrl}/api/v1/queue/tokens/me/events?token=${encodeURIComponent(token)}`, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`events on instance ${via}: status ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('\n');
          if (data) events.push({ data: JSON.parse(data), at: Date.now() });
        }
        for (const w of waiters) w();
      });
      response.on('end', endStream);
      response.on('close', endStream);
      resolve({
        events,
        ended,
        close: () => request.destroy(),
        next(match, timeoutMs = 5_000) {
          return new Promise((resolveEvent, rejectEvent) => {
            const check = () => {
              const found = events.find((e) => match(e.data));
              if (!found) return;
              clearTimeout(timer);
              waiters.delete(check);
              resolveEvent(found);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rejectEvent(new Error(`no matching event on instance ${via} within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.data))}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
      });
    });
    request.on('error', reject);
  });
}

/** Rows of one query on the cluster's database, over a connection of its own. */
export async function query<T extends Record<string, unknown>>(cluster: Cluster, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

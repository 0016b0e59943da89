// Starts and stops what the bench and the simulator measure: boxoffice server processes (embedded, or
// on a throwaway PostgreSQL database and Redis key prefix), and the bare node:http baseline. Everything
// started here is registered for clean-up, which also runs on SIGINT/SIGTERM and on a crash.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { ParsedFlags } from './args.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const serverEntry = path.join(repoRoot, 'dist', 'src', 'server.js');
/** The flags `npm start` gives node (package.json), so that the scripts measure the server as it runs. */
const serverNodeFlags = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(/\s+/)
  .filter((word) => word.startsWith('--'));

/** Where the local servers are; override for another machine. */
export const postgresAdminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

// ---- where the services are: flags shared by the bench and the simulator ------------------------

export interface ServiceLocation {
  /** The PostgreSQL server (a URL of any database on it) on which the throwaway database is created. */
  pgUrl: string;
  /** A pooler in transaction mode (PgBouncer) in front of it: instances connect here, to the same database name. */
  pgPoolUrl: string | undefined;
  /** The throwaway database's name instead of a random one (still created, and dropped at the end). */
  dbName: string | undefined;
  /** The first instance's port (the others take the next ones) instead of free ones found at random. */
  port: number | undefined;
  redisUrl: string;
}

/** The flags readServiceFlags reads, for parseFlags. */
export const SERVICE_FLAGS = { strings: ['pg-url', 'pg-pool-url', 'db-name', 'redis-url'], numbers: ['port'] } as const;

export const SERVICE_USAGE = `  --pg-url URL         the PostgreSQL server --postgres makes its throwaway database on
                       (default ${postgresAdminUrl})
  --pg-pool-url URL    the instances connect here instead, to the same database name: a pooler in
                       transaction mode such as PgBouncer (sets DATABASE_TRANSACTION_POOLING=true)
  --db-name NAME       the throwaway database's name (default: boxoffice_<script>_<random>); dropped at the end
  --port N             the first instance's port, the others the next ones (default: free ones at random)
  --redis-url URL      the Redis --redis uses (default ${redisUrl})`;

let location: ServiceLocation = { pgUrl: postgresAdminUrl, pgPoolUrl: undefined, dbName: undefined, port: undefined, redisUrl };

/**
 * Reads the service flags into where startService puts the services (today's defaults for those not
 * given); a flag it refuses is printed with the usage, and the script exits 2 as parseFlags does.
 */
export function useServiceFlags(flags: Pick<ParsedFlags, 'str' | 'num' | 'has'>, usage: string): void {
  try {
    location = readLocation(flags);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

function readLocation(flags: Pick<ParsedFlags, 'str' | 'num' | 'has'>): ServiceLocation {
  const url = (name: string, protocols: string[]): string | undefined => {
    const value = flags.str(name);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new Error(`--${name} must be a URL, got "${value}"`);
    }
    if (!protocols.includes(parsed.protocol)) throw new Error(`--${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got "${value}"`);
    return value;
  };
  const dbName = flags.str('db-name');
  if (dbName !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(dbName)) throw new Error(`--db-name must be lower-case letters, digits and _ (got "${dbName}")`);
  const port = flags.has('port') ? flags.num('port', 0) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new Error(`--port must be a port number, got ${port}`);
  return {
    pgUrl: url('pg-url', ['postgres:', 'postgresql:']) ?? postgresAdminUrl,
    pgPoolUrl: url('pg-pool-url', ['postgres:', 'postgresql:']),
    dbName,
    port,
    redisUrl: url('redis-url', ['redis:', 'rediss:']) ?? redisUrl,
  };
}

// ---- clean-up registry -------------------------------------------------------------------------

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;

/** Registers `fn` to run (last registered first) when cleanUp() runs; returns an unregister function. */
export function onCleanUp(fn: () => Promise<void>): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error('clean-up step failed:', err instanceof Error ? err.message : err);
      }
    }
  })();
  return cleaning;
}

let handlersInstalled = false;
/** On Ctrl-C, SIGTERM or an unexpected crash: stop children, drop databases, delete keys, then exit. */
export function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let bailing = false;
  const bail = (code: number, why: string) => {
    // A second signal (tsx relays the terminal's Ctrl-C, so it comes twice) must not cut the clean-up short.
    if (bailing) return;
    bailing = true;
    process.stderr.write(`\n${why}: cleaning up…\n`);
    const force = setTimeout(() => process.exit(code), 20_000);
    force.unref();
    void cleanUp().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => bail(130, 'interrupted'));
  process.on('SIGTERM', () => bail(143, 'terminated'));
  process.on('uncaughtException', (err) => {
    console.error(err);
    bail(1, 'crashed');
  });
  process.on('unhandledRejection', (err) => {
    console.error(err);
    bail(1, 'crashed');
  });
}

// ---- build, ports ------------------------------------------------------------------------------

export function ensureBuilt(force: boolean): void {
  if (!force && existsSync(serverEntry)) return;
  process.stderr.write('building the service (npm run build)…\n');
  const result = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0 || !existsSync(serverEntry)) throw new Error('npm run build failed');
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive ports from `first`, refused unless every one is free on 127.0.0.1. */
async function portsFrom(first: number, count: number): Promise<number[]> {
  const ports = Array.from({ length: count }, (_, i) => first + i);
  for (const p of ports) if (p > 65535 || !(await portIsFree(p))) throw new Error(`port ${p} is not free on 127.0.0.1 (--port ${first}, ${count} instance(s))`);
  return ports;
}

/** The first of `count` consecutive free ports on 127.0.0.1. */
export async function findFreePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    let free = true;
    for (const p of ports) if (!(await portIsFree(p))) free = false;
    if (free) return ports;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

// ---- child processes ---------------------------------------------------------------------------

interface Child {
  process: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv, name: string): Child {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  onCleanUp(() => stopChild({ process: child, output, exited }, name));
  return { process: child, output, exited };
}

function pidsOf(children: Child[]): number[] {
  return children.flatMap((c) => (c.process.pid === undefined ? [] : [c.process.pid]));
}

async function stopChild(child: Child, _name: string): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
  await child.exited;
  clearTimeout(timer);
}

async function waitUntilReady(url: string, child: Child, name: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void child.exited.then((c) => (exitCode = c ?? -1));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${name} exited (${exitCode}) before it was ready:\n${child.output.join('').slice(-3000)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${child.output.join('').slice(-3000)}`);
}

// ---- the bare baseline -------------------------------------------------------------------------

/** A node:http server answering one fixed JSON body shaped like a queue poll: the ceiling to compare with. */
const BARE_SERVER = `
import http from 'node:http';
const body = JSON.stringify({ userId: '6f1c3b0e-8a47-4c55-9a51-0a4f1f0c2b7d', status: 'WAITING', position: 123456,
  estimatedWaitSeconds: 600, pollAfterSeconds: 20, expiresAt: new Date().toISOString() });
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export interface RunningProcess {
  url: string;
  /** The server's process id (its CPU time is read from /proc). */
  pids: number[];
  stop(): Promise<void>;
}

export async function startBareServer(): Promise<RunningProcess> {
  const [port] = await findFreePorts(1);
  const child = startChild(['--input-type=module', '-e', BARE_SERVER], { PATH: process.env.PATH, PORT: String(port) }, 'bare server');
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(url, child, 'bare server');
  return { url, pids: pidsOf([child]), stop: () => stopChild(child, 'bare server') };
}

// ---- boxoffice ---------------------------------------------------------------------------------

export interface ServiceOptions {
  postgres: boolean;
  redis: boolean;
  instances: number;
  /** Queue and hold timings etc., as the service's environment variables. */
  env: Record<string, string>;
  /** Embedded mode's DATA_DIR; default memory://. */
  dataDir?: string;
  /** Extra node flags for each server process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Names the throwaway database and key prefix. */
  label: string;
  /**
   * An embedded service beside the one the flags place: it takes free ports at random, since --port is
   * that one's, and --pg-pool-url or --db-name are not refused for it, since they are its database's.
   */
  beside?: boolean;
}

export interface RunningService {
  urls: string[];
  adminKey: string;
  /** The throwaway database, when --postgres: on the server itself, not through --pg-pool-url. */
  databaseUrl: string | undefined;
  redisPrefix: string | undefined;
  describe: string;
  /** The server processes' ids, one per instance. */
  pids: number[];
  /** Stops the server processes (graceful SIGTERM). The database and keys stay until cleanUp(). */
  stop(): Promise<void>;
}

function randomName(): string {
  return randomBytes(4).toString('hex');
}

async function createDatabase(label: string): Promise<string> {
  const { pgUrl } = location;
  const name = location.dbName ?? `boxoffice_${label}_${randomName()}`;
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  onCleanUp(async () => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query(`drop database if exists ${name} with (force)`);
    } finally {
      await c.end();
    }
  });
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The Redis the service uses (--redis-url, or the local one). */
export function serviceRedisUrl(): string {
  return location.redisUrl;
}

/** The same database through the pooler, when there is one. */
function throughPool(databaseUrl: string): string {
  if (!location.pgPoolUrl) return databaseUrl;
  const url = new URL(location.pgPoolUrl);
  url.pathname = new URL(databaseUrl).pathname;
  return url.toString();
}

/** Deletes every key under `prefix` on the local Redis (or `url`'s). */
export async function deleteRedisKeys(prefix: string, url = redisUrl): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { postgres, redis, instances } = options;
  if (instances > 1 && !(redis && postgres)) throw new Error('--instances above 1 needs --redis and --postgres (one shared line and database)');
  if (!postgres && !options.beside && (location.pgPoolUrl || location.dbName)) throw new Error('--pg-pool-url and --db-name need --postgres');
  const ports = location.port === undefined || options.beside ? await findFreePorts(instances) : await portsFrom(location.port, instances);
  const databaseUrl = postgres ? await createDatabase(options.label) : undefined;
  const redisPrefix = redis ? `${options.label}:${randomName()}:` : undefined;
  const ownRedisUrl = location.redisUrl;
  if (redisPrefix) onCleanUp(() => deleteRedisKeys(redisPrefix, ownRedisUrl));

  const adminKey = randomBytes(16).toString('hex');
  const inherited: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'false',
    ADMIN_KEY: adminKey,
    TOKEN_SECRET: randomBytes(24).toString('base64url'),
    DATA_DIR: options.dataDir ?? 'memory://',
    // Every simulated fan comes from this one address. The limits stay registered (their cost is part of
    // what is measured) but no count reaches them.
    RATE_LIMIT_PER_MINUTE: '1000000000',
    RATE_LIMIT_JOIN_PER_MINUTE: '1000000000',
    RATE_LIMIT_HOLD_PER_MINUTE: '1000000000',
    ...(databaseUrl ? { DATABASE_URL: throughPool(databaseUrl) } : {}),
    ...(databaseUrl && location.pgPoolUrl ? { DATABASE_TRANSACTION_POOLING: 'true' } : {}),
    ...(redisPrefix ? { REDIS_URL: ownRedisUrl, REDIS_PREFIX: redisPrefix } : {}),
    ...options.env,
  };
  const children: Child[] = [];
  const urls: string[] = [];
  // The first instance migrates the database alone; the others start once it is ready.
  for (const [i, port] of ports.entries()) {
    const name = `boxoffice #${i + 1}`;
    const child = startChild([...serverNodeFlags, ...(options.nodeArgs ?? []), serverEntry], { ...env, PORT: String(port) }, name);
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(`${url}/readyz`, child, name);
    urls.push(url);
  }
  const describe = [
    `${instances} instance${instances > 1 ? 's' : ''}`,
    postgres ? (location.pgPoolUrl ? 'PostgreSQL through a pooler' : 'PostgreSQL') : 'embedded PGlite',
    redis ? 'Redis queue' : 'in-process queue',
  ].join(', ');
  return {
    urls,
    adminKey,
    databaseUrl,
    redisPrefix,
    describe,
    pids: pidsOf(children),
    stop: async () => {
      await Promise.all(children.map((c, i) => stopChild(c, `boxoffice #${i + 1}`)));
    },
  };
}

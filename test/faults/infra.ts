// Throwaway dependencies for the fault suite: a PostgreSQL cluster of its own (Debian's pg_createcluster,
// on a spare port) and a redis-server child process, both of which the tests stop, kill and start again.
// Nothing here ever touches a cluster or a Redis it did not create: cluster names and Redis pid files
// carry this process's pid, and a later run removes only leftovers whose owner process is gone.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePorts, startCluster, waitFor, type Cluster } from '../cluster/harness.js';

const CLUSTER_PREFIX = 'bofault';
/** `bofault<owner pid>x<random>`: the owner pid tells a crashed run's leftovers from a live run's clusters. */
const clusterNamePattern = new RegExp(`^${CLUSTER_PREFIX}(\\d+)x[0-9a-f]+$`);
const redisPidDir = path.join(tmpdir(), 'boxoffice-faults-redis');

function run(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
    child.stdin?.end();
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The newest PostgreSQL major version Debian's packages installed (`/usr/lib/postgresql/<major>`). */
export function postgresVersion(): string {
  let versions: string[];
  try {
    versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
  } catch {
    versions = [];
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("no PostgreSQL under /usr/lib/postgresql: the fault suite needs Debian's postgresql packages (pg_createcluster)");
  return newest;
}

interface ClusterRow {
  version: string;
  name: string;
  port: number;
  status: string;
}

async function listClusters(): Promise<ClusterRow[]> {
  const out = await run('pg_lsclusters', ['--no-header']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4 && /^\d+$/.test(cols[0]!))
    .map(([version, name, port, status]) => ({ version: version!, name: name!, port: Number(port), status: status! }));
}

/** Drops clusters and kills Redis processes of earlier fault-suite runs whose process is gone (a crash, a kill -9). */
export async function removeLeftovers(): Promise<void> {
  for (const c of await listClusters().catch(() => [])) {
    const owner = clusterNamePattern.exec(c.name)?.[1];
    if (!owner || processAlive(Number(owner))) continue;
    console.log(`[faults] dropping leftover PostgreSQL cluster ${c.version}/${c.name} (owner ${owner} is gone)`);
    await run('pg_dropcluster', [c.version, c.name, '--stop']).catch((e: unknown) => console.warn(String(e)));
  }
  let files: string[] = [];
  try {
    files = readdirSync(redisPidDir);
  } catch {
    return;
  }
  for (const file of files) {
    const match = /^(\d+)-(\d+)\.pid$/.exec(file);
    if (!match || processAlive(Number(match[1]))) continue;
    const pid = Number(readFileSync(path.join(redisPidDir, file), 'utf8').trim());
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // Already gone.
    }
    if (comm.startsWith('redis-server')) {
      console.log(`[faults] killing leftover redis-server ${pid} (owner ${match[1]} is gone)`);
      process.kill(pid, 'SIGKILL');
    }
    rmSync(path.join(redisPidDir, file), { force: true });
  }
}

// ---- PostgreSQL -----------------------------------------------------------------------------------

export interface PgCluster {
  readonly version: string;
  readonly name: string;
  readonly port: number;
  /** The `postgres` database as the superuser, over TCP: a base URL for the harness. */
  readonly url: string;
  /** `pg_ctlcluster … stop -m fast`: disconnects every client and shuts down cleanly. */
  stop(): Promise<void>;
  /** `pg_ctlcluster … start`; returns once PostgreSQL accepts connections (pg_ctl waits). */
  start(): Promise<void>;
  /** `pg_dropcluster --stop`: removes the cluster and its files. Safe to call twice. */
  drop(): Promise<void>;
}

const ownClusters = new Set<string>();

async function canConnect(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  await client.end();
}

/** Creates and starts a PostgreSQL cluster of its own on a spare port, trusting local connections. */
export async function createPgCluster(): Promise<PgCluster> {
  const version = postgresVersion();
  const name = `${CLUSTER_PREFIX}${process.pid}x${randomBytes(4).toString('hex')}`;
  const [port] = await freePorts(1);
  const ctl = (action: string, ...extra: string[]) => run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action, ...extra]);
  // Small and quick: this cluster only ever holds one test database.
  await run('pg_createcluster', [version, name, '-p', String(port), '-o', 'max_connections=200', '-o', 'shared_buffers=32MB', '--', '--auth=trust']);
  ownClusters.add(name);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let dropped = false;
  const cluster: PgCluster = {
    version,
    name,
    port: port!,
    url,
    async stop() {
      await ctl('stop', '-m', 'fast');
    },
    async start() {
      await ctl('start');
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await run('pg_dropcluster', [version, name, '--stop']);
      ownClusters.delete(name);
    },
  };
  try {
    await cluster.start();
    await waitFor(() => canConnect(url), 20_000, 100);
  } catch (error) {
    await cluster.drop().catch(() => undefined);
    throw error;
  }
  return cluster;
}

// ---- Redis ----------------------------------------------------------------------------------------

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  /** SIGKILL: a crash, no save (there is nothing to save: no RDB, no AOF). */
  kill(): Promise<void>;
  /** Starts redis-server again on the same port (empty) and waits until it answers PING. */
  start(): Promise<void>;
  /** Kills it for good and removes its pid file. */
  stop(): Promise<void>;
  logs(): string;
}

const ownRedis = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of ownRedis) child.kill('SIGKILL');
});

/** Resolves when a Redis on `port` answers PING with PONG; rejects otherwise. */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(1_000, () => done(new Error('redis ping timed out')));
    socket.once('error', done);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') ? undefined : new Error(`redis answered ${answer.trim()}`));
    });
  });
}

/** Spawns `redis-server` (no persistence, bound to 127.0.0.1) on a spare port as a child of this process. */
export async function startRedis(): Promise<RedisProcess> {
  const port = (await freePorts(1))[0]!;
  mkdirSync(redisPidDir, { recursive: true });
  const pidFile = path.join(redisPidDir, `${process.pid}-${port}.pid`);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const spawnRedis = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    ownRedis.add(c);
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-16_000);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    exited = new Promise((resolve) =>
      c.once('exit', (code, signal) => {
        ownRedis.delete(c);
        output += `\n[redis exited: code ${code}, signal ${signal}]\n`;
        if (child === c) child = undefined;
        resolve();
      }),
    );
    if (c.pid) writeFileSync(pidFile, String(c.pid));
    await waitFor(
      async () => {
        if (!child) throw new Error(`redis-server on ${port} exited during start-up:\n${output}`);
        await ping(port);
      },
      10_000,
      25,
    );
  };

  const kill = async () => {
    if (!child) return;
    child.kill('SIGKILL');
    await exited;
  };

  await spawnRedis();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    kill,
    async start() {
      if (child) throw new Error(`redis-server on ${port} is still running`);
      await spawnRedis();
    },
    async stop() {
      await kill();
      rmSync(pidFile, { force: true });
    },
    logs: () => output,
  };
}

// ---- the stage: three instances on a PostgreSQL and a Redis of their own ----------------------------

export interface FaultStage {
  pg: PgCluster;
  redis: RedisProcess;
  cluster: Cluster;
}

/**
 * Timings short enough for a test. The probes come from one address, so the limits are far above
 * what they send, but on: every request still counts in Redis, so an outage is met by the limits too.
 */
export const faultEnv: Record<string, string> = {
  QUEUE_TICK_MS: '100',
  QUEUE_ACTIVE_TTL_SECONDS: '60',
  QUEUE_WAITING_IDLE_SECONDS: '60',
  RESERVATION_HOLD_SECONDS: '60',
  RATE_LIMIT_PER_MINUTE: '1000000000',
  RATE_LIMIT_JOIN_PER_MINUTE: '1000000000',
  RATE_LIMIT_HOLD_PER_MINUTE: '1000000000',
};

/** A throwaway PostgreSQL cluster, a throwaway Redis, and three instances on them. */
export async function startFaultStage(env: Record<string, string>): Promise<FaultStage> {
  await removeLeftovers();
  const pgCluster = await createPgCluster();
  let redis: RedisProcess | undefined;
  try {
    redis = await startRedis();
    const cluster = await startCluster({ pgUrl: pgCluster.url, redisUrl: redis.url, env: { ...faultEnv, ...env } });
    return { pg: pgCluster, redis, cluster };
  } catch (error) {
    await redis?.stop().catch(() => undefined);
    await pgCluster.drop().catch(() => undefined);
    throw error;
  }
}

function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Removes everything a stage started, whatever state a failed test left it in: brings the dependencies
 * back so the harness can clean up after itself, stops the instances, drops the cluster, kills Redis.
 */
export async function stopFaultStage(stage: Partial<FaultStage>): Promise<void> {
  const errors: unknown[] = [];
  const attempt = async (what: string, step: () => Promise<unknown>, ms = 30_000) => {
    try {
      await withTimeout(what, step(), ms);
    } catch (error) {
      errors.push(error);
    }
  };
  if (stage.redis && !stage.redis.running) await attempt('restarting redis for clean-up', () => stage.redis!.start());
  if (stage.pg) await attempt('restarting PostgreSQL for clean-up', () => stage.pg!.start().catch(() => undefined));
  if (stage.cluster) await attempt('stopping the instances', () => stage.cluster!.stop());
  if (stage.pg) await attempt(`dropping cluster ${stage.pg.name}`, () => stage.pg!.drop());
  if (stage.redis) await attempt('stopping redis', () => stage.redis!.stop());
  if (errors.length > 0) throw new AggregateError(errors, `fault stage clean-up failed: ${errors.map(String).join('; ')}`);
}

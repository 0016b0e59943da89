// Runs boxoffice as one worker per core on one machine with Node's cluster module. It owns only the
// workers' lives (fork, restart on crash, forward shutdown); each worker is the ordinary server.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { type Config, ConfigError, loadConfig } from './config.js';

/** A worker that dies sooner than this after its start is probably failing at start-up: wait before the next. */
const CRASH_LOOP_MS = 5_000;
const RESTART_DELAY_MS = 1_000;

function refuse(message: string): never {
  console.error(`boxoffice cluster: ${message}`);
  process.exit(1);
}

function workerCount(): number {
  // WEB_CONCURRENCY is the usual platform hint for the process count; it is about this launcher, not the app.
  const raw = process.env['WEB_CONCURRENCY']?.trim();
  if (!raw) return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) refuse(`WEB_CONCURRENCY must be an integer from 1 to 256, got "${raw}"`);
  return n;
}

function runPrimary(): void {
  // Workers are separate processes: the line must be in Redis and the data in a server all can reach.
  // Checked before loadConfig, which in embedded mode would create a secret under DATA_DIR on the way.
  if (!process.env['REDIS_URL']?.trim()) refuse('REDIS_URL is required: the in-process queue is correct for a single process only');
  if (!process.env['DATABASE_URL']?.trim()) refuse('DATABASE_URL is required: the embedded database cannot be shared between processes');
  let config: Readonly<Config>;
  try {
    // Fails once, here, with the variable's name, rather than in every worker.
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) refuse(err.message);
    throw err;
  }

  const count = workerCount();
  // Every worker has its own pool: unless told otherwise, share a budget of 40 connections among them
  // rather than opening the single-process default in each (16 cores x 10 would pass PostgreSQL's 100).
  if (!process.env['DATABASE_POOL_MAX']?.trim()) process.env['DATABASE_POOL_MAX'] = String(Math.max(2, Math.floor(40 / count)));
  const startedAt = new Map<Worker, number>();
  let shuttingDown = false;

  const fork = () => startedAt.set(cluster.fork(), Date.now());

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (shuttingDown) {
      if (startedAt.size === 0) process.exit(0);
      return;
    }
    console.error(`boxoffice cluster: worker ${worker.process.pid} died (${signal ?? `code ${code}`}); starting another`);
    if (lived < CRASH_LOOP_MS) setTimeout(fork, RESTART_DELAY_MS);
    else fork();
  });

  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (startedAt.size === 0) process.exit(0);
    // Each worker closes gracefully on the signal (src/server.ts) and forces itself out after 10 s.
    for (const worker of startedAt.keys()) worker.process.kill(signal);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  console.log(`boxoffice cluster: primary ${process.pid} starting ${count} workers on port ${config.port}`);
  for (let i = 0; i < count; i++) fork();
}

if (cluster.isPrimary) {
  runPrimary();
} else {
  await import('./server.js');
}

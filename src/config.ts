// Reads the environment once, validates it and returns one frozen Config. Nothing else reads process.env.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  /** A postgres:// URL, or undefined for the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** Most connections this process opens to PostgreSQL. */
  databasePoolMax: number;
  /** Where PGlite keeps its files; 'memory://' keeps nothing. */
  dataDir: string;
  /** A redis:// URL, or undefined for the in-process queue. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  redisPrefix: string;
  adminKey: string | undefined;
  tokenSecret: string;
  queue: {
    activeLimit: number;
    activeTtlSeconds: number;
    waitingIdleSeconds: number;
    /** How often each instance runs admission and expiry. */
    tickMs: number;
  };
  reservation: {
    holdSeconds: number;
    /** How often lapsed holds are swept back into the date's count. */
    sweepMs: number;
  };
  seedDemo: boolean;
  logLevel: string;
  /** Pretty, per-request logs for people; production keeps request logs off the hot path. */
  production: boolean;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function readString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function readNumber(env: Env, name: string, fallback: number, min: number, max: number, integer = true): number {
  const raw = readString(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new ConfigError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = readString(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function readUrl(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = readString(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got something else`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.join(' or ')}`);
  }
  return raw;
}

/** A secret generated once and kept beside the embedded database, so restarts keep tokens valid. */
function readOrCreateSecret(dataDir: string, fileName: string): string {
  const generated = randomBytes(32).toString('base64url');
  if (dataDir.startsWith('memory://')) return generated;
  const file = path.join(dataDir, fileName);
  let kept = '';
  try {
    kept = readFileSync(file, 'utf8').trim();
  } catch {
    // Not there yet: made below.
  }
  // An empty file (a crash while writing it, a hand edit) must not become an empty secret or key.
  if (kept) return kept;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, generated + '\n', { mode: 0o600 });
  return generated;
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const databaseUrl = readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const embedded = databaseUrl === undefined;
  const dataDir = readString(env, 'DATA_DIR') ?? './data';
  const seedDemo = readBoolean(env, 'SEED_DEMO', embedded);

  let tokenSecret = readString(env, 'TOKEN_SECRET');
  if (tokenSecret === undefined) {
    if (!embedded) throw new ConfigError('TOKEN_SECRET is required when DATABASE_URL is set (every instance must share it)');
    tokenSecret = readOrCreateSecret(dataDir, 'token-secret');
  }
  if (tokenSecret.length < 16) throw new ConfigError('TOKEN_SECRET must be at least 16 characters');

  // The embedded demo gets an operator key of its own so the admin API can be tried at once.
  let adminKey = readString(env, 'ADMIN_KEY');
  if (adminKey === undefined && embedded && seedDemo) adminKey = readOrCreateSecret(dataDir, 'admin-key');

  const nodeEnv = readString(env, 'NODE_ENV') ?? 'development';
  return Object.freeze({
    port: readNumber(env, 'PORT', 3000, 0, 65535),
    host: readString(env, 'HOST') ?? '127.0.0.1',
    databaseUrl,
    databasePoolMax: readNumber(env, 'DATABASE_POOL_MAX', 10, 1, 1_000),
    dataDir,
    redisUrl: readUrl(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: readString(env, 'REDIS_PREFIX') ?? 'boxoffice:',
    adminKey,
    tokenSecret,
    queue: Object.freeze({
      activeLimit: readNumber(env, 'QUEUE_ACTIVE_LIMIT', 100, 0, 1_000_000),
      activeTtlSeconds: readNumber(env, 'QUEUE_ACTIVE_TTL_SECONDS', 600, 0.1, 86_400, false),
      waitingIdleSeconds: readNumber(env, 'QUEUE_WAITING_IDLE_SECONDS', 60, 0.1, 86_400, false),
      tickMs: readNumber(env, 'QUEUE_TICK_MS', 250, 10, 2_000),
    }),
    reservation: Object.freeze({
      holdSeconds: readNumber(env, 'RESERVATION_HOLD_SECONDS', 300, 0.1, 86_400, false),
      sweepMs: readNumber(env, 'RESERVATION_SWEEP_MS', 1_000, 10, 60_000),
    }),
    seedDemo,
    logLevel: readString(env, 'LOG_LEVEL') ?? 'info',
    production: nodeEnv === 'production',
  });
}

/** A complete config for tests and tools, with short timings and an in-memory database. */
export function testConfig(overrides: Partial<Omit<Config, 'queue' | 'reservation'>> & {
  queue?: Partial<Config['queue']>;
  reservation?: Partial<Config['reservation']>;
} = {}): Readonly<Config> {
  const { queue, reservation, ...rest } = overrides;
  return Object.freeze({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: undefined,
    databasePoolMax: 10,
    dataDir: 'memory://',
    redisUrl: undefined,
    redisPrefix: 'boxoffice:',
    adminKey: 'test-admin-key',
    tokenSecret: 'test-secret-0123456789abcdef',
    seedDemo: false,
    logLevel: 'silent',
    production: false,
    ...rest,
    queue: { activeLimit: 100, activeTtlSeconds: 600, waitingIdleSeconds: 60, tickMs: 50, ...queue },
    reservation: { holdSeconds: 300, sweepMs: 100, ...reservation },
  });
}

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
  /**
   * DATABASE_URL is a pooler in transaction mode (PgBouncer `pool_mode = transaction`): the connection's
   * timeouts are set per transaction (SET LOCAL) instead of when it opens, which such a pooler refuses.
   */
  databaseTransactionPooling: boolean;
  /** Where PGlite keeps its files; 'memory://' keeps nothing. */
  dataDir: string;
  /** A redis:// URL, or undefined for the in-process queue; with `redisCluster`, comma-separated seed nodes. */
  redisUrl: string | undefined;
  /** REDIS_URL names nodes of a Redis Cluster: every client the app makes is a cluster client. */
  redisCluster: boolean;
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  redisPrefix: string;
  adminKey: string | undefined;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsKey>`; unset, it is open. */
  metricsKey: string | undefined;
  tokenSecret: string;
  queue: {
    activeLimit: number;
    activeTtlSeconds: number;
    waitingIdleSeconds: number;
    /** How often each instance runs admission and expiry. */
    tickMs: number;
    /** How often each instance adds to the lines' history (the operator's charts): its bucket. */
    historySeconds: number;
    /** Most Server-Sent Event streams one instance holds open; past it, 503 and the client polls. */
    maxStreams: number;
  };
  reservation: {
    holdSeconds: number;
    /** How often lapsed holds are swept back into the date's count. */
    sweepMs: number;
  };
  /** Who may take a user's place: a user assertion (JWT) checked with a shared secret or a JWKS URL. */
  userAuth: {
    /** HS256 secret of the ticket seller's site. */
    secret: string | undefined;
    /** JWKS document of the seller's identity provider. */
    jwksUrl: string | undefined;
    /** Required `aud` of an assertion, when set. */
    audience: string | undefined;
  };
  /** 'pow': token issue needs a solved ALTCHA challenge. */
  botCheck: {
    mode: 'off' | 'pow';
    /** ALTCHA's maxnumber: the solver tries half of it on average. */
    cost: number;
    /** How long a challenge may be solved and used. */
    expiresSeconds: number;
  };
  /** Take the client address from the first hop of X-Forwarded-For. */
  trustProxy: boolean;
  /** Requests per minute; 0 switches a limit off. */
  rateLimits: {
    /** Per client address, on token issue. */
    joinPerMinute: number;
    /** Per queue token, on seat holds. */
    holdPerMinute: number;
    /** Per client address, on everything but queue polls and streams. */
    perMinute: number;
  };
  seedDemo: boolean;
  logLevel: string;
  /** Pretty, per-request logs for people; production keeps request logs off the hot path. */
  production: boolean;
  /** Serve the pages from web/ through Vite's dev server, with hot reload (`npm run dev`). */
  webDev: boolean;
}

export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** ALTCHA's maxnumber by default: about half a second of solving in a phone's browser. */
export const DEFAULT_BOT_CHECK_COST = 10_000;

/** Every rate limit off: for tests and tools that drive many fans from one address. */
export const NO_RATE_LIMITS: Config['rateLimits'] = Object.freeze({ joinPerMinute: 0, holdPerMinute: 0, perMinute: 0 });

type Env = Record<string, string | undefined>;

function readString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * The default cap of open streams: each is a socket, so the process's open-file limit (less a reserve
 * for everything else: database and Redis connections, polls, files) bounds how many it can hold.
 * Where the limit cannot be read (not Linux), 10,000.
 */
export function defaultMaxStreams(limitsText: string | undefined): number {
  const soft = limitsText ? /^Max open files\s+(\d+)/m.exec(limitsText)?.[1] : undefined;
  if (!soft) return 10_000;
  const limit = Number(soft);
  return Math.max(100, limit - Math.max(1_000, Math.ceil(limit / 10)));
}

/** This process's limits as Linux shows them (undefined elsewhere), for the open-file limit. */
export function readOpenFileLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
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

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function readLogLevel(env: Env): string {
  const level = readString(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level;
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

/**
 * REDIS_URL: one redis:// URL, or with REDIS_CLUSTER a comma-separated list of a cluster's seed nodes
 * (any of them answers with the whole cluster's layout; several survive one being down at start-up).
 */
function readRedisUrl(env: Env, cluster: boolean): string | undefined {
  const raw = readString(env, 'REDIS_URL');
  if (raw === undefined) {
    if (cluster)
      throw new ConfigError("REDIS_URL is required when REDIS_CLUSTER is true: one or more redis:// URLs of the cluster's nodes, separated by commas");
    return undefined;
  }
  const seeds = raw.split(',').map((seed) => seed.trim());
  if (seeds.length > 1 && !cluster) {
    throw new ConfigError("REDIS_CLUSTER must be true when REDIS_URL lists several URLs: a list is a Redis Cluster's seed nodes");
  }
  for (const seed of seeds) {
    if (seed === '') throw new ConfigError('REDIS_URL has an empty entry between its commas');
    readUrl({ REDIS_URL: seed }, 'REDIS_URL', ['redis:', 'rediss:']);
  }
  return seeds.join(',');
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
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, generated + '\n', { mode: 0o600 });
  } catch (err) {
    throw new ConfigError(`DATA_DIR "${dataDir}" is not a writable directory (${(err as Error).message}); point DATA_DIR at one`, { cause: err });
  }
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
  // The key guards every operator action: a short one is guessed, so the service refuses to start.
  if (adminKey !== undefined && adminKey.length < 16) {
    throw new ConfigError(`ADMIN_KEY must be at least 16 characters (got ${adminKey.length}); choose a longer operator key`);
  }

  const userAuthSecret = readString(env, 'USER_AUTH_SECRET');
  if (userAuthSecret !== undefined && userAuthSecret.length < 32) {
    throw new ConfigError('USER_AUTH_SECRET must be at least 32 characters (an HS256 key of 256 bits)');
  }
  const jwksUrl = readUrl(env, 'USER_AUTH_JWKS_URL', ['https:', 'http:']);
  if (userAuthSecret !== undefined && jwksUrl !== undefined) {
    throw new ConfigError('set USER_AUTH_SECRET or USER_AUTH_JWKS_URL, not both');
  }
  const botCheck = readString(env, 'BOT_CHECK')?.toLowerCase() ?? 'off';
  if (botCheck !== 'off' && botCheck !== 'pow') throw new ConfigError(`BOT_CHECK must be off or pow, got "${botCheck}"`);

  const nodeEnv = readString(env, 'NODE_ENV') ?? 'development';
  const redisCluster = readBoolean(env, 'REDIS_CLUSTER', false);
  return Object.freeze({
    port: readNumber(env, 'PORT', 3000, 0, 65535),
    host: readString(env, 'HOST') ?? '127.0.0.1',
    databaseUrl,
    databasePoolMax: readNumber(env, 'DATABASE_POOL_MAX', 10, 1, 1_000),
    databaseTransactionPooling: readBoolean(env, 'DATABASE_TRANSACTION_POOLING', false),
    dataDir,
    redisUrl: readRedisUrl(env, redisCluster),
    redisCluster,
    redisPrefix: readString(env, 'REDIS_PREFIX') ?? 'boxoffice:',
    adminKey,
    metricsKey: readString(env, 'METRICS_KEY'),
    tokenSecret,
    queue: Object.freeze({
      activeLimit: readNumber(env, 'QUEUE_ACTIVE_LIMIT', 100, 0, 1_000_000),
      activeTtlSeconds: readNumber(env, 'QUEUE_ACTIVE_TTL_SECONDS', 600, 0.1, 86_400, false),
      waitingIdleSeconds: readNumber(env, 'QUEUE_WAITING_IDLE_SECONDS', 60, 0.1, 86_400, false),
      tickMs: readNumber(env, 'QUEUE_TICK_MS', 250, 10, 2_000),
      historySeconds: readNumber(env, 'QUEUE_HISTORY_SECONDS', 10, 1, 3_600),
      maxStreams: readNumber(env, 'SSE_MAX_STREAMS', defaultMaxStreams(readOpenFileLimits()), 1, 10_000_000),
    }),
    reservation: Object.freeze({
      holdSeconds: readNumber(env, 'RESERVATION_HOLD_SECONDS', 300, 0.1, 86_400, false),
      sweepMs: readNumber(env, 'RESERVATION_SWEEP_MS', 1_000, 10, 60_000),
    }),
    userAuth: Object.freeze({ secret: userAuthSecret, jwksUrl, audience: readString(env, 'USER_AUTH_AUDIENCE') }),
    botCheck: Object.freeze({
      mode: botCheck,
      cost: readNumber(env, 'BOT_CHECK_COST', DEFAULT_BOT_CHECK_COST, 1_000, 100_000_000),
      expiresSeconds: readNumber(env, 'BOT_CHECK_EXPIRES_SECONDS', 300, 10, 3_600),
    }),
    trustProxy: readBoolean(env, 'TRUST_PROXY', false),
    rateLimits: Object.freeze({
      joinPerMinute: readNumber(env, 'RATE_LIMIT_JOIN_PER_MINUTE', 30, 0, 1_000_000_000),
      holdPerMinute: readNumber(env, 'RATE_LIMIT_HOLD_PER_MINUTE', 60, 0, 1_000_000_000),
      perMinute: readNumber(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000_000),
    }),
    seedDemo,
    logLevel: readLogLevel(env),
    production: nodeEnv === 'production',
    webDev: readBoolean(env, 'WEB_DEV', false),
  });
}

/** A complete config for tests and tools, with short timings and an in-memory database. */
export function testConfig(
  overrides: Partial<Omit<Config, 'queue' | 'reservation' | 'rateLimits' | 'botCheck'>> & {
    queue?: Partial<Config['queue']>;
    reservation?: Partial<Config['reservation']>;
    rateLimits?: Partial<Config['rateLimits']>;
    botCheck?: Partial<Config['botCheck']>;
  } = {},
): Readonly<Config> {
  const { queue, reservation, rateLimits, botCheck, ...rest } = overrides;
  return Object.freeze({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: undefined,
    databasePoolMax: 10,
    databaseTransactionPooling: false,
    dataDir: 'memory://',
    redisUrl: undefined,
    redisCluster: false,
    redisPrefix: 'boxoffice:',
    adminKey: 'test-admin-key-0123456789',
    metricsKey: undefined,
    tokenSecret: 'test-secret-0123456789abcdef',
    userAuth: { secret: undefined, jwksUrl: undefined, audience: undefined },
    trustProxy: false,
    seedDemo: false,
    logLevel: 'silent',
    production: false,
    webDev: false,
    ...rest,
    botCheck: { mode: 'off' as const, cost: 1_000, expiresSeconds: 300, ...botCheck },
    // Tests drive many fans from one address: limits are on only where a test asks for them.
    rateLimits: { ...NO_RATE_LIMITS, ...rateLimits },
    queue: { activeLimit: 100, activeTtlSeconds: 600, waitingIdleSeconds: 60, tickMs: 50, historySeconds: 10, maxStreams: 10_000, ...queue },
    reservation: { holdSeconds: 300, sweepMs: 100, ...reservation },
  });
}

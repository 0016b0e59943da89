// loadConfig, variable by variable: the default when unset (in embedded and server mode where it
// differs), a valid value taken, and every refusal a ConfigError that names the variable.
// A unit test: no app, no database. Embedded mode writes secrets into DATA_DIR, so those tests get a
// fresh temporary directory each, or DATA_DIR=memory://, which keeps nothing.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, defaultMaxStreams, loadConfig, readOpenFileLimits, type Config } from '../src/config.js';

type Env = Record<string, string | undefined>;

/** Every variable loadConfig reads. */
const VARIABLES = [
  'PORT',
  'HOST',
  'DATABASE_URL',
  'DATABASE_POOL_MAX',
  'DATABASE_TRANSACTION_POOLING',
  'DATA_DIR',
  'REDIS_URL',
  'REDIS_CLUSTER',
  'REDIS_PREFIX',
  'ADMIN_KEY',
  'TOKEN_SECRET',
  'QUEUE_ACTIVE_LIMIT',
  'QUEUE_ACTIVE_TTL_SECONDS',
  'QUEUE_WAITING_IDLE_SECONDS',
  'QUEUE_TICK_MS',
  'QUEUE_HISTORY_SECONDS',
  'SSE_MAX_STREAMS',
  'RESERVATION_HOLD_SECONDS',
  'RESERVATION_SWEEP_MS',
  'SEED_DEMO',
  'LOG_LEVEL',
  'NODE_ENV',
  'USER_AUTH_SECRET',
  'USER_AUTH_JWKS_URL',
  'USER_AUTH_AUDIENCE',
  'BOT_CHECK',
  'BOT_CHECK_COST',
  'BOT_CHECK_EXPIRES_SECONDS',
  'TRUST_PROXY',
  'RATE_LIMIT_JOIN_PER_MINUTE',
  'RATE_LIMIT_HOLD_PER_MINUTE',
  'RATE_LIMIT_PER_MINUTE',
  'METRICS_KEY',
  'WEB_DEV',
] as const;

const SECRET = 'a-shared-secret-of-32-characters';
const DATABASE_URL = 'postgres://boxoffice@127.0.0.1:5432/boxoffice';

/** Embedded mode (no DATABASE_URL) that writes nothing anywhere. */
const EMBEDDED: Env = { DATA_DIR: 'memory://' };
/** Server mode: a PostgreSQL URL and the token secret it requires. */
const SERVER: Env = { DATABASE_URL, TOKEN_SECRET: SECRET };
/** [title, base env] rows for it.each: strings in %s titles print without quotes. */
const MODES: [string, Env][] = [
  ['embedded mode', EMBEDDED],
  ['server mode', SERVER],
];

const dirs: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh, empty directory, removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'boxoffice-config-'));
  dirs.push(dir);
  return dir;
}

/** it.each rows led by a plain-text title, since %s prints a string without quotes (and $field quotes it). */
function titled<T>(rows: T[], title: (row: T) => string): [string, T][] {
  return rows.map((row) => [title(row), row]);
}

/** The ConfigError loadConfig throws for env; fails the test if it throws nothing or something else. */
function refusal(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected loadConfig to refuse ${JSON.stringify(env)}`);
}

/** Asserts that env is refused with a message that starts with the variable's name. */
function expectRefused(env: Env, name: string): ConfigError {
  const err = refusal(env);
  expect(err.message).toMatch(new RegExp(`^${name} `));
  return err;
}

describe('loadConfig in general', () => {
  it('reads only the env object it is given, not process.env', () => {
    vi.stubEnv('PORT', '4321');
    vi.stubEnv('LOG_LEVEL', 'debug');
    const config = loadConfig({ ...EMBEDDED });
    expect(config.port).toBe(3000);
    expect(config.logLevel).toBe('info');
  });

  it('reads process.env when given no env object', () => {
    for (const name of VARIABLES) vi.stubEnv(name, '');
    vi.stubEnv('DATA_DIR', 'memory://');
    vi.stubEnv('PORT', '4321');
    expect(loadConfig().port).toBe(4321);
  });

  it.each(MODES)('returns a frozen config, its queue and reservation groups included, in %s', (_, base) => {
    const config = loadConfig({ ...base });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.queue)).toBe(true);
    expect(Object.isFrozen(config.reservation)).toBe(true);
  });

  it.each(MODES)('treats a blank value as unset in %s', (_, base) => {
    const blanks: Env = {};
    for (const name of VARIABLES) if (!(name in base)) blanks[name] = '   ';
    const config = loadConfig({ ...base, ...blanks });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databasePoolMax: 10,
      redisUrl: undefined,
      redisPrefix: 'boxoffice:',
      queue: { activeLimit: 100, activeTtlSeconds: 600, waitingIdleSeconds: 60, tickMs: 250 },
      reservation: { holdSeconds: 300, sweepMs: 1000 },
      logLevel: 'info',
      production: false,
    });
  });

  it('trims the whitespace around a value', () => {
    const config = loadConfig({ ...EMBEDDED, PORT: ' 8080 ', HOST: ' 0.0.0.0 ', TOKEN_SECRET: `  ${SECRET}\n`, ADMIN_KEY: ' operator-key-0123456789 ' });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.tokenSecret).toBe(SECRET);
    expect(config.adminKey).toBe('operator-key-0123456789');
  });
});

describe('defaults when nothing is set', () => {
  it('in embedded mode: the embedded database, the in-process queue, demo data and a generated secret and admin key', () => {
    const config = loadConfig({ ...EMBEDDED });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      databasePoolMax: 10,
      dataDir: 'memory://',
      redisUrl: undefined,
      redisPrefix: 'boxoffice:',
      queue: { activeLimit: 100, activeTtlSeconds: 600, waitingIdleSeconds: 60, tickMs: 250 },
      reservation: { holdSeconds: 300, sweepMs: 1000 },
      seedDemo: true,
      logLevel: 'info',
      production: false,
    });
    expect(config.tokenSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(config.adminKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('in server mode: no demo data and no admin key', () => {
    const config = loadConfig({ ...SERVER });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: DATABASE_URL,
      databasePoolMax: 10,
      dataDir: './data',
      redisUrl: undefined,
      redisPrefix: 'boxoffice:',
      adminKey: undefined,
      tokenSecret: SECRET,
      queue: { activeLimit: 100, activeTtlSeconds: 600, waitingIdleSeconds: 60, tickMs: 250 },
      reservation: { holdSeconds: 300, sweepMs: 1000 },
      seedDemo: false,
      logLevel: 'info',
      production: false,
    });
  });
});

// name, where it lands, default, bounds, and whether it must be an integer.
const NUMBERS: {
  name: string;
  read: (config: Readonly<Config>) => number;
  fallback: number;
  min: number;
  max: number;
  integer: boolean;
  valid: string;
}[] = [
  { name: 'PORT', read: (c) => c.port, fallback: 3000, min: 0, max: 65535, integer: true, valid: '8080' },
  { name: 'DATABASE_POOL_MAX', read: (c) => c.databasePoolMax, fallback: 10, min: 1, max: 1000, integer: true, valid: '25' },
  { name: 'QUEUE_ACTIVE_LIMIT', read: (c) => c.queue.activeLimit, fallback: 100, min: 0, max: 1_000_000, integer: true, valid: '5000' },
  { name: 'QUEUE_ACTIVE_TTL_SECONDS', read: (c) => c.queue.activeTtlSeconds, fallback: 600, min: 0.1, max: 86_400, integer: false, valid: '90.5' },
  { name: 'QUEUE_WAITING_IDLE_SECONDS', read: (c) => c.queue.waitingIdleSeconds, fallback: 60, min: 0.1, max: 86_400, integer: false, valid: '2.5' },
  { name: 'QUEUE_TICK_MS', read: (c) => c.queue.tickMs, fallback: 250, min: 10, max: 2000, integer: true, valid: '100' },
  { name: 'QUEUE_HISTORY_SECONDS', read: (c) => c.queue.historySeconds, fallback: 10, min: 1, max: 3600, integer: true, valid: '5' },
  {
    name: 'SSE_MAX_STREAMS',
    read: (c) => c.queue.maxStreams,
    fallback: defaultMaxStreams(readOpenFileLimits()),
    min: 1,
    max: 10_000_000,
    integer: true,
    valid: '500',
  },
  { name: 'RESERVATION_HOLD_SECONDS', read: (c) => c.reservation.holdSeconds, fallback: 300, min: 0.1, max: 86_400, integer: false, valid: '0.5' },
  { name: 'RESERVATION_SWEEP_MS', read: (c) => c.reservation.sweepMs, fallback: 1000, min: 10, max: 60_000, integer: true, valid: '500' },
];

/** A value just outside a bound: one below/above for integers, a tenth-ish for the fractional ones. */
function justBelow(min: number, integer: boolean): string {
  return String(integer ? min - 1 : min / 2);
}
function justAbove(max: number, integer: boolean): string {
  return String(integer ? max + 1 : max + 0.5);
}

const NUMBER_REFUSALS = NUMBERS.flatMap(({ name, min, max, integer, valid }) => [
  { name, min, max, integer, why: `below ${min}`, raw: justBelow(min, integer) },
  { name, min, max, integer, why: `above ${max}`, raw: justAbove(max, integer) },
  { name, min, max, integer, why: 'that is not a number', raw: 'lots' },
  { name, min, max, integer, why: 'with a unit after the number', raw: `${valid}${name.endsWith('_MS') ? 'ms' : 's'}` },
  { name, min, max, integer, why: 'that is infinite', raw: 'Infinity' },
  ...(integer ? [{ name, min, max, integer, why: 'that is not an integer', raw: `${valid}.5` }] : []),
]);

function refusalTitle({ name, why, raw }: { name: string; why: string; raw: string }): string {
  return `${name} ${why} ("${raw}")`;
}

describe('numeric variables', () => {
  describe.each(MODES)('in %s', (_, base) => {
    it.each(titled(NUMBERS, (n) => `${n.name} to ${n.fallback}`))('defaults %s', (_, { read, fallback }) => {
      expect(read(loadConfig({ ...base }))).toBe(fallback);
    });
  });

  it.each(titled(NUMBERS, (n) => `${n.name} (${n.valid})`))('takes a valid %s', (_, { name, read, valid }) => {
    expect(read(loadConfig({ ...EMBEDDED, [name]: valid }))).toBe(Number(valid));
  });

  it.each(titled(NUMBERS, (n) => `${n.name} at both ends of its range, ${n.min} and ${n.max}`))('takes %s', (_, { name, read, min, max }) => {
    expect(read(loadConfig({ ...EMBEDDED, [name]: String(min) }))).toBe(min);
    expect(read(loadConfig({ ...EMBEDDED, [name]: String(max) }))).toBe(max);
  });

  it.each(titled(NUMBER_REFUSALS, refusalTitle))('refuses %s, naming the variable and its range', (_, { name, raw, min, max, integer }) => {
    const err = expectRefused({ ...EMBEDDED, [name]: raw }, name);
    expect(err.message).toContain(`${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    expect(err.message).toContain(`"${raw}"`);
  });

  it.each(titled(NUMBER_REFUSALS, refusalTitle))('refuses %s in server mode too', (_, { name, raw }) => {
    expectRefused({ ...SERVER, [name]: raw }, name);
  });

  // What Number() accepts is taken as it is: exponent and hexadecimal notation pass (see the gaps).
  it('takes any notation Number() reads, such as 1e3 and 0x10', () => {
    const config = loadConfig({ ...EMBEDDED, QUEUE_TICK_MS: '1e3', DATABASE_POOL_MAX: '0x10', PORT: '+8080' });
    expect(config.queue.tickMs).toBe(1000);
    expect(config.databasePoolMax).toBe(16);
    expect(config.port).toBe(8080);
  });
});

describe('HOST', () => {
  it.each(MODES)('defaults to 127.0.0.1 in %s', (_, base) => {
    expect(loadConfig({ ...base }).host).toBe('127.0.0.1');
  });

  it.each(['0.0.0.0', '::', 'boxoffice.internal'])('takes %s', (host) => {
    expect(loadConfig({ ...EMBEDDED, HOST: host }).host).toBe(host);
  });

  // Not validated: any string is taken, and a bad one fails only when the server listens (see the gaps).
  it('takes a value that is no host at all', () => {
    expect(loadConfig({ ...EMBEDDED, HOST: 'not a host!' }).host).toBe('not a host!');
  });
});

describe('DATABASE_URL', () => {
  it('is unset by default: embedded mode', () => {
    expect(loadConfig({ ...EMBEDDED }).databaseUrl).toBeUndefined();
  });

  it.each(['postgres://boxoffice@127.0.0.1:5432/boxoffice', 'postgresql://user:pass@db.internal/boxoffice?sslmode=require'])('takes %s as it is', (url) => {
    expect(loadConfig({ DATABASE_URL: url, TOKEN_SECRET: SECRET }).databaseUrl).toBe(url);
  });

  it.each(['mysql://boxoffice@127.0.0.1/boxoffice', 'http://127.0.0.1:5432/', 'redis://127.0.0.1:6379'])(
    'refuses the wrong scheme in %s, naming the variable',
    (url) => {
      const err = expectRefused({ DATABASE_URL: url, TOKEN_SECRET: SECRET }, 'DATABASE_URL');
      expect(err.message).toContain('postgres:');
    },
  );

  it.each(['127.0.0.1:5432/boxoffice', 'boxoffice', 'postgres://user@db:99999/boxoffice'])('refuses the malformed URL %s, naming the variable', (url) => {
    expectRefused({ DATABASE_URL: url, TOKEN_SECRET: SECRET }, 'DATABASE_URL');
  });

  it('does not repeat a refused URL, which may hold a password', () => {
    expect(refusal({ DATABASE_URL: 'postgres://app:hunter2@db:99999/x', TOKEN_SECRET: SECRET }).message).not.toContain('hunter2');
    expect(refusal({ DATABASE_URL: 'mysql://app:hunter2@db/x', TOKEN_SECRET: SECRET }).message).not.toContain('hunter2');
  });

  // Only the scheme is checked: a URL with no host passes (see the gaps).
  it('takes a postgres URL without a host', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://', TOKEN_SECRET: SECRET }).databaseUrl).toBe('postgres://');
  });
});

describe('REDIS_URL', () => {
  it.each(MODES)('is unset by default in %s: the in-process queue', (_, base) => {
    expect(loadConfig({ ...base }).redisUrl).toBeUndefined();
  });

  it.each(['redis://127.0.0.1:6379', 'rediss://user:pass@cache.internal:6380/2'])('takes %s as it is', (url) => {
    expect(loadConfig({ ...SERVER, REDIS_URL: url }).redisUrl).toBe(url);
  });

  it.each(['http://127.0.0.1:6379', 'postgres://127.0.0.1:5432/boxoffice', 'valkey://127.0.0.1:6379'])(
    'refuses the wrong scheme in %s, naming the variable',
    (url) => {
      const err = expectRefused({ ...SERVER, REDIS_URL: url }, 'REDIS_URL');
      expect(err.message).toContain('redis:');
    },
  );

  it.each(['127.0.0.1:6379', 'localhost', 'redis://cache:70000'])('refuses the malformed URL %s, naming the variable', (url) => {
    expectRefused({ ...SERVER, REDIS_URL: url }, 'REDIS_URL');
  });

  it('is checked in embedded mode too', () => {
    expectRefused({ ...EMBEDDED, REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL');
  });
});

describe('REDIS_CLUSTER', () => {
  it.each(MODES)('is false by default in %s: REDIS_URL is one server', (_, base) => {
    expect(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).redisCluster).toBe(false);
  });

  it("takes a comma-separated list of a cluster's seed nodes", () => {
    const config = loadConfig({ ...SERVER, REDIS_CLUSTER: 'true', REDIS_URL: 'redis://127.0.0.1:7101, redis://127.0.0.1:7102' });
    expect(config.redisCluster).toBe(true);
    expect(config.redisUrl).toBe('redis://127.0.0.1:7101,redis://127.0.0.1:7102');
  });

  it('refuses a value that is not true or false, naming the variable', () => {
    expectRefused({ ...SERVER, REDIS_CLUSTER: 'maybe', REDIS_URL: 'redis://127.0.0.1:7101' }, 'REDIS_CLUSTER');
  });

  it('refuses to be set without REDIS_URL', () => {
    expectRefused({ ...SERVER, REDIS_CLUSTER: 'true' }, 'REDIS_URL');
  });

  it('refuses a list of URLs without REDIS_CLUSTER, and a bad seed in the list', () => {
    expectRefused({ ...SERVER, REDIS_URL: 'redis://127.0.0.1:7101,redis://127.0.0.1:7102' }, 'REDIS_CLUSTER');
    expectRefused({ ...SERVER, REDIS_CLUSTER: 'true', REDIS_URL: 'redis://127.0.0.1:7101,http://127.0.0.1:7102' }, 'REDIS_URL');
    expectRefused({ ...SERVER, REDIS_CLUSTER: 'true', REDIS_URL: 'redis://127.0.0.1:7101,,redis://127.0.0.1:7102' }, 'REDIS_URL');
  });
});

describe('REDIS_PREFIX', () => {
  it.each(MODES)('defaults to boxoffice: in %s', (_, base) => {
    expect(loadConfig({ ...base }).redisPrefix).toBe('boxoffice:');
  });

  it('takes a prefix of its own', () => {
    expect(loadConfig({ ...SERVER, REDIS_PREFIX: 'staging:run-42:' }).redisPrefix).toBe('staging:run-42:');
  });
});

describe('DATA_DIR', () => {
  it.each(MODES)('defaults to ./data in %s', (_, base) => {
    // With the secret and the key given, embedded mode has nothing to write into ./data.
    const env: Env = { ...base, TOKEN_SECRET: SECRET, ADMIN_KEY: 'operator-key-0123456789' };
    delete env['DATA_DIR'];
    expect(loadConfig(env).dataDir).toBe('./data');
  });

  it('takes a directory of its own', () => {
    const dir = tempDir();
    expect(loadConfig({ DATA_DIR: dir }).dataDir).toBe(dir);
  });

  it('takes memory:// and writes nothing for it', () => {
    // memory:// joined with a file name would be the relative path memory:/token-secret.
    const stray = path.resolve('memory:');
    const existedBefore = existsSync(stray);
    const first = loadConfig({ DATA_DIR: 'memory://' });
    const second = loadConfig({ DATA_DIR: 'memory://' });
    expect(first.dataDir).toBe('memory://');
    expect(existsSync(stray)).toBe(existedBefore);
    // Nothing kept: every load generates afresh.
    expect(second.tokenSecret).not.toBe(first.tokenSecret);
    expect(second.adminKey).not.toBe(first.adminKey);
  });

  it('creates a directory that does not exist yet', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    loadConfig({ DATA_DIR: dir });
    expect(readdirSync(dir).sort()).toEqual(['admin-key', 'token-secret']);
  });

  it('is not written to in server mode', () => {
    const dir = tempDir();
    const config = loadConfig({ ...SERVER, DATA_DIR: dir, SEED_DEMO: 'true' });
    expect(config.dataDir).toBe(dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a DATA_DIR that is a file with a ConfigError naming the variable', () => {
    const file = path.join(tempDir(), 'not-a-directory');
    writeFileSync(file, '');
    expect(() => loadConfig({ DATA_DIR: file })).toThrow(ConfigError);
    expect(() => loadConfig({ DATA_DIR: file })).toThrow(/^DATA_DIR ".*" is not a writable directory/);
  });
});

describe('TOKEN_SECRET', () => {
  it('is generated in embedded mode, written to DATA_DIR/token-secret readable by its owner only', () => {
    const dir = tempDir();
    const config = loadConfig({ DATA_DIR: dir });
    expect(config.tokenSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = path.join(dir, 'token-secret');
    expect(readFileSync(file, 'utf8')).toBe(`${config.tokenSecret}\n`);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is kept: a second load on the same DATA_DIR returns the same secret', () => {
    const dir = tempDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.tokenSecret).toBe(first.tokenSecret);
  });

  it('differs between two data directories', () => {
    expect(loadConfig({ DATA_DIR: tempDir() }).tokenSecret).not.toBe(loadConfig({ DATA_DIR: tempDir() }).tokenSecret);
  });

  it('reads a secret already kept in DATA_DIR, without its trailing newline', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'token-secret'), 'kept-secret-0123456789\n');
    expect(loadConfig({ DATA_DIR: dir }).tokenSecret).toBe('kept-secret-0123456789');
  });

  it('refuses a kept secret shorter than 16 characters, naming the variable', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'token-secret'), 'short\n');
    expectRefused({ DATA_DIR: dir }, 'TOKEN_SECRET');
  });

  it.each(MODES)('takes a given secret in %s', (_, base) => {
    expect(loadConfig({ ...base, TOKEN_SECRET: SECRET }).tokenSecret).toBe(SECRET);
  });

  it('takes a given secret in embedded mode over the kept one, and writes no token-secret file', () => {
    const dir = tempDir();
    expect(loadConfig({ DATA_DIR: dir, TOKEN_SECRET: SECRET }).tokenSecret).toBe(SECRET);
    expect(existsSync(path.join(dir, 'token-secret'))).toBe(false);
  });

  it.each([
    ['unset', undefined],
    ['blank', '   '],
  ])('refuses DATABASE_URL with TOKEN_SECRET %s, naming the variable', (_, secret) => {
    const err = expectRefused({ DATABASE_URL, TOKEN_SECRET: secret }, 'TOKEN_SECRET');
    expect(err.message).toContain('DATABASE_URL');
  });

  it.each(MODES)('refuses a TOKEN_SECRET shorter than 16 characters in %s, naming the variable', (_, base) => {
    const err = expectRefused({ ...base, TOKEN_SECRET: 'x'.repeat(15) }, 'TOKEN_SECRET');
    expect(err.message).toContain('16');
  });

  it('counts the length without the surrounding whitespace', () => {
    expectRefused({ ...SERVER, TOKEN_SECRET: `  ${'x'.repeat(15)}  ` }, 'TOKEN_SECRET');
  });

  it('takes a TOKEN_SECRET of exactly 16 characters', () => {
    expect(loadConfig({ ...SERVER, TOKEN_SECRET: 'x'.repeat(16) }).tokenSecret).toBe('x'.repeat(16));
  });
});

describe('ADMIN_KEY', () => {
  it('is generated in embedded mode with demo data, written to DATA_DIR/admin-key readable by its owner only', () => {
    const dir = tempDir();
    const config = loadConfig({ DATA_DIR: dir });
    expect(config.adminKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(config.adminKey).not.toBe(config.tokenSecret);
    const file = path.join(dir, 'admin-key');
    expect(readFileSync(file, 'utf8')).toBe(`${config.adminKey}\n`);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is kept: a second load on the same DATA_DIR returns the same key', () => {
    const dir = tempDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.adminKey).toBe(first.adminKey);
  });

  it('is unset in embedded mode without demo data, and no admin-key file is written', () => {
    const dir = tempDir();
    expect(loadConfig({ DATA_DIR: dir, SEED_DEMO: 'false' }).adminKey).toBeUndefined();
    expect(readdirSync(dir)).toEqual(['token-secret']);
  });

  it('is unset in server mode, even with demo data', () => {
    expect(loadConfig({ ...SERVER }).adminKey).toBeUndefined();
    expect(loadConfig({ ...SERVER, SEED_DEMO: 'true' }).adminKey).toBeUndefined();
  });

  it.each(MODES)('takes a given key in %s', (_, base) => {
    expect(loadConfig({ ...base, ADMIN_KEY: 'operator-key-0123456789' }).adminKey).toBe('operator-key-0123456789');
  });

  it('takes a given key in embedded mode over the kept one, and writes no admin-key file', () => {
    const dir = tempDir();
    expect(loadConfig({ DATA_DIR: dir, ADMIN_KEY: 'operator-key-0123456789' }).adminKey).toBe('operator-key-0123456789');
    expect(existsSync(path.join(dir, 'admin-key'))).toBe(false);
  });

  it.each(MODES)('refuses a key shorter than 16 characters in %s, naming the variable', (_, base) => {
    expect(() => loadConfig({ ...base, ADMIN_KEY: 'x'.repeat(15) })).toThrow(/^ADMIN_KEY must be at least 16 characters/);
    expect(loadConfig({ ...base, ADMIN_KEY: 'x'.repeat(16) }).adminKey).toBe('x'.repeat(16));
  });

  it('replaces an empty admin-key file in DATA_DIR with a new key rather than taking an empty one', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'admin-key'), '\n');
    const { adminKey } = loadConfig({ DATA_DIR: dir });
    expect(adminKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(loadConfig({ DATA_DIR: dir }).adminKey).toBe(adminKey);
  });
});

describe('SEED_DEMO', () => {
  it('defaults to true in embedded mode', () => {
    expect(loadConfig({ ...EMBEDDED }).seedDemo).toBe(true);
  });

  it('defaults to false in server mode', () => {
    expect(loadConfig({ ...SERVER }).seedDemo).toBe(false);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['TRUE', true],
    ['Yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
    ['OFF', false],
  ])('takes %s as %s', (raw, expected) => {
    expect(loadConfig({ ...EMBEDDED, SEED_DEMO: raw }).seedDemo).toBe(expected);
    expect(loadConfig({ ...SERVER, SEED_DEMO: raw }).seedDemo).toBe(expected);
  });

  it.each(['y', 'n', '2', 'enabled', 'truee', 'null'])('refuses %s, naming the variable', (raw) => {
    expectRefused({ ...EMBEDDED, SEED_DEMO: raw }, 'SEED_DEMO');
    expectRefused({ ...SERVER, SEED_DEMO: raw }, 'SEED_DEMO');
  });
});

describe('LOG_LEVEL', () => {
  it.each(MODES)('defaults to info in %s', (_, base) => {
    expect(loadConfig({ ...base }).logLevel).toBe('info');
  });

  it.each(['trace', 'debug', 'warn', 'error', 'fatal', 'silent'])('takes %s', (level) => {
    expect(loadConfig({ ...EMBEDDED, LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it('refuses a level pino does not know, naming the variable and the levels', () => {
    expect(() => loadConfig({ ...EMBEDDED, LOG_LEVEL: 'loud' })).toThrow(
      /^LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"/,
    );
  });
});

describe('NODE_ENV', () => {
  it.each(MODES)('defaults to development in %s: per-request logs on', (_, base) => {
    expect(loadConfig({ ...base }).production).toBe(false);
  });

  it('turns production on with production', () => {
    expect(loadConfig({ ...SERVER, NODE_ENV: 'production' }).production).toBe(true);
  });

  it.each(['development', 'test', 'staging'])('leaves production off with %s', (nodeEnv) => {
    expect(loadConfig({ ...SERVER, NODE_ENV: nodeEnv }).production).toBe(false);
  });

  // Matched exactly and never refused: a misspelt production quietly is development (see the gaps).
  it.each(['Production', 'prod'])('leaves production off with %s, without a refusal', (nodeEnv) => {
    expect(loadConfig({ ...SERVER, NODE_ENV: nodeEnv }).production).toBe(false);
  });
});

describe('USER_AUTH_SECRET, USER_AUTH_JWKS_URL, USER_AUTH_AUDIENCE', () => {
  it.each(MODES)('are unset by default in %s: any known user id may join', (_, base) => {
    expect(loadConfig({ ...base }).userAuth).toEqual({ secret: undefined, jwksUrl: undefined, audience: undefined });
  });

  it('takes a secret of 32 characters or more, and refuses a shorter one naming the variable', () => {
    expect(loadConfig({ ...SERVER, USER_AUTH_SECRET: 'x'.repeat(32) }).userAuth.secret).toBe('x'.repeat(32));
    expect(() => loadConfig({ ...SERVER, USER_AUTH_SECRET: 'x'.repeat(31) })).toThrow(/^USER_AUTH_SECRET must be at least 32 characters/);
  });

  it('takes an http(s) JWKS URL and an audience, and refuses another scheme', () => {
    const config = loadConfig({ ...SERVER, USER_AUTH_JWKS_URL: 'https://id.example.com/jwks.json', USER_AUTH_AUDIENCE: 'boxoffice' });
    expect(config.userAuth).toEqual({ secret: undefined, jwksUrl: 'https://id.example.com/jwks.json', audience: 'boxoffice' });
    expect(() => loadConfig({ ...SERVER, USER_AUTH_JWKS_URL: 'ftp://id.example.com/jwks.json' })).toThrow(/^USER_AUTH_JWKS_URL must start with/);
  });

  it('refuses both a secret and a JWKS URL', () => {
    expect(() => loadConfig({ ...SERVER, USER_AUTH_SECRET: 'x'.repeat(32), USER_AUTH_JWKS_URL: 'https://id.example.com/jwks.json' })).toThrow(
      /USER_AUTH_SECRET or USER_AUTH_JWKS_URL, not both/,
    );
  });
});

describe('BOT_CHECK, BOT_CHECK_COST, BOT_CHECK_EXPIRES_SECONDS', () => {
  it('is off by default, with a cost of 10,000 and challenges for 5 minutes', () => {
    expect(loadConfig({ ...EMBEDDED }).botCheck).toEqual({ mode: 'off', cost: 10_000, expiresSeconds: 300 });
  });

  it.each(['pow', 'POW', 'off'])('takes %s', (value) => {
    expect(loadConfig({ ...EMBEDDED, BOT_CHECK: value }).botCheck.mode).toBe(value.toLowerCase());
  });

  it('refuses another mode and a cost out of range, naming the variable', () => {
    expect(() => loadConfig({ ...EMBEDDED, BOT_CHECK: 'captcha' })).toThrow(/^BOT_CHECK must be off or pow/);
    expect(() => loadConfig({ ...EMBEDDED, BOT_CHECK_COST: '10' })).toThrow(/^BOT_CHECK_COST must be an integer/);
    expect(() => loadConfig({ ...EMBEDDED, BOT_CHECK_EXPIRES_SECONDS: '1' })).toThrow(/^BOT_CHECK_EXPIRES_SECONDS must be an integer/);
    expect(loadConfig({ ...EMBEDDED, BOT_CHECK_COST: '20000' }).botCheck.cost).toBe(20_000);
  });
});

describe('RATE_LIMIT_*_PER_MINUTE and TRUST_PROXY', () => {
  it.each(MODES)('default to the contract in %s: 30 joins, 60 holds, 600 requests a minute, no proxy trusted', (_, base) => {
    const config = loadConfig({ ...base });
    expect(config.rateLimits).toEqual({ joinPerMinute: 30, holdPerMinute: 60, perMinute: 600 });
    expect(config.trustProxy).toBe(false);
  });

  it('take 0 (off) and other counts, and refuse negative or fractional ones naming the variable', () => {
    const config = loadConfig({
      ...EMBEDDED,
      RATE_LIMIT_JOIN_PER_MINUTE: '0',
      RATE_LIMIT_HOLD_PER_MINUTE: '5',
      RATE_LIMIT_PER_MINUTE: '1000',
      TRUST_PROXY: 'true',
    });
    expect(config.rateLimits).toEqual({ joinPerMinute: 0, holdPerMinute: 5, perMinute: 1000 });
    expect(config.trustProxy).toBe(true);
    expect(() => loadConfig({ ...EMBEDDED, RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/^RATE_LIMIT_PER_MINUTE must be an integer/);
    expect(() => loadConfig({ ...EMBEDDED, RATE_LIMIT_HOLD_PER_MINUTE: '1.5' })).toThrow(/^RATE_LIMIT_HOLD_PER_MINUTE must be an integer/);
    expect(() => loadConfig({ ...EMBEDDED, TRUST_PROXY: 'maybe' })).toThrow(/^TRUST_PROXY must be true or false/);
  });
});

describe('METRICS_KEY', () => {
  it.each(MODES)('is unset by default in %s: /metrics is open', (_, base) => {
    expect(loadConfig({ ...base }).metricsKey).toBeUndefined();
  });

  it.each(MODES)('takes a key, trimmed, in %s', (_, base) => {
    expect(loadConfig({ ...base, METRICS_KEY: '  scrape-key-0123  ' }).metricsKey).toBe('scrape-key-0123');
  });

  it('treats a blank value as unset', () => {
    expect(loadConfig({ ...EMBEDDED, METRICS_KEY: '   ' }).metricsKey).toBeUndefined();
  });
});

describe('DATABASE_TRANSACTION_POOLING', () => {
  it('is off by default (DATABASE_URL is PostgreSQL itself), on with true (a pooler in transaction mode), and refuses anything else', () => {
    expect(loadConfig({ ...SERVER }).databaseTransactionPooling).toBe(false);
    expect(loadConfig({ ...SERVER, DATABASE_TRANSACTION_POOLING: 'true' }).databaseTransactionPooling).toBe(true);
    expect(() => loadConfig({ ...SERVER, DATABASE_TRANSACTION_POOLING: 'session' })).toThrow(/^DATABASE_TRANSACTION_POOLING must be true or false/);
  });
});

describe('WEB_DEV', () => {
  it('is off by default (the built pages), on with true (npm run dev), and refuses anything else', () => {
    expect(loadConfig({ ...EMBEDDED }).webDev).toBe(false);
    expect(loadConfig({ ...EMBEDDED, WEB_DEV: 'true' }).webDev).toBe(true);
    expect(() => loadConfig({ ...EMBEDDED, WEB_DEV: 'vite' })).toThrow(/^WEB_DEV must be true or false/);
  });
});

describe("SSE_MAX_STREAMS' default", () => {
  const limits = (soft: number) =>
    `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                ${soft * 2}                files\n`;
  it('leaves a tenth of the open-file limit, and at least 1,000 files, for everything else', () => {
    expect(defaultMaxStreams(limits(20_000))).toBe(18_000);
    expect(defaultMaxStreams(limits(1_048_576))).toBe(943_718);
    expect(defaultMaxStreams(limits(4_096))).toBe(3_096);
    expect(defaultMaxStreams(limits(1_024))).toBe(100);
  });
  it('is 10,000 where the limit cannot be read', () => {
    expect(defaultMaxStreams(undefined)).toBe(10_000);
    expect(defaultMaxStreams('no such line')).toBe(10_000);
  });
});

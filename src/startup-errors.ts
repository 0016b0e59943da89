// Start-up failures a newcomer or an operator can fix, each told in one line that names the setting
// to change: no stack trace for a busy port, a wrong HOST, an unusable DATA_DIR or an unreachable
// PostgreSQL or Redis.
import { ConfigError, type Config } from './config.js';

/** The innermost cause's first line: what actually went wrong, without the wrappers' words. */
function reason(error: unknown): string {
  let inner: unknown = error;
  for (let depth = 0; depth < 5 && inner instanceof Error && inner.cause instanceof Error; depth++) inner = inner.cause;
  const text = inner instanceof Error ? inner.message : String(inner);
  return text.split('\n')[0]!.trim().replace(/\.+$/, '') || 'unknown error';
}

/** A URL (or a comma-separated list of them) as it may be printed: no password. */
function shown(url: string): string {
  if (url.includes(',')) return url.split(',').map(shown).join(',');
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** The database could not be opened or migrated at start-up. */
export function databaseFailure(config: Pick<Config, 'databaseUrl' | 'dataDir'>, error: unknown): Error {
  if (error instanceof ConfigError) return error;
  if (config.databaseUrl) {
    return new ConfigError(
      `cannot use PostgreSQL at DATABASE_URL ${shown(config.databaseUrl)}: ${reason(error)}. Check that it runs and that the URL's host, port, user, password and database are right`,
      { cause: error },
    );
  }
  return new ConfigError(
    `DATA_DIR "${config.dataDir}" cannot hold the embedded database: ${reason(error)}. Point DATA_DIR at a writable directory of its own (or move a damaged one aside)`,
    { cause: error },
  );
}

/** Redis did not answer at start-up. */
export function redisFailure(config: Pick<Config, 'redisUrl'>, error: unknown): Error {
  if (error instanceof ConfigError) return error;
  return new ConfigError(`cannot reach Redis at REDIS_URL ${shown(config.redisUrl ?? '')}: ${reason(error)}. Check that it runs and that the URL is right`, {
    cause: error,
  });
}

/** The server could not listen where PORT and HOST say; undefined for anything else. */
export function listenFailure(config: Pick<Config, 'port' | 'host'>, error: unknown): ConfigError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const where = `${config.host}:${config.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`port ${config.port} on ${config.host} is already in use: stop what holds it, or set PORT to a free port`);
    case 'EACCES':
      return new ConfigError(`not allowed to listen on ${where}: set PORT to 1024 or above`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new ConfigError(
        `cannot listen on HOST "${config.host}": not an address of this machine. Set HOST to one (127.0.0.1, or 0.0.0.0 for every interface)`,
      );
    default:
      return undefined;
  }
}

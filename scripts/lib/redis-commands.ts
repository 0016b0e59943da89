// Counts the commands a Redis server runs over a window, from INFO commandstats before and after. Redis
// 7.0 keeps no per-client totals, so the counts are the whole server's: the service's own background
// work (its admission tick) and any other client of a shared Redis are in them too.
import { Redis } from 'ioredis';

export interface CommandCounts {
  /** Calls of every command but INFO (the counter's own). */
  total: number;
  /** Calls per command name as Redis spells it (`evalsha`, `get`, `client|setname`). */
  byCommand: Record<string, number>;
}

export interface RedisCommandCounter {
  /** The server's counts since it started (or since CONFIG RESETSTAT). */
  read(): Promise<CommandCounts>;
  close(): void;
}

/** `cmdstat_get:calls=12,usec=…` lines of INFO commandstats, as calls per command. */
export function parseCommandStats(info: string): CommandCounts {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (!match) continue;
    const [, name, calls] = match as unknown as [string, string, string];
    // The counter's INFO before and after would otherwise be counted as the service's.
    if (name === 'info') continue;
    byCommand[name] = Number(calls);
    total += Number(calls);
  }
  return { total, byCommand };
}

/** What ran between two readings; commands that did not run are left out. */
export function countsBetween(before: CommandCounts, after: CommandCounts): CommandCounts {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after.byCommand)) {
    const ran = calls - (before.byCommand[name] ?? 0);
    if (ran <= 0) continue;
    byCommand[name] = ran;
    total += ran;
  }
  // Most first, for a reader of the JSON.
  return { total, byCommand: Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1] - a[1])) };
}

export async function redisCommandCounter(url: string): Promise<RedisCommandCounter> {
  // One connection for the whole run: connecting again would add its own commands (HELLO, CLIENT …).
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableReadyCheck: false });
  await redis.connect();
  return {
    read: async () => parseCommandStats(await redis.info('commandstats')),
    close: () => redis.disconnect(),
  };
}

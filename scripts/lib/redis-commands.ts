// Counts the commands a Redis server runs over a window, from INFO commandstats before and after. Redis
// 7.0 keeps no per-client totals, so the counts are the whole server's: the service's own background
// work (its admission tick) and any other client of a shared Redis are in them too. Redis also counts
// each command a Lua script runs (redis.call) as well as the EVALSHA that ran it, so these are commands
// executed, not round trips; the service's own script round trips come from its /metrics instead.
import { Redis } from 'ioredis';

export interface CommandCounts {
  /** Calls of every command but INFO (the counter's own), scripts' inner commands included. */
  total: number;
  /** Calls per command name as Redis spells it (`evalsha`, `get`, `client|setname`). */
  byCommand: Record<string, number>;
  /** The service's queue-store script round trips by script (its boxoffice_redis_command_duration_seconds), summed over instances. */
  scripts: Record<string, number>;
}

export interface RedisCommandCounter {
  /** The counts since the server (and the service) started. */
  read(): Promise<CommandCounts>;
  close(): void;
}

/** `cmdstat_get:calls=12,usec=…` lines of INFO commandstats, as calls per command. */
export function parseCommandStats(info: string): Pick<CommandCounts, 'total' | 'byCommand'> {
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

/** `boxoffice_redis_command_duration_seconds_count{script="poll"} 12` lines of a scrape, added into `into`. */
export function addScriptCounts(metrics: string, into: Record<string, number>): void {
  for (const line of metrics.split('\n')) {
    const match = /^boxoffice_redis_command_duration_seconds_count\{[^}]*script="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (match) into[match[1]!] = (into[match[1]!] ?? 0) + Number(match[2]);
  }
}

function difference(before: Record<string, number>, after: Record<string, number>): { total: number; byName: Record<string, number> } {
  const byName: Record<string, number> = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after)) {
    const ran = calls - (before[name] ?? 0);
    if (ran <= 0) continue;
    byName[name] = ran;
    total += ran;
  }
  // Most first, for a reader of the JSON.
  return { total, byName: Object.fromEntries(Object.entries(byName).sort((a, b) => b[1] - a[1])) };
}

/** What ran between two readings; commands that did not run are left out. */
export function countsBetween(before: CommandCounts, after: CommandCounts): CommandCounts {
  const commands = difference(before.byCommand, after.byCommand);
  return { total: commands.total, byCommand: commands.byName, scripts: difference(before.scripts, after.scripts).byName };
}

/** `serviceUrls`: the instances whose /metrics count their script round trips (unauthenticated /metrics). */
export async function redisCommandCounter(url: string, serviceUrls: string[]): Promise<RedisCommandCounter> {
  // One connection for the whole run: connecting again would add its own commands (HELLO, CLIENT …).
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableReadyCheck: false });
  await redis.connect();
  return {
    read: async () => {
      const scripts: Record<string, number> = {};
      for (const serviceUrl of serviceUrls) {
        const res = await fetch(`${serviceUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
        if (res.ok) addScriptCounts(await res.text(), scripts);
      }
      return { ...parseCommandStats(await redis.info('commandstats')), scripts };
    },
    close: () => redis.disconnect(),
  };
}

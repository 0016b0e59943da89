// A change counter per concert, bumped after every commit that changes which of its seats are free
// (a hold, a sweep of lapsed holds). Listings read it before querying and keep their answer only
// while it is unchanged, so a cached list is never older than the last change, on any instance.
import { connectFailFast, type RedisClient, type RedisTarget } from '../redis/redis-client.js';

export interface ListingVersions {
  current(concertId: string): Promise<number>;
  bump(concertIds: Iterable<string>): Promise<void>;
  close(): Promise<void>;
}

export class MemoryListingVersions implements ListingVersions {
  private readonly versions = new Map<string, number>();

  async current(concertId: string): Promise<number> {
    return this.versions.get(concertId) ?? 0;
  }

  async bump(concertIds: Iterable<string>): Promise<void> {
    for (const id of concertIds) this.versions.set(id, (this.versions.get(id) ?? 0) + 1);
  }

  async close(): Promise<void> {}
}

/**
 * A counter that Redis lost (it came back empty) starts again from the current time in microseconds,
 * not from 0: a value a cache saw before the loss never comes round again (that would take over a
 * thousand changes of one concert per millisecond), so no stale listing can pass for current.
 */
const CURRENT = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`;
const BUMP = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('INCR', KEYS[1])
`;

function startValue(): string {
  return String(Date.now() * 1000);
}

/** Shared by every instance: one small string key per concert, `<prefix>listing:<concertId>`. */
export class RedisListingVersions implements ListingVersions {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {
    redis.defineCommand('listingCurrent', { numberOfKeys: 1, lua: CURRENT });
    redis.defineCommand('listingBump', { numberOfKeys: 1, lua: BUMP });
  }

  /** Resolves once connected: without an offline queue, a command sent before that would fail. */
  static async connect(target: RedisTarget, prefix: string, onError: (error: Error) => void): Promise<RedisListingVersions> {
    return new RedisListingVersions(await connectFailFast(target, onError), prefix, onError);
  }

  private key(concertId: string): string {
    return `${this.prefix}listing:${concertId}`;
  }

  private get commands(): RedisClient & {
    listingCurrent(key: string, start: string): Promise<string>;
    listingBump(key: string, start: string): Promise<number>;
  } {
    return this.redis as never;
  }

  async current(concertId: string): Promise<number> {
    return Number(await this.commands.listingCurrent(this.key(concertId), startValue()));
  }

  /**
   * Called after a commit, so it never fails the request that committed: a bump lost while Redis is
   * away leaves other instances' cached listings stale for at most the cache's MAX_AGE_MS.
   */
  async bump(concertIds: Iterable<string>): Promise<void> {
    // Sent at once, but not as one pipeline: a cluster's pipeline must stay in one slot, and each
    // concert's counter may live on another master.
    const results = await Promise.allSettled([...concertIds].map((id) => this.commands.listingBump(this.key(id), startValue())));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) this.onError(failed.reason as Error);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

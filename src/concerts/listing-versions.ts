// A change counter per concert, bumped after every commit that changes which of its seats are free
// (a hold, a sweep of lapsed holds). Listings read it before querying and keep their answer only
// while it is unchanged, so a cached list is never older than the last change, on any instance.
import { Redis } from 'ioredis';

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

/** Shared by every instance: one small string key per concert, `<prefix>listing:<concertId>`. */
export class RedisListingVersions implements ListingVersions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  static connect(url: string, prefix: string, onError: (error: Error) => void): RedisListingVersions {
    const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    redis.on('error', onError);
    return new RedisListingVersions(redis, prefix);
  }

  private key(concertId: string): string {
    return `${this.prefix}listing:${concertId}`;
  }

  async current(concertId: string): Promise<number> {
    return Number((await this.redis.get(this.key(concertId))) ?? 0);
  }

  async bump(concertIds: Iterable<string>): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const id of concertIds) pipeline.incr(this.key(id));
    await pipeline.exec();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

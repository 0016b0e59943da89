// Rate limits with @fastify/rate-limit: per client address on token issue and on everything but
// queue polls and streams, per queue token on seat holds. Counts live in Redis when it is configured,
// so every instance shares them; in the process otherwise. Over a limit: 429 RATE_LIMITED with
// Retry-After. While Redis is away the limits let requests through (those that need Redis are refused
// with 503 anyway): an outage must not turn into refusals of everything.
import { isIP } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { RedisClient } from '../redis/redis-client.js';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import { claimsOf } from '../http/auth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * false: outside the per-address limit (queue polls and streams, health probes, metrics). 'join':
     * token issue, which has a stricter per-address limit of its own: while that one is on, the general
     * one is not counted too (each is a Redis round trip with several instances).
     */
    addressLimit?: false | 'join';
  }
}

const MINUTE_MS = 60_000;

export interface RouteLimits {
  /** Per client address, on token issue (an onRequest hook). */
  join: onRequestAsyncHookHandler;
  /** Per queue token, on seat holds (a preHandler after the token guard). */
  hold: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

/**
 * The client's address as the limits count it: Fastify's `request.ip` (the socket's, or the first hop
 * of X-Forwarded-For when TRUST_PROXY is set). A forwarded value that is not an address counts as the
 * socket's, so junk in the header cannot mint fresh counters.
 */
export function clientAddress(request: FastifyRequest): string {
  const ip = request.ip;
  return isIP(ip) ? ip : (request.socket.remoteAddress ?? 'unknown');
}

export async function registerRateLimits(
  app: FastifyInstance,
  { limits, redis, prefix }: { limits: Config['rateLimits']; redis: RedisClient | undefined; prefix: string },
): Promise<RouteLimits> {
  await app.register(rateLimit, {
    global: false,
    timeWindow: MINUTE_MS,
    skipOnError: true,
    ...(redis ? { redis, nameSpace: `${prefix}rate:` } : {}),
  });

  /** undefined when `max` is 0 (the limit is off). */
  const limiter = (name: string, max: number, key: (request: FastifyRequest) => string) => {
    if (max <= 0) return undefined;
    const check = app.createRateLimit({ max, timeWindow: MINUTE_MS, keyGenerator: (request) => `${name}:${key(request)}` });
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const result = await check(request);
      if (result.isAllowed || !result.isExceeded) return;
      const seconds = Math.max(1, result.ttlInSeconds);
      void reply.header('retry-after', String(seconds));
      throw new DomainError('RATE_LIMITED', `too many requests; try again in ${seconds} s`);
    };
  };

  const perAddress = limiter('address', limits.perMinute, clientAddress);
  const joins = limiter('join', limits.joinPerMinute, clientAddress);
  if (perAddress) {
    // A callback hook, so a route outside the limit (a poll) pays no promise for passing it by.
    app.addHook('onRequest', (request, reply, done) => {
      const own = request.routeOptions.config.addressLimit;
      if (own === false || (own === 'join' && joins)) return done();
      perAddress(request, reply).then(() => done(), done);
    });
  }
  const holds = limiter('hold', limits.holdPerMinute, (request) => claimsOf(request).tokenId);
  const none = async () => undefined;
  return { join: joins ?? none, hold: holds ?? none };
}

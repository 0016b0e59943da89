// The queue-token guard for /api/v1 routes: reads the bearer token, checks its signature and, unless a
// route asks only for a genuine token, its state. Routes then compare the token's user with theirs.
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { DomainError } from '../errors.js';
import type { TokenClaims } from '../queue/queue-token.js';
import type { LineTokenState, QueueService, TokenRequirement } from '../queue/queue.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    queueClaims?: TokenClaims;
    queueState?: LineTokenState;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function claimsOf(request: FastifyRequest): TokenClaims {
  if (!request.queueClaims) throw new Error('route is missing its token guard');
  return request.queueClaims;
}

/** 403 USER_MISMATCH unless the token names `userId`. */
export function assertTokenUser(request: FastifyRequest, userId: string): void {
  if (claimsOf(request).userId !== userId) {
    throw new DomainError('USER_MISMATCH', 'the queue token belongs to another user');
  }
}

/**
 * 'genuine': a correctly signed token, whatever its state (payments look up an idempotency key before
 * the state). 'live' / 'active': the token must also be WAITING-or-ACTIVE / ACTIVE.
 */
export function tokenGuard(
  queue: QueueService,
  requirement: TokenRequirement | 'genuine',
  options: { touch?: boolean; tokenFromQuery?: boolean } = {},
): preHandlerAsyncHookHandler {
  return async (request) => {
    let token = bearerToken(request);
    if (token === undefined && options.tokenFromQuery) {
      const fromQuery = (request.query as { token?: unknown } | undefined)?.token;
      if (typeof fromQuery === 'string') token = fromQuery;
    }
    request.queueClaims = queue.verify(token);
    if (requirement !== 'genuine') {
      request.queueState = await queue.requireState(request.queueClaims, requirement, options.touch ?? false);
    }
  };
}

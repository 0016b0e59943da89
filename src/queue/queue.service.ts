// The waiting room's rules: who may join, how a token is checked, how long the wait looks, and the
// admission loop every instance runs. The line itself lives in the QueueStore.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import { signToken, verifyToken, type TokenClaims } from './queue-token.js';
import type { QueueSettings, QueueStats, QueueStore, TokenState } from './queue.store.js';

export type TokenRequirement = 'live' | 'active';

export interface TokenView {
  userId: string;
  status: TokenState['status'];
  position: number;
  estimatedWaitSeconds: number;
  pollAfterSeconds: number;
  expiresAt: string;
}

export interface IssuedToken {
  token: string;
  userId: string;
  status: TokenState['status'];
  position: number;
  estimatedWaitSeconds: number;
  expiresAt: string;
  created: boolean;
}

export interface QueueServiceDeps {
  store: QueueStore;
  config: Pick<Config, 'tokenSecret' | 'queue'>;
  userExists: (userId: string) => Promise<boolean>;
  now?: () => number;
  log?: { error: (obj: unknown, msg: string) => void };
}

/** Remembers users known to exist: users are never deleted, so a yes never goes stale. */
class KnownUsers {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    if (this.ids.size >= this.capacity) this.ids.clear();
    this.ids.add(id);
  }
}

/** No estimate is worth more than this; past it the wait is simply "very long" (e.g. the line is closed). */
export const MAX_ESTIMATE_SECONDS = 86_400;

/** How long a WAITING token at `position` should expect to wait, from the measured admission rate. */
export function estimateWaitSeconds(position: number, admittedPerMinute: number, settings: { activeLimit: number; activeTtlSeconds: number }): number {
  if (position <= 0) return 0;
  const seconds =
    admittedPerMinute > 0
      ? (position * 60) / admittedPerMinute
      : // Nothing admitted lately: assume each slot turns over once per active time.
        (position * settings.activeTtlSeconds) / Math.max(1, settings.activeLimit);
  return Math.min(MAX_ESTIMATE_SECONDS, Math.ceil(seconds));
}

/**
 * Near the front, poll every second; far back, less often. Never so rarely that a silent-looking
 * client is abandoned (idle / 3), nor that an admitted fan learns of it late in their active time.
 */
export function pollAfterSeconds(
  state: Pick<TokenState, 'status' | 'position'>,
  estimatedWaitSeconds: number,
  timings: { waitingIdleSeconds: number; activeTtlSeconds: number },
): number {
  const ceiling = Math.max(1, Math.min(30, Math.floor(timings.waitingIdleSeconds / 3), Math.floor(timings.activeTtlSeconds / 4)));
  if (state.status !== 'WAITING') return ceiling;
  if (state.position <= 10) return 1;
  return Math.min(ceiling, Math.max(1, Math.round(estimatedWaitSeconds / 10)));
}

export function createQueueService({ store, config, userExists, now = Date.now, log }: QueueServiceDeps) {
  // Bounded (about 100 bytes an id): enough for a sale of a couple of million fans.
  const knownUsers = new KnownUsers(2_000_000);
  // A token that verified once is genuine for good (the secret does not change while running): a poll
  // need not recompute its HMAC every time.
  const verified = new Map<string, TokenClaims>();
  const MAX_VERIFIED = 200_000;
  let admittedPerMinute = 0;
  let settings: QueueSettings = { activeLimit: config.queue.activeLimit, paused: false };
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  let ticks = 0;

  function view(state: TokenState): TokenView {
    const estimatedWaitSeconds =
      state.status === 'WAITING'
        ? estimateWaitSeconds(state.position, admittedPerMinute, {
            activeLimit: settings.activeLimit,
            activeTtlSeconds: config.queue.activeTtlSeconds,
          })
        : 0;
    return {
      userId: state.userId,
      status: state.status,
      position: state.position,
      estimatedWaitSeconds,
      pollAfterSeconds: pollAfterSeconds(state, estimatedWaitSeconds, config.queue),
      expiresAt: new Date(state.expiresAt).toISOString(),
    };
  }

  async function refreshStats(): Promise<QueueStats> {
    const stats = await store.stats(now());
    admittedPerMinute = stats.admittedPerMinute;
    settings = { activeLimit: stats.activeLimit, paused: stats.paused };
    return stats;
  }

  /** One admission pass; errors are logged, never thrown, so a Redis blip does not stop the loop. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      await store.admit(now());
      // The rate feeds wait estimates; once a second is fresh enough.
      if (ticks++ % Math.max(1, Math.round(1000 / config.queue.tickMs)) === 0) await refreshStats();
    } catch (err) {
      log?.error({ err }, 'queue admission tick failed');
    } finally {
      ticking = false;
    }
  }

  return {
    async issueToken(userId: string): Promise<IssuedToken> {
      if (!knownUsers.has(userId)) {
        if (!(await userExists(userId))) throw new DomainError('INVALID_USER', `no user ${userId}`);
        knownUsers.add(userId);
      }
      let { state, created } = await store.join(userId, randomUUID(), now());
      if (created && state.position === 1) {
        // A free slot and nobody ahead: let the newcomer in now rather than at the next tick.
        await store.admit(now());
        state = (await store.get(state.tokenId, now(), false)) ?? state;
      }
      const { pollAfterSeconds: _, ...rest } = view(state);
      return { token: signToken({ userId, tokenId: state.tokenId, seq: state.seq }, config.tokenSecret), ...rest, created };
    },

    /** Users just created here exist: their first token need not ask the database. */
    rememberUsers(userIds: Iterable<string>): void {
      for (const id of userIds) knownUsers.add(id);
    },

    /** The claims of a genuine token (signature only; its state is not looked at). */
    verify(token: string | undefined): TokenClaims {
      if (!token) throw new DomainError('INVALID_TOKEN', 'the queue token is missing, malformed or forged');
      const known = verified.get(token);
      if (known) return known;
      const claims = verifyToken(token, config.tokenSecret);
      if (!claims) throw new DomainError('INVALID_TOKEN', 'the queue token is missing, malformed or forged');
      if (verified.size >= MAX_VERIFIED) verified.clear();
      verified.set(token, claims);
      return claims;
    },

    /** The token's live state, or the contract's error for an unknown, ended or not-yet-admitted token. */
    async requireState(claims: TokenClaims, requirement: TokenRequirement, touch = false): Promise<TokenState> {
      const state = await store.get(claims.tokenId, now(), touch);
      if (!state || state.userId !== claims.userId) throw new DomainError('INVALID_TOKEN', 'the queue token is not known');
      if (state.status === 'EXPIRED') throw new DomainError('TOKEN_EXPIRED', 'the queue token has expired; join the queue again');
      if (requirement === 'active' && state.status !== 'ACTIVE') {
        throw new DomainError('TOKEN_NOT_ACTIVE', `still waiting in line at position ${state.position}`);
      }
      return state;
    },

    /** A token's state for a stream: no errors, just what it is now (null if unknown). */
    async peek(claims: TokenClaims, touch: boolean): Promise<TokenState | null> {
      const state = await store.get(claims.tokenId, now(), touch);
      return state && state.userId === claims.userId ? state : null;
    },

    view,

    /** Ends a token (its user paid) and hands its slot to the next in line at once. */
    async endToken(tokenId: string): Promise<void> {
      await store.expire(tokenId, now());
      await tick();
    },

    async stats(): Promise<QueueStats> {
      return refreshStats();
    },

    async updateSettings(change: Partial<QueueSettings>): Promise<QueueStats> {
      await store.updateSettings(change);
      await tick();
      return refreshStats();
    },

    onChange: (listener: () => void) => store.onChange(listener),

    async start(): Promise<void> {
      await refreshStats();
      timer = setInterval(() => void tick(), config.queue.tickMs);
      timer.unref();
    },

    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type QueueService = ReturnType<typeof createQueueService>;

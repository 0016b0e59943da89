// The waiting room's rules: who may join, how a token is checked, how long the wait looks, and the
// admission loop every instance runs. The line itself lives in the QueueStore.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { DependencyUnavailableError, DomainError } from '../errors.js';
import { OutageLog, type OutageLogger } from '../health/outage-log.js';
import { signToken, verifyToken, type TokenClaims } from './queue-token.js';
import { LineNotSeededError, type LineSettings, type QueueSettings, type QueueStats, type QueueStore, type TokenState } from './queue.store.js';

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

/** Where the line's settings are kept for good (PostgreSQL): the store holds a copy of them. */
export interface LineSettingsSource {
  load(): Promise<LineSettings>;
  save(change: Partial<QueueSettings>): Promise<LineSettings>;
}

export interface QueueServiceDeps {
  store: QueueStore;
  settingsSource: LineSettingsSource;
  config: Pick<Config, 'tokenSecret' | 'queue'>;
  userExists: (userId: string) => Promise<boolean>;
  now?: () => number;
  log?: OutageLogger;
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

/** How often each instance copies the settings from PostgreSQL into the store, in case a copy was missed. */
const SETTINGS_SYNC_MS = 5_000;

export function createQueueService({ store, settingsSource, config, userExists, now = Date.now, log }: QueueServiceDeps) {
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
  let lastSync = 0;
  let reseeding: Promise<void> | undefined;
  const outage = new OutageLog(log, 'queue admission');
  // A new epoch wipes what was known of the old line: verified tokens may name tokens that are gone.
  const offReset = store.onReset(() => {
    verified.clear();
    log?.warn({}, 'the queue store lost its line (Redis came back empty); started a new one from PostgreSQL');
  });

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

  /** Copies PostgreSQL's settings into the store; after the store lost its line, this starts a new one. */
  function reseed(): Promise<void> {
    // Concurrent callers (the tick, a join) share one attempt.
    reseeding ??= (async () => {
      try {
        await store.seed(await settingsSource.load());
        lastSync = now();
      } finally {
        reseeding = undefined;
      }
    })();
    return reseeding;
  }

  /** One admission pass; errors are logged once per outage, never thrown, so the loop outlives any failure. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      if (now() - lastSync >= SETTINGS_SYNC_MS) await reseed();
      try {
        await store.admit(now());
      } catch (err) {
        if (!(err instanceof LineNotSeededError)) throw err;
        await reseed();
        await store.admit(now());
      }
      // The rate feeds wait estimates; once a second is fresh enough.
      if (ticks++ % Math.max(1, Math.round(1000 / config.queue.tickMs)) === 0) await refreshStats();
      outage.ok();
    } catch (err) {
      outage.failed(err);
    } finally {
      ticking = false;
    }
  }

  async function join(userId: string) {
    try {
      return await store.join(userId, randomUUID(), now());
    } catch (err) {
      if (!(err instanceof LineNotSeededError)) throw err;
    }
    await reseed();
    try {
      return await store.join(userId, randomUUID(), now());
    } catch (err) {
      if (err instanceof LineNotSeededError) throw new DependencyUnavailableError('the waiting line is being restored; try again in a moment');
      throw err;
    }
  }

  return {
    async issueToken(userId: string): Promise<IssuedToken> {
      if (!knownUsers.has(userId)) {
        if (!(await userExists(userId))) throw new DomainError('INVALID_USER', `no user ${userId}`);
        knownUsers.add(userId);
      }
      let { state, created, epoch } = await join(userId);
      if (created && state.position === 1) {
        // A free slot and nobody ahead: let the newcomer in now rather than at the next tick.
        await store.admit(now());
        state = (await store.get(state.tokenId, now(), false)) ?? state;
      }
      const { pollAfterSeconds: _, ...rest } = view(state);
      return { token: signToken({ userId, tokenId: state.tokenId, seq: state.seq, epoch }, config.tokenSecret), ...rest, created };
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
      if (!state) {
        // Genuine but unknown: either its line was lost (Redis came back empty, an embedded restart lost
        // the last seconds of joins), or it ended so long ago that it was forgotten.
        if ((await store.currentEpoch()) !== claims.epoch) {
          throw new DomainError('LINE_RESET', 'the waiting line was restarted and this place in it was lost; join again');
        }
        throw new DomainError('INVALID_TOKEN', 'the queue token is not known');
      }
      if (state.userId !== claims.userId) throw new DomainError('INVALID_TOKEN', 'the queue token is not known');
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

    /** Written to PostgreSQL first (the source of truth), then to the store every instance reads. */
    async updateSettings(change: Partial<QueueSettings>): Promise<QueueStats> {
      await store.seed(await settingsSource.save(change));
      await tick();
      return refreshStats();
    },

    /** Calls `listener` when the store's line was lost and started again (caches of it are stale). */
    onReset: (listener: () => void) => store.onReset(listener),

    onChange: (listener: () => void) => store.onChange(listener),

    async start(): Promise<void> {
      await reseed();
      await refreshStats();
      timer = setInterval(() => void tick(), config.queue.tickMs);
      timer.unref();
    },

    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
      offReset();
    },
  };
}

export type QueueService = ReturnType<typeof createQueueService>;

// The waiting room's rules: who may join which line, how a token is checked, how long the wait looks,
// and the admission loop every instance runs over every line (the general line and each open sale's).
// The lines themselves live in the QueueLines store; what is special about a sale's line (its draw,
// its seats, its phase) comes in through the LineHooks the sales service registers.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { DependencyUnavailableError, DomainError } from '../errors.js';
import { OutageLog, type OutageLogger } from '../health/outage-log.js';
import type { LineFigures, QueueMetrics } from '../metrics/metrics.js';
import type { SalePhase } from '../sales/sale.schemas.js';
import { BoundedCache } from './bounded-cache.js';
import { signToken, verifyToken, type TokenClaims } from './queue-token.js';
import {
  GENERAL_LINE,
  LineEndedError,
  LineNotSeededError,
  saleLineId,
  type AdmitResult,
  type EndReason,
  type LineEnd,
  type LineSettings,
  type QueueLines,
  type QueueSettings,
  type QueueStats,
  type QueueStore,
  type TokenState,
} from './queue.store.js';

/** 'status': the token's state may be read even after its sale sold out (GET /me answers SOLD_OUT). */
export type TokenRequirement = 'live' | 'active' | 'status';

/** A sale line's extra fields in token views (see the sales service). */
export interface LineDescription {
  saleId: string;
  phase: SalePhase;
  seatsLeft: number;
}

export interface TokenView {
  userId: string;
  status: TokenState['status'];
  position: number;
  estimatedWaitSeconds: number;
  pollAfterSeconds: number;
  expiresAt: string;
  /** The operator paused admission of the token's line. */
  paused: boolean;
  /** The operator's message to the line, when one is set. */
  message?: string;
  /** Why the token ended, once it has (EXPIRED or SOLD_OUT). */
  reason?: EndReason;
  saleId?: string;
  phase?: SalePhase;
  seatsLeft?: number;
  entryId?: string;
  drawRank?: number | null;
}

export interface IssuedToken extends Omit<TokenView, 'pollAfterSeconds'> {
  token: string;
  created: boolean;
}

/** A token's state with the line it stands in. */
export type LineTokenState = TokenState & { lineId: string };

/** Where a line's settings are kept for good (PostgreSQL): the store holds a copy of them. */
export interface LineSettingsSource {
  load(): Promise<LineSettings>;
  save(change: Partial<QueueSettings>): Promise<LineSettings>;
}

/** What a line other than the general one adds to the rules (a sale's schedule, draw and seats). */
export interface LineHooks {
  settings: LineSettingsSource;
  /**
   * Runs before each admission pass of the line: may run the draw, and returns how many the pass may
   * admit at most (0: nobody now; Infinity: no limit but the active limit). The pass then admits only
   * fans who had joined by `joinedBy` (a performance.now() moment), so whatever the cap counts must be
   * read after it: a seat held before such a fan joined is then in the count.
   */
  admissionCap?: (store: QueueStore, now: number, joinedBy: number) => Promise<number>;
  /** The line's extra fields for token views; undefined while not known yet. */
  describe?: () => LineDescription | undefined;
  /** The least wait a WAITING token of this line can expect (a pre-queue waits for the open at least). */
  minimumWaitSeconds?: (now: number) => number;
  /** The store lost this line and started it again: forget what was known of the old one. */
  onReset?: () => void;
}

export interface QueueServiceDeps {
  lines: QueueLines;
  /** The general line's settings in PostgreSQL. */
  settingsSource: LineSettingsSource;
  config: Pick<Config, 'tokenSecret' | 'queue'>;
  userExists: (userId: string) => Promise<boolean>;
  now?: () => number;
  log?: OutageLogger;
  /** Told what each admission pass of this instance did. */
  metrics?: QueueMetrics;
}

/**
 * The state with its line's id. Spelled out, not spread: on Node 20's V8 an object spread followed by
 * more properties takes a slow path (about 0.6 µs, a literal about 10 ns), and this runs on every poll.
 * A field added to TokenState must be added here too.
 */
function onLine(state: TokenState, lineId: string): LineTokenState {
  const out: LineTokenState = {
    tokenId: state.tokenId,
    userId: state.userId,
    seq: state.seq,
    status: state.status,
    position: state.position,
    expiresAt: state.expiresAt,
    entryId: state.entryId,
    drawRank: state.drawRank,
    paused: state.paused,
    message: state.message,
    lineId,
  };
  if (state.reason) out.reason = state.reason;
  return out;
}

/** A token's state as a stream shows it: null unless the token is the claims' user's. */
function stateOfClaims(claims: TokenClaims, lineId: string, state: TokenState | null): LineTokenState | null {
  return state && state.userId === claims.userId ? onLine(state, lineId) : null;
}

/** The last time written out, and its text: the polls of one millisecond share it (toISOString is 0.35 µs). */
let isoMs = Number.NaN;
let isoText = '';
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/** An operator's message as a line keeps it: trimmed, and null for none (null, "" or only spaces clear it). */
export function operatorMessage(message: string | null): string | null {
  const trimmed = message?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
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

/** How often each instance copies a line's settings from PostgreSQL into the store, in case a copy was missed. */
const SETTINGS_SYNC_MS = 5_000;

/** One line as this instance runs it: its store, its hooks, and what it last measured of it. */
interface LineRuntime {
  id: string;
  store: QueueStore;
  hooks: LineHooks;
  admittedPerMinute: number;
  settings: QueueSettings;
  /** Waiting (pre-queue included) and ACTIVE as last read, for the metrics. */
  waiting: number;
  active: number;
  lastSync: number;
  /** This instance has copied the line's settings into the store: until then no pass admits. */
  seeded: boolean;
  /** The admission pass running now, if any. */
  pass: Promise<void> | undefined;
  /** Someone changed the line while a pass ran: run another when it ends. */
  passAgain: boolean;
  ticks: number;
  reseeding: Promise<void> | undefined;
  outage: OutageLog;
  offReset: () => void;
}

export function lineOfClaims(claims: Pick<TokenClaims, 'saleId'>): string {
  return claims.saleId ? saleLineId(claims.saleId) : GENERAL_LINE;
}

export function createQueueService({ lines, settingsSource, config, userExists, now = Date.now, log, metrics }: QueueServiceDeps) {
  // Users known to exist: users are never deleted, so a yes never goes stale. Bounded (about 100 bytes
  // an id): enough for a sale of a couple of million fans.
  const knownUsers = new BoundedCache<string, true>(2_000_000);
  // A token that verified once, or that this instance signed, is genuine for good (the secret does not
  // change while running): a poll need not recompute its HMAC every time. Bounded, about the least
  // recently used going first: it keeps 2,000,000 tokens (about 400 bytes each, less for tokens signed
  // here, whose claims share the line's strings), so a line of a million stays in it; past that a poll
  // costs one HMAC.
  const verified = new BoundedCache<string, TokenClaims>(2_000_000);
  const runtimes = new Map<string, LineRuntime>();
  let timer: NodeJS.Timeout | undefined;

  function addLine(id: string, hooks: LineHooks): LineRuntime {
    const store = lines.line(id);
    const runtime: LineRuntime = {
      id,
      store,
      hooks,
      admittedPerMinute: 0,
      settings: { activeLimit: config.queue.activeLimit, paused: false },
      waiting: 0,
      active: 0,
      lastSync: 0,
      seeded: false,
      pass: undefined,
      passAgain: false,
      ticks: 0,
      reseeding: undefined,
      outage: new OutageLog(log, `queue admission (${id})`),
      // A new epoch wipes what was known of the old line: verified tokens may name tokens that are gone.
      offReset: store.onReset(() => {
        verified.clear();
        hooks.onReset?.();
        log?.warn({ line: id }, 'the queue store lost this line (Redis came back empty); started a new one from PostgreSQL');
      }),
    };
    runtimes.set(id, runtime);
    return runtime;
  }

  const general = addLine(GENERAL_LINE, { settings: settingsSource });

  /** A line's store, served here or not (a closed sale's tokens can still be read). */
  function storeOf(lineId: string): QueueStore {
    return runtimes.get(lineId)?.store ?? lines.line(lineId);
  }

  function runtimeOf(lineId: string): LineRuntime {
    const runtime = runtimes.get(lineId);
    if (!runtime) throw new DomainError('INVALID_TOKEN', 'the queue token names a line that is not open');
    return runtime;
  }

  function view(state: LineTokenState): TokenView {
    const line = runtimes.get(state.lineId) ?? general;
    const t = now();
    const estimatedWaitSeconds =
      state.status === 'WAITING'
        ? Math.max(
            estimateWaitSeconds(state.position, line.admittedPerMinute, {
              activeLimit: line.settings.activeLimit,
              activeTtlSeconds: config.queue.activeTtlSeconds,
            }),
            Math.ceil(line.hooks.minimumWaitSeconds?.(t) ?? 0),
          )
        : 0;
    const base: TokenView = {
      userId: state.userId,
      status: state.status,
      position: state.position,
      estimatedWaitSeconds: Math.min(MAX_ESTIMATE_SECONDS, estimatedWaitSeconds),
      pollAfterSeconds: pollAfterSeconds(state, estimatedWaitSeconds, config.queue),
      expiresAt: isoTime(state.expiresAt),
      paused: state.paused,
      ...(state.message ? { message: state.message } : {}),
      ...(state.reason ? { reason: state.reason } : {}),
    };
    const described = line.hooks.describe?.();
    if (line.id === GENERAL_LINE || !described) return base;
    // Added one by one rather than spread into a new object (see onLine).
    base.saleId = described.saleId;
    base.phase = described.phase;
    base.seatsLeft = described.seatsLeft;
    base.entryId = state.entryId;
    base.drawRank = state.drawRank;
    return base;
  }

  async function refreshStats(line: LineRuntime): Promise<QueueStats> {
    const stats = await line.store.stats(now());
    line.admittedPerMinute = stats.admittedPerMinute;
    line.settings = { activeLimit: stats.activeLimit, paused: stats.paused, message: stats.message };
    line.waiting = stats.waiting + stats.prequeued;
    line.active = stats.active;
    return stats;
  }

  /** Copies PostgreSQL's settings into the store; after the store lost its line, this starts a new one. */
  function reseed(line: LineRuntime): Promise<void> {
    // Concurrent callers (the tick, a join) share one attempt.
    line.reseeding ??= (async () => {
      try {
        await line.store.seed(await line.hooks.settings.load());
        line.lastSync = now();
        line.seeded = true;
      } finally {
        line.reseeding = undefined;
      }
    })();
    return line.reseeding;
  }

  /**
   * An admission pass of one line, one at a time per line. A caller that changed the line (lifted a
   * pause, freed a slot) gets a pass that began after its change: if one is running, it may have read
   * the line before, so another follows it. The background tick does not wait: it skips a busy line.
   */
  function tickLine(line: LineRuntime, snapshot?: { joined: number; after: number }, afterAChange = true): Promise<void> {
    if (line.pass) {
      if (!afterAChange) return Promise.resolve();
      line.passAgain = true;
      return line.pass;
    }
    line.pass = (async () => {
      try {
        let given = snapshot;
        do {
          line.passAgain = false;
          await admissionPass(line, given);
          given = undefined;
        } while (line.passAgain);
      } finally {
        line.pass = undefined;
      }
    })();
    return line.pass;
  }

  /**
   * One admission pass; errors are logged once per outage, never thrown, so the loop outlives any
   * failure. `joined`: the line's joinedCount read at `after`, before the pass (tick reads every line's
   * at once, so that all of them can share one count of the seats begun after it).
   */
  async function admissionPass(line: LineRuntime, snapshot?: { joined: number; after: number }): Promise<void> {
    try {
      if (!line.seeded) {
        // A line's first pass waits for its settings: until they are in the store it knows neither the
        // line's limit nor that a sale's line has a pre-queue to draw first (taken for drawn, it would
        // never be drawn, and never admit).
        await reseed(line);
      } else if (now() - line.lastSync >= SETTINGS_SYNC_MS) {
        // In the background: admission must not wait for a busy database to copy settings it already has.
        line.lastSync = now();
        reseed(line).catch((err: unknown) => line.outage.failed(err));
      }
      const admit = async (): Promise<AdmitResult> => {
        if (!line.hooks.admissionCap) return line.store.admit(now());
        // A cap read from the seats is only as good as the moment it was read: a fan who joined after it
        // might have joined after a seat was held that the count does not show. So the pass admits only
        // those who had joined before the count began.
        const joined = snapshot?.joined ?? (await line.store.joinedCount());
        const cap = await line.hooks.admissionCap(line.store, now(), snapshot?.after ?? performance.now());
        return line.store.admit(now(), cap, joined);
      };
      let result: AdmitResult;
      try {
        result = await admit();
      } catch (err) {
        if (!(err instanceof LineNotSeededError)) throw err;
        await reseed(line);
        result = await admit();
      }
      if (metrics) {
        metrics.admitted(line.id, result.admitted, result.joinedAt, now());
        metrics.abandoned(line.id, result.abandoned);
      }
      // The rate feeds wait estimates; once a second is fresh enough.
      if (line.ticks++ % Math.max(1, Math.round(1000 / config.queue.tickMs)) === 0) await refreshStats(line);
      line.outage.ok();
    } catch (err) {
      line.outage.failed(err);
    }
  }

  /** Every line's pass at once: one sale's slow draw does not hold up another line's admissions. */
  async function tick(): Promise<void> {
    const lines = [...runtimes.values()];
    // A failed read leaves that line to read its own (and log the failure) in its pass.
    const joined = await Promise.all(lines.map((l) => (l.hooks.admissionCap && !l.pass ? l.store.joinedCount().catch(() => undefined) : undefined)));
    const after = performance.now();
    await Promise.all(lines.map((l, i) => tickLine(l, joined[i] === undefined ? undefined : { joined: joined[i], after }, false)));
  }

  async function join(line: LineRuntime, userId: string) {
    try {
      return await line.store.join(userId, randomUUID(), now());
    } catch (err) {
      if (err instanceof LineEndedError) throw new DomainError('SOLD_OUT', 'this sale is sold out');
      if (!(err instanceof LineNotSeededError)) throw err;
    }
    await reseed(line);
    try {
      return await line.store.join(userId, randomUUID(), now());
    } catch (err) {
      if (err instanceof LineNotSeededError) throw new DependencyUnavailableError('the waiting line is being restored; try again in a moment');
      throw err;
    }
  }

  return {
    /** Joins the general line, or a sale's line (the sales service checks that the sale may be joined). */
    async issueToken(userId: string, saleId?: string): Promise<IssuedToken> {
      if (!knownUsers.get(userId)) {
        if (!(await userExists(userId))) throw new DomainError('INVALID_USER', `no user ${userId}`);
        knownUsers.set(userId, true);
      }
      const lineId = saleId ? saleLineId(saleId) : GENERAL_LINE;
      const line = runtimeOf(lineId);
      let { state, created, epoch } = await join(line, userId);
      if (created && state.position === 1 && state.seq > 0) {
        // A free slot and nobody ahead: let the newcomer in now rather than at the next tick.
        await tickLine(line);
        state = (await line.store.get(state.tokenId, now(), false)) ?? state;
      }
      const { pollAfterSeconds: _, ...rest } = view(onLine(state, lineId));
      const claims: TokenClaims = { userId, tokenId: state.tokenId, seq: state.seq, epoch, ...(saleId ? { saleId } : {}) };
      const token = signToken(claims, config.tokenSecret);
      // Signed here: this instance need not verify it (a browser's polls keep to the connection, and so
      // mostly to the instance, that issued its token).
      verified.set(token, claims);
      return { token, ...rest, created };
    },

    /** Users just created here exist: their first token need not ask the database. */
    rememberUsers(userIds: Iterable<string>): void {
      for (const id of userIds) knownUsers.set(id, true);
    },

    /** The claims of a genuine token (signature only; its state is not looked at). */
    verify(token: string | undefined): TokenClaims {
      if (!token) throw new DomainError('INVALID_TOKEN', 'the queue token is missing, malformed or forged');
      const known = verified.get(token);
      if (known) return known;
      const claims = verifyToken(token, config.tokenSecret);
      if (!claims) throw new DomainError('INVALID_TOKEN', 'the queue token is missing, malformed or forged');
      verified.set(token, claims);
      return claims;
    },

    /**
     * The token's state, or the contract's error for an unknown, ended or not-yet-admitted token. A
     * poll ('status' with a touch) may be answered from the store's copy of the line; anything else
     * (a hold, a payment) reads the store itself.
     */
    async requireState(claims: TokenClaims, requirement: TokenRequirement, touch = false): Promise<LineTokenState> {
      const lineId = lineOfClaims(claims);
      const store = storeOf(lineId);
      const state = requirement === 'status' && touch ? await store.poll(claims, now()) : await store.get(claims.tokenId, now(), touch);
      if (!state) {
        // Genuine but unknown: either its line was lost (Redis came back empty, an embedded restart lost
        // the last seconds of joins), or it ended so long ago that it was forgotten.
        if ((await store.currentEpoch()) !== claims.epoch) {
          throw new DomainError('LINE_RESET', 'the waiting line was restarted and this place in it was lost; join again');
        }
        throw new DomainError('INVALID_TOKEN', 'the queue token is not known');
      }
      if (state.userId !== claims.userId) throw new DomainError('INVALID_TOKEN', 'the queue token is not known');
      if (state.status === 'EXPIRED' || (state.status === 'SOLD_OUT' && requirement !== 'status')) {
        throw new DomainError('TOKEN_EXPIRED', 'the queue token has expired; join the queue again', state.reason ? { reason: state.reason } : undefined);
      }
      if (requirement === 'active' && state.status !== 'ACTIVE') {
        throw new DomainError('TOKEN_NOT_ACTIVE', `still waiting in line at position ${state.position}`);
      }
      return onLine(state, lineId);
    },

    /** A token's state for a stream, as a poll reads it (an open stream keeps the place): no errors, null if unknown. */
    async peek(claims: TokenClaims): Promise<LineTokenState | null> {
      const lineId = lineOfClaims(claims);
      return stateOfClaims(claims, lineId, await storeOf(lineId).poll(claims, now()));
    },

    /** As peek, at once when the store can answer without I/O; undefined when only peek can. */
    peekNow(claims: TokenClaims): LineTokenState | null | undefined {
      const lineId = lineOfClaims(claims);
      const state = storeOf(lineId).pollNow(claims, now());
      return state === undefined ? undefined : stateOfClaims(claims, lineId, state);
    },

    view,

    /** Ends a token (its user paid) and hands its slot to the next in line at once. */
    async endToken(tokenId: string, lineId: string = GENERAL_LINE): Promise<void> {
      await storeOf(lineId).expire(tokenId, now());
      const line = runtimes.get(lineId);
      if (line) await tickLine(line);
    },

    /** Ends a line for good (its sale sold out or closed): every live token of it reads `status` from now on. */
    async endLine(lineId: string, status: LineEnd): Promise<void> {
      await storeOf(lineId).endLine(now(), status);
    },

    async stats(lineId: string = GENERAL_LINE): Promise<QueueStats> {
      const line = runtimes.get(lineId);
      return line ? refreshStats(line) : storeOf(lineId).stats(now());
    },

    /**
     * Written to PostgreSQL first (the source of truth), then to the store every instance reads, which
     * wakes the line's streams on every instance. A message is trimmed; null or blank clears it.
     */
    async updateSettings(change: Partial<QueueSettings>, lineId: string = GENERAL_LINE): Promise<QueueStats> {
      const line = runtimeOf(lineId);
      const normalized = change.message === undefined ? change : { ...change, message: operatorMessage(change.message) };
      await line.store.seed(await line.hooks.settings.save(normalized));
      await tickLine(line);
      return refreshStats(line);
    },

    /** Takes PostgreSQL's settings of a line again now (after a change written there by someone else). */
    async syncSettings(lineId: string): Promise<void> {
      const line = runtimes.get(lineId);
      if (line) await reseed(line);
    },

    /** Serves a sale's line from now on: it is admitted by every tick of this instance. */
    async openLine(lineId: string, hooks: LineHooks): Promise<void> {
      if (runtimes.has(lineId)) return;
      const line = addLine(lineId, hooks);
      await reseed(line).catch((err: unknown) => line.outage.failed(err));
    },

    /** Stops serving a line (its sale closed or sold out and ended). */
    closeLine(lineId: string): void {
      const line = runtimes.get(lineId);
      if (!line || lineId === GENERAL_LINE) return;
      line.offReset();
      runtimes.delete(lineId);
    },

    hasLine: (lineId: string) => runtimes.has(lineId),

    /** Every line this instance serves, with its numbers as last read (about once a second): no I/O. */
    *lineFigures(): Iterable<LineFigures> {
      for (const line of runtimes.values()) yield { lineId: line.id, waiting: line.waiting, active: line.active };
    },

    onChange: (listener: () => void, lineId: string = GENERAL_LINE) => storeOf(lineId).onChange(listener),

    /** Calls `listener` when any line was lost and started again (caches of it are stale). */
    onReset(listener: () => void): () => void {
      const offs = [...runtimes.values()].map((r) => r.store.onReset(listener));
      return () => {
        for (const off of offs) off();
      };
    },

    async start(): Promise<void> {
      await reseed(general);
      await refreshStats(general);
      timer = setInterval(() => void tick(), config.queue.tickMs);
      timer.unref();
    },

    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const line of runtimes.values()) line.offReset();
    },
  };
}

export type QueueService = ReturnType<typeof createQueueService>;

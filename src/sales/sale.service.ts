// Sales: a concert on sale at a set time through a line of its own. This service owns the sale's rules:
// its phase (from the clock and the seats), who may join when, the draw at the open, admission that
// follows the seats left, and the sold-out that ends the line. It serves each sale's line through the
// queue service's LineHooks; PostgreSQL holds the sale, the queue store holds its line.
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { DB } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { OutageLog, type OutageLogger } from '../health/outage-log.js';
import type { SaleMetrics, SeatFigures } from '../metrics/metrics.js';
import { operatorMessage, type LineHooks, type QueueService } from '../queue/queue.service.js';
import type { ReservationService } from '../reservations/reservation.service.js';
import { saleLineId, type LineSettings, type QueueStore } from '../queue/queue.store.js';
import { commitmentOf, drawOrder, newSeed } from './sale-draw.js';
import {
  countSeats,
  countSeatsOfConcerts,
  findDrawEntries,
  findOpenSales,
  findSale,
  insertSale,
  markSoldOut,
  recordDraw,
  updateSale,
  type SaleRow,
  type SaleUpdate,
  type SeatCounts,
} from './sale.repository.js';
import type { AdminSale, Draw, NewSale, Sale, SaleChange, SalePhase } from './sale.schemas.js';

export interface SaleServiceDeps {
  db: Kysely<DB>;
  queue: QueueService;
  /** Gives back the holds of a sale's line when it closes (its tokens end then). */
  holds?: Pick<ReservationService, 'releaseSaleHolds'>;
  config: Pick<Config, 'queue' | 'redisPrefix'>;
  now?: () => number;
  log?: OutageLogger;
  /** Told when this instance records a sale as sold out. */
  metrics?: SaleMetrics;
}

/** How often each instance re-reads the open sales (new ones, schedule changes made elsewhere). */
const REFRESH_MS = 1_000;

const ms = (d: Date | string | null): number | null => (d === null ? null : new Date(d).getTime());

export function phaseOf(row: Pick<SaleRow, 'queue_opens_at' | 'opens_at' | 'closes_at' | 'sold_out_at'>, now: number): SalePhase {
  const closesAt = ms(row.closes_at);
  if (closesAt !== null && now >= closesAt) return 'CLOSED';
  if (row.sold_out_at) return 'SOLD_OUT';
  if (now < ms(row.queue_opens_at)!) return 'SCHEDULED';
  if (now < ms(row.opens_at)!) return 'PREQUEUE';
  return 'OPEN';
}

export function createSaleService({ db, queue, holds, config, now = Date.now, log, metrics }: SaleServiceDeps) {
  /** Sales not closed, by id; refreshed every second and after every change made here. */
  let open = new Map<string, SaleRow>();
  /** concertId -> saleId of the concert's sale that is not closed. */
  let byConcert = new Map<string, string>();
  const counts = new Map<string, SeatCounts>();
  /** Sales whose line this instance knows to be drawn / ended: no need to ask the store again. */
  const drawnLines = new Set<string>();
  const endedLines = new Set<string>();
  /**
   * How many times each sale's line was lost (store reset). A draw or an end learnt by a pass that
   * began before a loss is about the lost line: it must not be remembered for the new one, or the
   * new line would never be drawn (and never admit) or never be ended.
   */
  const losses = new Map<string, number>();
  const lossesOf = (saleId: string) => losses.get(saleId) ?? 0;
  function remember(known: Set<string>, saleId: string, lossesBefore: number): void {
    if (lossesOf(saleId) === lossesBefore) known.add(saleId);
  }
  /** Sales this instance saw sell out: their phase stays SOLD_OUT whatever an older read says. */
  const soldOut = new Set<string>();
  const drawEntries = new Map<string, string[]>();
  const outage = new OutageLog(log, 'reading the sales');
  let timer: NodeJS.Timeout | undefined;

  function toSale(row: SaleRow, t = now()): Sale {
    const opensAt = ms(row.opens_at)!;
    return {
      saleId: row.id,
      concertId: row.concert_id,
      title: row.title,
      venue: row.venue,
      queueOpensAt: new Date(row.queue_opens_at).toISOString(),
      opensAt: new Date(opensAt).toISOString(),
      closesAt: row.closes_at === null ? null : new Date(row.closes_at).toISOString(),
      phase: phaseOf(row, t),
      seatsLeft: counts.get(row.id)?.free ?? 0,
      maxSeatsPerUser: row.max_seats_per_user,
      // The seed stays secret until the open: before it, only its commitment is public.
      draw: { commitment: row.commitment, seed: t >= opensAt ? row.seed : null },
    };
  }

  function lineSettings(row: SaleRow): LineSettings {
    return { activeLimit: row.active_limit, paused: row.paused, message: row.message, version: row.settings_version, opensAt: ms(row.opens_at)! };
  }

  async function loadRow(saleId: string): Promise<SaleRow> {
    const row = await findSale(db, config.redisPrefix, saleId);
    if (!row) throw new DomainError('SALE_NOT_FOUND', `no sale ${saleId}`);
    if (phaseOf(row, now()) !== 'CLOSED') keepOpen(row);
    return row;
  }

  /** A sale read on its own (not by a refresh) that is not closed: served here until a refresh says otherwise. */
  function keepOpen(row: SaleRow): void {
    open.set(row.id, row);
    byConcert.set(row.concert_id, row.id);
  }

  /** Sales a token named that this instance looked up and found closed: closing is final. */
  const closedSales = new Set<string>();
  /** Look-ups of a token's sale under way, so a crowd with the same new sale makes one. */
  const learning = new Map<string, Promise<void>>();

  /**
   * Makes sure this instance knows the sale a genuine token names. A sale made on another instance
   * moments ago reaches this one at its next refresh (every REFRESH_MS); until then its fans would be
   * refused their own concert. Read once per sale, not per request: a closed sale is remembered.
   */
  function learnSale(saleId: string): Promise<void> | undefined {
    if (open.has(saleId) || closedSales.has(saleId)) return undefined;
    let pending = learning.get(saleId);
    if (!pending) {
      pending = findSale(db, config.redisPrefix, saleId)
        .then((row) => {
          if (!row || phaseOf(row, now()) === 'CLOSED') closedSales.add(saleId);
          else if (!open.has(saleId)) keepOpen(row);
        })
        .finally(() => learning.delete(saleId));
      learning.set(saleId, pending);
    }
    return pending;
  }

  /**
   * When the count now in `counts` began, per sale: a count that began earlier but ends later (queries
   * run side by side on a pool) must not replace it with older numbers.
   */
  const countStarted = new Map<string, number>();
  function keepCount(saleId: string, c: SeatCounts, startedAt: number): void {
    if ((countStarted.get(saleId) ?? -Infinity) > startedAt) return;
    countStarted.set(saleId, startedAt);
    counts.set(saleId, c);
  }

  async function refreshCounts(row: SaleRow): Promise<SeatCounts> {
    const startedAt = performance.now();
    const c = await countSeats(db, row.concert_id);
    keepCount(row.id, c, startedAt);
    return c;
  }

  /**
   * Every open sale's seat counts, in one query shared by all the sales' admission passes of one tick
   * (they run at the same moment): the database sees one query per tick, not one per sale. Shared only
   * with a pass whose `after` came before the query began (see LineHooks.admissionCap); the pass then
   * uses the numbers this query read, whatever other counts did meanwhile.
   */
  let sharedCounts: { at: number; startedAt: number; done: Promise<Map<string, SeatCounts>> } | undefined;
  function refreshAllCounts(t: number, after: number): Promise<Map<string, SeatCounts>> {
    if (sharedCounts && sharedCounts.startedAt > after && t - sharedCounts.at < config.queue.tickMs / 2) return sharedCounts.done;
    const rows = [...open.values()];
    const startedAt = performance.now();
    const done = countSeatsOfConcerts(
      db,
      rows.map((r) => r.concert_id),
    ).then((byConcert) => {
      const bySale = new Map<string, SeatCounts>();
      for (const r of rows) {
        const c = byConcert.get(r.concert_id) ?? { total: 0, sold: 0, held: 0, free: 0 };
        bySale.set(r.id, c);
        keepCount(r.id, c, startedAt);
      }
      return bySale;
    });
    sharedCounts = { at: t, startedAt, done };
    done.catch(() => (sharedCounts = undefined));
    return done;
  }

  /** Marks the sale sold out (once, in PostgreSQL) and ends its line: every fan in it is told at once. */
  async function endSoldOut(row: SaleRow): Promise<void> {
    // Known here before the write returns, so no concurrent refresh of the sales can show it open again.
    soldOut.add(row.id);
    if (!row.sold_out_at) {
      row.sold_out_at = new Date(now());
      // The conditional update has one winner across instances: the sell-out is counted once.
      if (await markSoldOut(db, row.id)) metrics?.soldOut(saleLineId(row.id));
    }
    if (endedLines.has(row.id)) return;
    const before = lossesOf(row.id);
    await queue.endLine(saleLineId(row.id), 'SOLD_OUT');
    remember(endedLines, row.id, before);
  }

  /**
   * The draw, at or after the open. Exactly one instance records it (a conditional update of the sale,
   * with the entries that took part); every instance that finds the line not drawn places the recorded
   * entries in the recorded seed's order, which writes the same places whoever does it.
   */
  async function ensureDrawn(row: SaleRow, store: QueueStore, t: number): Promise<boolean> {
    if (drawnLines.has(row.id)) return true;
    const before = lossesOf(row.id);
    if ((await store.stats(t)).drawn) {
      remember(drawnLines, row.id, before);
      return true;
    }
    let entries = await findDrawEntries(db, row.id);
    if (!entries) {
      const live = await store.closePrequeue(t);
      entries = (await recordDraw(db, row.id, live)) ? live : await findDrawEntries(db, row.id);
      // The database's clock has not reached opens_at yet: the next tick tries again.
      if (!entries) return false;
    }
    await store.applyDraw(drawOrder(row.seed, entries));
    remember(drawnLines, row.id, before);
    return true;
  }

  /**
   * How many the sale's line may admit now: nobody before the open and the draw, nobody while every
   * seat is held or sold, and never more in one pass than there are free seats. Admission resumes as
   * soon as a hold lapses, and the sold-out ends the line.
   */
  async function admissionCap(saleId: string, store: QueueStore, t: number, joinedBy: number): Promise<number> {
    const row = open.get(saleId);
    if (!row) return 0;
    const phase = phaseOf(row, t);
    if (phase === 'CLOSED') return 0;
    if (phase === 'SOLD_OUT') {
      await endSoldOut(row);
      return 0;
    }
    const c = (await refreshAllCounts(t, joinedBy)).get(saleId) ?? (await refreshCounts(row));
    if (c.total > 0 && c.sold >= c.total) {
      await endSoldOut(row);
      return 0;
    }
    if (phase !== 'OPEN' || !(await ensureDrawn(row, store, t))) return 0;
    return c.free;
  }

  function hooks(saleId: string): LineHooks {
    return {
      settings: {
        load: async () => lineSettings(await loadRow(saleId)),
        save: async (change) => {
          await updateSale(db, saleId, change);
          return lineSettings(await loadRow(saleId));
        },
      },
      admissionCap: (store, t, joinedBy) => admissionCap(saleId, store, t, joinedBy),
      describe: () => {
        const row = open.get(saleId);
        return row && { saleId, phase: phaseOf(row, now()), seatsLeft: counts.get(saleId)?.free ?? 0 };
      },
      minimumWaitSeconds: (t) => {
        const row = open.get(saleId);
        return row ? Math.max(0, (ms(row.opens_at)! - t) / 1000) : 0;
      },
      // A line Redis lost is drawn and ended again from PostgreSQL's record by the next passes.
      onReset: () => {
        losses.set(saleId, lossesOf(saleId) + 1);
        drawnLines.delete(saleId);
        endedLines.delete(saleId);
      },
    };
  }

  async function openLineOf(row: SaleRow): Promise<void> {
    const lineId = saleLineId(row.id);
    if (!queue.hasLine(lineId)) {
      if (!counts.has(row.id)) await refreshCounts(row);
      await queue.openLine(lineId, hooks(row.id));
    }
  }

  /** Re-reads the open sales, serves the new ones' lines and stops serving the closed ones'. */
  async function refresh(): Promise<void> {
    // Only a sale known before the read began and missing from it has closed. One learnt during the
    // read (a join or a token naming a sale made elsewhere since) is newer than the read: kept.
    const known = new Set(open.keys());
    const rows = await findOpenSales(db, config.redisPrefix);
    const next = new Map(rows.map((r) => [r.id, r]));
    for (const [saleId, row] of open) {
      if (next.has(saleId)) continue;
      if (!known.has(saleId)) {
        next.set(saleId, row);
        rows.push(row);
        continue;
      }
      // Closed: whoever still waits or shops in its line is told their token ended (SALE_CLOSED), the
      // seats they held are given back at once, then the line rests.
      await queue.endLine(saleLineId(saleId), 'EXPIRED');
      if (holds && row.closes_at) await holds.releaseSaleHolds(row.concert_id, new Date(row.closes_at));
      queue.closeLine(saleLineId(saleId));
    }
    // A read that began before this instance marked a sale sold out must not make it look open again.
    // Checked after the last await, as the rows replace the old ones: a sell-out seen during those
    // awaits marked the old row, not this one.
    for (const row of rows) {
      if (!row.sold_out_at && soldOut.has(row.id)) row.sold_out_at = new Date(now());
    }
    open = next;
    byConcert = new Map(rows.map((r) => [r.concert_id, r.id]));
    for (const row of rows) await openLineOf(row);
  }

  function adminView(row: SaleRow, stats: Awaited<ReturnType<QueueService['stats']>>): AdminSale {
    const c = counts.get(row.id) ?? { total: 0, sold: 0, held: 0, free: 0 };
    return {
      ...toSale(row),
      waiting: stats.waiting + stats.prequeued,
      active: stats.active,
      activeLimit: stats.activeLimit,
      admittedPerMinute: stats.admittedPerMinute,
      paused: stats.paused,
      message: stats.message,
      sold: c.sold,
      held: c.held,
      free: c.free,
    };
  }

  async function adminSale(saleId: string): Promise<AdminSale> {
    const row = await loadRow(saleId);
    await refreshCounts(row);
    return adminView(row, await queue.stats(saleLineId(saleId)));
  }

  function validTimes(t: { queueOpensAt: number; opensAt: number; closesAt: number | null }): void {
    if (!(t.queueOpensAt <= t.opensAt) || (t.closesAt !== null && !(t.opensAt < t.closesAt))) {
      throw new DomainError('VALIDATION_ERROR', 'the schedule must have queueOpensAt <= opensAt < closesAt');
    }
  }

  return {
    phaseOf,

    /** The sale of a concert that is not closed, if any: only its ACTIVE tokens reach the concert. */
    saleOfConcert(concertId: string): string | undefined {
      return byConcert.get(concertId);
    },

    /** Before answering a token of this sale from what this instance knows: knows the sale. */
    async learnSale(saleId: string | undefined): Promise<void> {
      if (saleId) await learnSale(saleId);
    },

    /** 403 SALE_MISMATCH unless a token of this line may reach this concert. */
    async assertConcertAccess(tokenSaleId: string | undefined, concertId: string): Promise<void> {
      if (tokenSaleId) await learnSale(tokenSaleId);
      const saleId = byConcert.get(concertId);
      if ((saleId ?? null) !== (tokenSaleId ?? null)) {
        throw new DomainError(
          'SALE_MISMATCH',
          saleId ? `concert ${concertId} is on sale: join the line of sale ${saleId}` : `this token's sale does not sell concert ${concertId}`,
        );
      }
    },

    /** Every open sale's seats as last counted (each admission pass counts them): no I/O. */
    *seatFigures(): Iterable<SeatFigures> {
      for (const saleId of open.keys()) {
        const c = counts.get(saleId);
        if (c) yield { lineId: saleLineId(saleId), free: c.free, held: c.held, sold: c.sold };
      }
    },

    /** The most seats a fan may hold or own in this sale. */
    maxSeatsPerUser(saleId: string): number {
      return open.get(saleId)?.max_seats_per_user ?? 4;
    },

    /** Before a fan joins a sale's line: 404/409 unless the sale takes joins now. */
    async admitToSale(saleId: string): Promise<void> {
      const row = open.get(saleId) ?? (await loadRow(saleId));
      const phase = phaseOf(row, now());
      if (phase === 'SCHEDULED') throw new DomainError('SALE_NOT_OPEN', `the line of sale ${saleId} opens at ${new Date(row.queue_opens_at).toISOString()}`);
      if (phase === 'SOLD_OUT') throw new DomainError('SOLD_OUT', `sale ${saleId} is sold out`);
      if (phase === 'CLOSED') throw new DomainError('SALE_CLOSED', `sale ${saleId} has closed`);
      await openLineOf(row);
    },

    async listSales(): Promise<Sale[]> {
      const t = now();
      return [...open.values()].filter((r) => phaseOf(r, t) !== 'CLOSED').map((r) => toSale(r, t));
    },

    async getSale(saleId: string): Promise<Sale> {
      const row = open.get(saleId) ?? (await loadRow(saleId));
      if (!counts.has(saleId)) await refreshCounts(row);
      return toSale(row);
    },

    async getDraw(saleId: string): Promise<Draw> {
      const row = open.get(saleId) ?? (await loadRow(saleId));
      if (now() < ms(row.opens_at)!)
        throw new DomainError('SALE_NOT_OPEN', `sale ${saleId} opens at ${new Date(row.opens_at).toISOString()}; the draw is made then`);
      let entries = drawEntries.get(saleId);
      if (!entries) {
        entries = await findDrawEntries(db, saleId);
        if (!entries) throw new DomainError('SALE_NOT_OPEN', `the draw of sale ${saleId} is being made; ask again in a moment`);
        drawEntries.set(saleId, entries);
      }
      return { saleId, commitment: row.commitment, seed: row.seed, entries };
    },

    /** After a seat of this concert was sold: if it was the last, the sale is sold out now, not at the next tick. */
    async afterSale(concertId: string): Promise<void> {
      const saleId = byConcert.get(concertId);
      const row = saleId ? open.get(saleId) : undefined;
      if (!row) return;
      const c = await refreshCounts(row);
      if (c.total > 0 && c.sold >= c.total) await endSoldOut(row);
    },

    async createSale(input: NewSale): Promise<AdminSale> {
      const times = {
        queueOpensAt: Date.parse(input.queueOpensAt),
        opensAt: Date.parse(input.opensAt),
        closesAt: input.closesAt ? Date.parse(input.closesAt) : null,
      };
      validTimes(times);
      const seed = newSeed();
      const outcome = await db.transaction().execute((trx) =>
        insertSale(trx, {
          deployment: config.redisPrefix,
          concertId: input.concertId,
          queueOpensAt: new Date(times.queueOpensAt),
          opensAt: new Date(times.opensAt),
          closesAt: times.closesAt === null ? null : new Date(times.closesAt),
          activeLimit: input.activeLimit ?? config.queue.activeLimit,
          maxSeatsPerUser: input.maxSeatsPerUser ?? 4,
          seed,
          commitment: commitmentOf(seed),
        }),
      );
      if (outcome === 'no-concert') throw new DomainError('CONCERT_NOT_FOUND', `no concert ${input.concertId}`);
      if (outcome === 'exists') throw new DomainError('SALE_EXISTS', `concert ${input.concertId} already has a sale that is not closed`);
      await refresh();
      return adminSale(outcome);
    },

    async listAdminSales(): Promise<AdminSale[]> {
      const sales: AdminSale[] = [];
      for (const row of open.values()) sales.push(adminView(row, await queue.stats(saleLineId(row.id))));
      return sales;
    },

    adminSale,

    /** An operator's change. A time may be moved only while it is still ahead (409 SALE_STARTED). */
    async updateSale(saleId: string, change: SaleChange): Promise<AdminSale> {
      const row = await loadRow(saleId);
      const t = now();
      const current = { queueOpensAt: ms(row.queue_opens_at)!, opensAt: ms(row.opens_at)!, closesAt: ms(row.closes_at) };
      const moving: [keyof typeof current, string | null | undefined][] = [
        ['queueOpensAt', change.queueOpensAt],
        ['opensAt', change.opensAt],
        ['closesAt', change.closesAt],
      ];
      for (const [field, value] of moving) {
        if (value === undefined) continue;
        const was = current[field];
        if (was !== null && was <= t) throw new DomainError('SALE_STARTED', `${field} has passed and can no longer be moved`);
      }
      const next = {
        queueOpensAt: change.queueOpensAt ? Date.parse(change.queueOpensAt) : current.queueOpensAt,
        opensAt: change.opensAt ? Date.parse(change.opensAt) : current.opensAt,
        closesAt: change.closesAt === undefined ? current.closesAt : change.closesAt === null ? null : Date.parse(change.closesAt),
      };
      validTimes(next);
      const update: SaleUpdate = {
        ...(change.activeLimit !== undefined ? { activeLimit: change.activeLimit } : {}),
        ...(change.paused !== undefined ? { paused: change.paused } : {}),
        ...(change.message !== undefined ? { message: operatorMessage(change.message) } : {}),
        ...(change.queueOpensAt ? { queueOpensAt: new Date(next.queueOpensAt) } : {}),
        ...(change.opensAt ? { opensAt: new Date(next.opensAt) } : {}),
        ...(change.closesAt !== undefined ? { closesAt: next.closesAt === null ? null : new Date(next.closesAt) } : {}),
      };
      await updateSale(db, saleId, update);
      await refresh();
      await queue.syncSettings(saleLineId(saleId));
      return adminSale(saleId);
    },

    async start(): Promise<void> {
      await refresh();
      timer = setInterval(() => {
        refresh().then(
          () => outage.ok(),
          (err: unknown) => outage.failed(err),
        );
      }, REFRESH_MS);
      timer.unref();
    },

    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type SaleService = ReturnType<typeof createSaleService>;

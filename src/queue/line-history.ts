// Each line's history for the operator page's charts: waiting and active, admissions and the waits the
// admitted had, kept in PostgreSQL per time bucket. Every instance counts what its own admission passes
// do and adds it to the bucket's row every bucket, so the charts show the whole deployment and outlive
// any one process; a crash loses at most one bucket of this instance's counts.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { WAIT_BUCKETS, type LineFigures, type QueueMetrics } from '../metrics/metrics.js';
import { addToHistory, pruneHistory, readHistory, type HistoryRow } from './line-history.repository.js';

/** How long buckets are kept. */
export const HISTORY_RETENTION_DAYS = 14;
/** A chart's most points: a longer window is read in wider steps. */
export const MAX_HISTORY_POINTS = 180;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

interface Pending {
  admitted: number;
  abandoned: number;
  /** Per WAIT_BUCKETS bucket, plus one for the waits beyond the last. */
  waitCounts: number[];
}

export interface HistoryPoint {
  at: string;
  waiting: number;
  active: number;
  admitted: number;
  abandoned: number;
  admittedPerMinute: number;
  /** Percentiles of the admitted tokens' waits, from the histogram's buckets; null with no admission. */
  waitSeconds: { p50: number; p90: number; p99: number } | null;
}

export interface LineHistoryView {
  bucketSeconds: number;
  stepSeconds: number;
  from: string;
  to: string;
  points: HistoryPoint[];
}

/** Which WAIT_BUCKETS bucket a wait falls in (the bucket whose bound is the first at or above it). */
function bucketOf(seconds: number): number {
  const i = WAIT_BUCKETS.findIndex((bound) => seconds <= bound);
  return i === -1 ? WAIT_BUCKETS.length : i;
}

/**
 * The q-quantile of waits counted per bucket, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; a quantile in the open-ended last bucket reads as its lower bound.
 */
export function waitQuantile(counts: readonly number[], q: number): number {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      if (i >= WAIT_BUCKETS.length) return WAIT_BUCKETS[WAIT_BUCKETS.length - 1]!;
      const lower = i === 0 ? 0 : WAIT_BUCKETS[i - 1]!;
      return lower + (WAIT_BUCKETS[i]! - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return WAIT_BUCKETS[WAIT_BUCKETS.length - 1]!;
}

function emptyCounts(): number[] {
  return new Array<number>(WAIT_BUCKETS.length + 1).fill(0);
}

/** Adds wait counts into `into`; a row written with another bucket list adds its surplus to the open-ended bucket. */
function addCounts(into: number[], counts: readonly number[]): void {
  for (let i = 0; i < counts.length; i++) into[Math.min(i, into.length - 1)]! += counts[i] ?? 0;
}

export function createLineHistory({
  db,
  prefix,
  bucketSeconds,
  now = Date.now,
}: {
  db: Kysely<DB>;
  prefix: string;
  bucketSeconds: number;
  now?: () => number;
}) {
  const bucketMs = bucketSeconds * 1000;
  let pending = new Map<string, Pending>();
  const lastFigures = new Map<string, LineFigures>();
  let prunedAt = 0;

  function pendingOf(lineId: string): Pending {
    let p = pending.get(lineId);
    if (!p) pending.set(lineId, (p = { admitted: 0, abandoned: 0, waitCounts: emptyCounts() }));
    return p;
  }

  const recorder: QueueMetrics = {
    admitted(lineId, count, joinedAt, at) {
      if (count === 0) return;
      const p = pendingOf(lineId);
      p.admitted += count;
      for (const t of joinedAt) p.waitCounts[bucketOf(Math.max(0, (at - t) / 1000))]!++;
    },
    abandoned(lineId, count) {
      if (count > 0) pendingOf(lineId).abandoned += count;
    },
  };

  return {
    ...recorder,

    /**
     * Adds this instance's counts since the last flush, and the lines' current figures, to the current
     * bucket. Counts a failed write could not add are kept for the next.
     */
    async flush(figures: Iterable<LineFigures>): Promise<void> {
      for (const f of figures) lastFigures.set(f.lineId, f);
      const taken = pending;
      pending = new Map();
      const at = new Date(Math.floor(now() / bucketMs) * bucketMs);
      const rows: HistoryRow[] = [];
      for (const lineId of new Set([...lastFigures.keys(), ...taken.keys()])) {
        const f = lastFigures.get(lineId);
        const p = taken.get(lineId);
        rows.push({
          line: prefix + lineId,
          at,
          waiting: f?.waiting ?? 0,
          active: f?.active ?? 0,
          admitted: p?.admitted ?? 0,
          abandoned: p?.abandoned ?? 0,
          waitCounts: p?.waitCounts ?? emptyCounts(),
        });
      }
      try {
        await addToHistory(db, rows);
      } catch (err) {
        for (const [lineId, p] of taken) {
          const into = pendingOf(lineId);
          into.admitted += p.admitted;
          into.abandoned += p.abandoned;
          addCounts(into.waitCounts, p.waitCounts);
        }
        throw err;
      }
      if (now() - prunedAt >= PRUNE_EVERY_MS) {
        prunedAt = now();
        await pruneHistory(db, new Date(now() - HISTORY_RETENTION_DAYS * 86_400_000));
      }
    },

    /**
     * The line's last `minutes`, in steps of whole buckets so that there are at most MAX_HISTORY_POINTS
     * points. A step's figures are its last bucket's; its admissions and waits are its buckets' sum.
     */
    async read(lineId: string, minutes: number): Promise<LineHistoryView> {
      const to = now();
      const from = to - minutes * 60_000;
      const stepMs = Math.max(1, Math.ceil((minutes * 60_000) / bucketMs / MAX_HISTORY_POINTS)) * bucketMs;
      const rows = await readHistory(db, prefix + lineId, new Date(Math.floor(from / stepMs) * stepMs));
      const points: HistoryPoint[] = [];
      let step: { at: number; last: HistoryRow; admitted: number; abandoned: number; waitCounts: number[] } | undefined;
      const close = () => {
        if (!step) return;
        const admittedPerMinute = step.admitted / (stepMs / 60_000);
        points.push({
          at: new Date(step.at).toISOString(),
          waiting: step.last.waiting,
          active: step.last.active,
          admitted: step.admitted,
          abandoned: step.abandoned,
          admittedPerMinute: Math.round(admittedPerMinute * 10) / 10,
          waitSeconds: step.waitCounts.every((n) => n === 0)
            ? null
            : {
                p50: Math.round(waitQuantile(step.waitCounts, 0.5)),
                p90: Math.round(waitQuantile(step.waitCounts, 0.9)),
                p99: Math.round(waitQuantile(step.waitCounts, 0.99)),
              },
        });
      };
      for (const row of rows) {
        const at = Math.floor(row.at.getTime() / stepMs) * stepMs;
        if (step?.at !== at) {
          close();
          step = { at, last: row, admitted: 0, abandoned: 0, waitCounts: emptyCounts() };
        }
        step.last = row;
        step.admitted += row.admitted;
        step.abandoned += row.abandoned;
        addCounts(step.waitCounts, row.waitCounts);
      }
      close();
      return { bucketSeconds, stepSeconds: stepMs / 1000, from: new Date(from).toISOString(), to: new Date(to).toISOString(), points };
    },
  };
}

export type LineHistory = ReturnType<typeof createLineHistory>;

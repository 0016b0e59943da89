// The audits of a simulated on-sale (`npm run simulate -- --sale`), as pure functions over what the
// fans saw, what the operator sampler saw and what the database recorded. Every check is observational
// and one-sided: it only calls something a violation when the observations prove it, whatever the
// delays between the simulator and the servers. Times are performance.now() milliseconds of the
// simulator unless a name says epoch.
import { createHash, createHmac } from 'node:crypto';
import { formatInt } from './stats.js';

export interface Audit {
  name: string;
  pass: boolean;
  detail: string;
}

/** One place in a sale's line, as its fan saw it (a fan who joins again after paying has two). */
export interface SaleEntryLog {
  index: number;
  entryId: string;
  token: string;
  /** The fan streams (SSE) instead of polling: its WAITING events carry no usable send time. */
  streams: boolean;
  joinSentAt: number;
  joinReceivedAt: number;
  /** `phase` of the join answer. */
  joinPhase: string;
  /** Latest send time of a request whose answer said WAITING (-Infinity: none). */
  lastWaitingSentAt: number;
  /** When the fan first received an answer saying ACTIVE (Infinity: never). */
  activeSeenAt: number;
  /** Every distinct non-null drawRank the fan was shown. */
  drawRanks: number[];
  /** When the fan first received status SOLD_OUT (Infinity: never, while the simulation ran). */
  soldOutSeenAt: number;
  /** It was WAITING (not ACTIVE) when it learned of the sell-out. */
  toldWhileWaiting: boolean;
  /** Latest send time of a request answered as only a live token is (WAITING/ACTIVE status, 2xx use). */
  lastLiveSentAt: number;
  /** Its payment was accepted (which ends the token). */
  paid: boolean;
  /** The token's expiresAt (epoch ms) as an ACTIVE answer told it: when its turn ends (NaN: never seen ACTIVE). */
  turnEndsAt: number;
}

export function sha256Hex(hex: string): string {
  return createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');
}

/**
 * The draw recomputed from its published parts: entries ascending by the hex HMAC-SHA256 keyed with the
 * seed's bytes over each entry id's 36-character text. Returns entryId -> place (1 first).
 */
export function recomputeDraw(seedHex: string, entries: readonly string[]): Map<string, number> {
  const key = Buffer.from(seedHex, 'hex');
  const keyed = entries.map((entryId) => ({ entryId, mac: createHmac('sha256', key).update(entryId, 'utf8').digest('hex') }));
  keyed.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  return new Map(keyed.map((k, i) => [k.entryId, i + 1]));
}

/** A read of the sale object, kept to prove the seed stayed secret until opensAt. */
export interface SaleRead {
  what: string;
  commitment: string;
  seed: string | null;
  /** The answer arrived before opensAt (by the simulator's clock): the server must have answered before it too. */
  answeredBeforeOpen: boolean;
}

export function auditDrawRecord(input: {
  reads: SaleRead[];
  draw: { commitment: string; seed: string; entries: string[] };
  entries: SaleEntryLog[];
  rankOf: Map<string, number>;
}): Audit {
  const { reads, draw, entries, rankOf } = input;
  const problems: string[] = [];
  const early = reads.filter((r) => r.answeredBeforeOpen);
  if (early.length === 0) problems.push('no read of the sale was answered before opensAt');
  const leaked = early.filter((r) => r.seed !== null);
  if (leaked.length > 0) problems.push(`seed published before opensAt by ${leaked.map((r) => r.what).join(', ')}`);
  const commitments = new Set([...reads.map((r) => r.commitment), draw.commitment]);
  if (commitments.size !== 1) problems.push(`${commitments.size} different commitments`);
  const early0 = early[0]?.commitment ?? reads[0]?.commitment;
  if (sha256Hex(draw.seed) !== early0) problems.push('SHA-256 of the seed is not the commitment published before opensAt');
  const laterSeeds = reads.filter((r) => !r.answeredBeforeOpen && r.seed !== null && r.seed !== draw.seed);
  if (laterSeeds.length > 0) problems.push(`the sale object published another seed than the draw (${laterSeeds.map((r) => r.what).join(', ')})`);

  const ours = new Map(entries.map((e) => [e.entryId, e]));
  const inDraw = new Set(draw.entries);
  if (inDraw.size !== draw.entries.length) problems.push(`${draw.entries.length - inDraw.size} duplicate entries`);
  const strangers = draw.entries.filter((id) => !ours.has(id)).length;
  if (strangers > 0) problems.push(`${strangers} entries no fan was given`);
  const preJoins = entries.filter((e) => e.joinPhase === 'PREQUEUE');
  const missing = preJoins.filter((e) => !inDraw.has(e.entryId)).length;
  if (missing > 0) problems.push(`${missing} fans told PREQUEUE at joining are not in the draw`);

  let ranksSeen = 0;
  let wrongRanks = 0;
  let rankedOutsiders = 0;
  let changing = 0;
  for (const e of entries) {
    if (e.drawRanks.length === 0) continue;
    if (e.drawRanks.length > 1) changing++;
    const rank = rankOf.get(e.entryId);
    if (rank === undefined) {
      rankedOutsiders++;
      continue;
    }
    ranksSeen++;
    if (e.drawRanks.some((r) => r !== rank)) wrongRanks++;
  }
  if (wrongRanks > 0) problems.push(`${wrongRanks} fans were shown a drawRank other than the recomputed one`);
  if (rankedOutsiders > 0) problems.push(`${rankedOutsiders} fans outside the draw were shown a drawRank`);
  if (changing > 0) problems.push(`${changing} fans were shown more than one drawRank`);

  return {
    name: 'the draw: seed secret until opensAt and matching its commitment, entries = the pre-queue, every rank shown = the recomputed one',
    pass: problems.length === 0,
    detail:
      `${early.length} reads before opensAt with seed null; SHA-256(seed) ${sha256Hex(draw.seed) === early0 ? '=' : '≠'} commitment; ` +
      `${formatInt(draw.entries.length)} entries (${formatInt(preJoins.length)} fans told PREQUEUE at joining); ` +
      `${formatInt(ranksSeen)} fans saw their drawRank, ${wrongRanks} differ from the recomputed order` +
      (problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''),
  };
}

/** When a polling fan was last seen WAITING; a streaming fan's events carry no usable send time. */
const seenWaiting = (e: SaleEntryLog) => (e.streams ? -Infinity : e.lastWaitingSentAt);

/**
 * Admission in arrival order, as far as clients can prove it. Fan A surely joined before fan B when A's
 * join answer arrived before B's join was sent (so A's arrival number is lower). If such an A is later
 * seen WAITING by a poll that was sent after B had already been told it was ACTIVE, the server
 * admitted B while A (earlier, live and still polling) waited: an overtake. Polling delay cannot fake
 * one: a WAITING answer to a request sent at time t means A was still waiting at some time >= t, and
 * B's ACTIVE answer received at t' means B was admitted at some time <= t' < t. Streaming fans count
 * as B only; fans who stopped polling simply contribute no late WAITING observations.
 */
export function arrivalOvertakes(fans: readonly SaleEntryLog[]): { checked: number; pairs: number; overtakes: number; worstMs: number } {
  const byJoinAnswer = fans.slice().sort((a, b) => a.joinReceivedAt - b.joinReceivedAt);
  const answers = byJoinAnswer.map((f) => f.joinReceivedAt);
  const prefixMaxWaiting: number[] = [];
  let max = -Infinity;
  for (const f of byJoinAnswer) {
    max = Math.max(max, seenWaiting(f));
    prefixMaxWaiting.push(max);
  }
  let checked = 0;
  let pairs = 0;
  let overtakes = 0;
  let worstMs = 0;
  for (const b of fans) {
    if (b.activeSeenAt === Infinity) continue;
    // How many fans' join answers arrived before b's join was sent.
    let lo = 0;
    let hi = answers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (answers[mid]! < b.joinSentAt) lo = mid + 1;
      else hi = mid;
    }
    checked++;
    pairs += lo;
    if (lo > 0 && prefixMaxWaiting[lo - 1]! > b.activeSeenAt) {
      overtakes++;
      worstMs = Math.max(worstMs, prefixMaxWaiting[lo - 1]! - b.activeSeenAt);
    }
  }
  return { checked, pairs, overtakes, worstMs };
}

/**
 * Admission order among fans that are surely ordered, observed from outside (the technique of the
 * general line's arrival-order audit): if A is surely ahead of B, and A is seen WAITING by a request
 * sent after B had been told ACTIVE, the server admitted B while A waited. A WAITING answer to a request
 * sent at t means A waited at some time ≥ t; B's ACTIVE answer received at t' means B was admitted at
 * some time ≤ t'. Streaming fans only count as B (an event's send time is unknown).
 *
 * - Among pre-queue entries, A is ahead of B when A's recomputed draw place is lower.
 * - Every pre-queue entry is ahead of every post-open entry.
 * - Among post-open entries, A is ahead of B when A's join answer arrived before B's join was sent.
 */
export function auditSaleOrder(entries: SaleEntryLog[], rankOf: Map<string, number>): Audit[] {
  const pre = entries.filter((e) => rankOf.has(e.entryId)).sort((a, b) => rankOf.get(a.entryId)! - rankOf.get(b.entryId)!);
  const post = entries.filter((e) => !rankOf.has(e.entryId));
  // Pre-queue among itself, by draw place.
  let preChecked = 0;
  let prePairs = 0;
  let preViolations = 0;
  let preWorst = 0;
  let max = -Infinity;
  for (const [i, b] of pre.entries()) {
    if (b.activeSeenAt !== Infinity) {
      preChecked++;
      prePairs += i;
      if (max > b.activeSeenAt) {
        preViolations++;
        preWorst = Math.max(preWorst, max - b.activeSeenAt);
      }
    }
    max = Math.max(max, seenWaiting(b));
  }
  const maxPreWaiting = max;

  // Post-open arrivals: behind the whole pre-queue, and among themselves in arrival order.
  let overPre = 0;
  let overPreWorst = 0;
  for (const b of post) {
    if (b.activeSeenAt !== Infinity && maxPreWaiting > b.activeSeenAt) {
      overPre++;
      overPreWorst = Math.max(overPreWorst, maxPreWaiting - b.activeSeenAt);
    }
  }
  const { checked: postChecked, pairs: postPairs, overtakes, worstMs } = arrivalOvertakes(post);
  const postWorst = Math.max(overPreWorst, worstMs);
  return [
    {
      name: 'pre-queue fans admitted in the recomputed draw order',
      pass: preViolations === 0,
      detail: `${formatInt(preChecked)} admitted pre-queue fans checked against ${formatInt(prePairs)} fans drawn ahead of them; ${preViolations} admitted while a fan drawn ahead was later seen WAITING${
        preViolations ? ` (worst by ${preWorst.toFixed(0)} ms)` : ''
      }`,
    },
    {
      name: 'post-open arrivals admitted after every pre-queue entry, in arrival order',
      pass: overPre === 0 && overtakes === 0,
      detail: `${formatInt(postChecked)} admitted post-open fans checked against ${formatInt(pre.length)} pre-queue entries and ${formatInt(postPairs)} surely-earlier arrivals; ${overPre} admitted while a pre-queue fan was later seen WAITING, ${overtakes} while a surely-earlier arrival was${
        overPre + overtakes ? ` (worst by ${postWorst.toFixed(0)} ms)` : ''
      }`,
    },
  ];
}

export interface SeatSample {
  sentAt: number;
  receivedAt: number;
  free: number;
}

/**
 * Nobody admitted while no seat was free. A sample saying free == 0 describes one moment inside
 * [sentAt, receivedAt]. Seats only become free when a hold lapses (holds and payments only take seats),
 * so if no hold can have lapsed since the sample was sent, no seat was free from the sample's answer on:
 * a zero interval runs from one sample's answer to the next sample (which must say 0 too) or to the
 * earliest moment a hold could lapse, whichever comes first. A hold "could lapse" from
 * `releaseMarginMs` before its heldUntil (the database compares held_until with its clock).
 *
 * An admission is a violation when the fan's last WAITING request was sent, and its first ACTIVE answer
 * received, inside one zero interval, and the WAITING request was sent at least `stalenessMs` after the
 * interval began: a server deciding on a seat count read a moment earlier is allowed that much.
 */
export function auditAdmissionWithoutSeat(
  samples: SeatSample[],
  releasesAt: number[],
  entries: SaleEntryLog[],
  opts: { releaseMarginMs: number; stalenessMs: number },
): Audit {
  const releases = releasesAt.map((t) => t - opts.releaseMarginMs).sort((a, b) => a - b);
  /** The earliest possible lapse at or after t (a lapse window ending before t is already in any sample sent after it). */
  const firstReleaseAfter = (t: number): number => {
    // Windows run [h - margin, h + margin]; one is still open at t when h + margin >= t, i.e. start >= t - 2 margin.
    const from = t - 2 * opts.releaseMarginMs;
    let lo = 0;
    let hi = releases.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (releases[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < releases.length ? releases[lo]! : Infinity;
  };
  // A chain of consecutive zero samples with no possible lapse from the first one's sending on is one
  // interval: with no seat coming free, free == 0 at the first stays 0 through the last.
  const intervals: Array<[number, number]> = [];
  let zeroPairs = 0;
  for (let i = 0; i + 1 < samples.length; i++) if (samples[i]!.free === 0 && samples[i + 1]!.free === 0) zeroPairs++;
  for (let i = 0; i + 1 < samples.length; ) {
    const a = samples[i]!;
    if (a.free !== 0 || samples[i + 1]!.free !== 0) {
      i++;
      continue;
    }
    const release = firstReleaseAfter(a.sentAt);
    if (release <= a.receivedAt) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j + 1 < samples.length && samples[j + 1]!.free === 0 && samples[j + 1]!.sentAt < release) j++;
    const start = a.receivedAt + opts.stalenessMs;
    const end = Math.min(samples[j]!.sentAt, release);
    if (start < end) intervals.push([start, end]);
    // The chain's last sample may begin the next chain (after a lapse it cut this one at).
    i = j;
  }
  const covered = intervals.reduce((s, [x, y]) => s + (y - x), 0);
  const starts = intervals.map(([s]) => s);
  const containing = (t: number): number => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    return i >= 0 && t < intervals[i]![1] ? i : -1;
  };
  let watched = 0;
  let violations = 0;
  for (const e of entries) {
    if (e.streams || e.lastWaitingSentAt === -Infinity) continue;
    const i = containing(e.lastWaitingSentAt);
    if (i < 0) continue;
    watched++;
    if (e.activeSeenAt !== Infinity && e.activeSeenAt <= intervals[i]![1]) violations++;
  }
  return {
    name: 'nobody admitted while no seat was free',
    pass: violations === 0,
    detail: `${formatInt(samples.length)} samples, ${formatInt(zeroPairs)} consecutive pairs with free = 0; ${formatInt(intervals.length)} intervals (${(covered / 1000).toFixed(1)} s) surely without a free seat (chains of zero samples with no hold able to lapse, less a ${opts.stalenessMs} ms allowance at the start); ${formatInt(
      watched,
    )} fans last seen WAITING inside one; ${violations} of them told ACTIVE before it ended`,
  };
}

export interface FinalPoll {
  entry: SaleEntryLog;
  status: number;
  /** `status` of a 200 answer, or the error code. */
  answer: string;
}

/**
 * No token of the sale live after the sell-out: every fan's token, polled once after the sale sold out,
 * answers SOLD_OUT (or 401 TOKEN_EXPIRED when it had ended before: paid, abandoned, timed out), and a paid
 * token always 401; and no request the fans sent more than `graceMs` after the sale was marked sold out
 * was answered as by a live token.
 */
export function auditAfterSoldOut(polls: FinalPoll[], entries: SaleEntryLog[], soldOutAt: number | undefined, graceMs: number): Audit {
  if (soldOutAt === undefined) return { name: 'no sale token WAITING or ACTIVE after SOLD_OUT', pass: false, detail: 'the sale did not sell out' };
  const tally = new Map<string, number>();
  let live = 0;
  let paidNot401 = 0;
  let other = 0;
  for (const p of polls) {
    const key = `${p.status} ${p.answer}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (p.status === 200 && (p.answer === 'WAITING' || p.answer === 'ACTIVE')) live++;
    else if (p.entry.paid && !(p.status === 401 && p.answer === 'TOKEN_EXPIRED')) paidNot401++;
    else if (!(p.status === 200 && p.answer === 'SOLD_OUT') && !(p.status === 401 && p.answer === 'TOKEN_EXPIRED')) other++;
  }
  const late = entries.filter((e) => e.lastLiveSentAt > soldOutAt + graceMs);
  const worst = late.reduce((w, e) => Math.max(w, e.lastLiveSentAt - soldOutAt), 0);
  return {
    name: 'no sale token WAITING or ACTIVE after SOLD_OUT',
    pass: polls.length > 0 && live === 0 && paidNot401 === 0 && other === 0 && late.length === 0,
    detail: `${formatInt(polls.length)} tokens polled after the sell-out: ${[...tally.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ×${formatInt(n)}`)
      .join(
        ', ',
      )}; ${live} live, ${paidNot401} paid tokens not 401, ${other} other answers; ${late.length} requests sent over ${graceMs} ms after sold_out_at answered as live${
      late.length ? ` (latest ${worst.toFixed(0)} ms after)` : ''
    }`,
  };
}

export interface ReservationSpan {
  userId: string;
  confirmed: boolean;
  /** Epoch ms. */
  createdAt: number;
  heldUntil: number;
}

/**
 * The most seats any fan held or owned at once, from the reservation rows: a CONFIRMED one counts from
 * its creation on, a lapsed one from its creation to `shrinkMs` before its heldUntil (a row is created
 * before it commits, so only overlaps that surely existed are counted).
 */
export function peakSeatsPerUser(spans: ReservationSpan[], shrinkMs: number): { peak: number; userId: string | undefined; over: (max: number) => number } {
  const byUser = new Map<string, ReservationSpan[]>();
  for (const s of spans) {
    let list = byUser.get(s.userId);
    if (!list) byUser.set(s.userId, (list = []));
    list.push(s);
  }
  const peaks = new Map<string, number>();
  for (const [userId, list] of byUser) {
    const events: Array<[number, number]> = [];
    for (const s of list) {
      const end = s.confirmed ? Infinity : s.heldUntil - shrinkMs;
      if (end <= s.createdAt) continue;
      events.push([s.createdAt, 1], [end, -1]);
    }
    // Ends before starts at the same moment.
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let n = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (n += d));
    peaks.set(userId, peak);
  }
  let peak = 0;
  let who: string | undefined;
  for (const [u, p] of peaks) if (p > peak) [peak, who] = [p, u];
  return { peak, userId: who, over: (max) => [...peaks.values()].filter((p) => p > max).length };
}

/** A hold a fan was granted: its heldUntil, and the end of the turn its token was told (both epoch ms). */
export interface GrantedHold {
  heldUntil: number;
  /** NaN when the fan never saw its token's ACTIVE expiresAt (it then proves nothing). */
  turnEndsAt: number;
}

/**
 * No seat stayed held past its token's end. Seen by the fans: no hold was granted with a heldUntil after
 * the end of its token's turn. Recorded by the database, for the tokens that ended by paying (the only
 * end it records): no hold of a token was made after its payment, and none still blocked its seat more
 * than `graceMs` after it (those are given back when the token ends).
 */
export function auditHoldsWithinTurns(
  holds: readonly GrantedHold[],
  paidTokens: { heldAfterPayment: number; stillHeldAfterPayment: number },
  graceMs: number,
): Audit {
  const checked = holds.filter((h) => Number.isFinite(h.turnEndsAt));
  const past = checked.filter((h) => h.heldUntil > h.turnEndsAt);
  const worst = past.reduce((m, h) => Math.max(m, h.heldUntil - h.turnEndsAt), 0);
  return {
    name: "no seat held past its token's end",
    pass: past.length === 0 && paidTokens.heldAfterPayment === 0 && paidTokens.stillHeldAfterPayment === 0,
    detail:
      `${formatInt(checked.length)} of ${formatInt(holds.length)} granted holds checked against their turn's end: ${past.length} ended after it` +
      (past.length ? ` (worst by ${worst} ms)` : '') +
      `; holds of paid tokens: ${paidTokens.heldAfterPayment} made after the payment, ${paidTokens.stillHeldAfterPayment} still HELD past it by more than ${graceMs} ms`,
  };
}

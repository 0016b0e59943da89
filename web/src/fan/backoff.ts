// How long to wait before asking a service that did not answer again: exponential back-off with full
// jitter (a random wait up to base·2^attempt, capped), so a crowd whose server came back does not
// return all in the same second.

const baseMs = 1_000;
const capMs = 30_000;

/** The wait before retry number `attempt + 1` (attempt 0 is the first retry), in ms. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

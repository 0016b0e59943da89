// What this instance knows about taken seats, so a stampede on a few seats costs the database one
// attempt per seat (and per moment) rather than one per fan. A sold seat stays sold forever; a held seat
// stays held until its heldUntil unless its token ends first (then it is given back at once, on any
// instance), so the caller trusts "held until T" only for a moment (see HELD_CLAIM_MS in the service).
// Only the database decides who takes a free seat.

export class SeatClaims {
  /** seat key → epoch ms until which the seat is certainly taken (Infinity once sold). */
  private readonly takenUntil = new Map<string, number>();
  /** seat key → the attempt on it now in flight from this instance. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly maxEntries = 100_000) {}

  static key(seat: { concertId: string; date: string; number: number }): string {
    return `${seat.concertId}|${seat.date}|${seat.number}`;
  }

  isTaken(key: string, now: number): boolean {
    const until = this.takenUntil.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.takenUntil.delete(key);
    return false;
  }

  markTaken(key: string, until: number): void {
    if (this.takenUntil.size >= this.maxEntries && !this.takenUntil.has(key)) this.takenUntil.clear();
    this.takenUntil.set(key, Math.max(until, this.takenUntil.get(key) ?? 0));
  }

  /** The seat was given back (its hold released here): nothing known about it holds any more. */
  forget(key: string): void {
    this.takenUntil.delete(key);
  }

  /**
   * Runs `attempt` unless another attempt on the same seat is in flight here; then waits for that
   * one first and returns undefined, so the caller looks at what it learned before trying itself.
   */
  async once<T>(key: string, attempt: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    const pending = this.inFlight.get(key);
    if (pending) {
      await pending.catch(() => undefined);
      return { ran: false };
    }
    const run = attempt();
    this.inFlight.set(key, run);
    try {
      return { ran: true, value: await run };
    } finally {
      this.inFlight.delete(key);
    }
  }
}

// Logs a failing dependency once per outage, not once per tick or request: the first failure with its
// error, a reminder with a count while it lasts, and one line when it works again.

export interface OutageLogger {
  error: (obj: unknown, msg: string) => void;
  warn: (obj: unknown, msg: string) => void;
  info: (obj: unknown, msg: string) => void;
}

/** While an outage lasts, a reminder at most this often (so a long one is still visible in the logs). */
const REMIND_MS = 30_000;

export class OutageLog {
  private since: number | undefined;
  private failures = 0;
  private lastLogged = 0;

  constructor(
    private readonly log: OutageLogger | undefined,
    private readonly what: string,
    private readonly now: () => number = Date.now,
  ) {}

  get failing(): boolean {
    return this.since !== undefined;
  }

  failed(err: unknown): void {
    const now = this.now();
    this.failures++;
    if (this.since === undefined) {
      this.since = now;
      this.lastLogged = now;
      this.log?.error({ err }, `${this.what} failed; further failures are counted until it recovers`);
    } else if (now - this.lastLogged >= REMIND_MS) {
      this.lastLogged = now;
      this.log?.warn({ failures: this.failures, forMs: now - this.since, err: String(err) }, `${this.what} still failing`);
    }
  }

  ok(): void {
    if (this.since === undefined) return;
    this.log?.info({ failures: this.failures, forMs: this.now() - this.since }, `${this.what} recovered`);
    this.since = undefined;
    this.failures = 0;
  }
}

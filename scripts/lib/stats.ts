// Latency bookkeeping for client-measured calls and the plain-text / Markdown tables both tools print.

/** Collects latencies (ms) per label, plus status counts, and summarises them. */
export class LatencyLog {
  private readonly samples = new Map<string, number[]>();
  private readonly statuses = new Map<string, Map<string, number>>();

  record(label: string, ms: number, status: number | string): void {
    let list = this.samples.get(label);
    if (!list) this.samples.set(label, (list = []));
    list.push(ms);
    let counts = this.statuses.get(label);
    if (!counts) this.statuses.set(label, (counts = new Map()));
    const key = String(status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  summary(): Array<{ label: string; count: number; p50: number; p99: number; max: number; statuses: Record<string, number> }> {
    return [...this.samples.entries()].map(([label, list]) => {
      const sorted = Float64Array.from(list).sort();
      return {
        label,
        count: sorted.length,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted[sorted.length - 1] ?? 0,
        statuses: Object.fromEntries(this.statuses.get(label) ?? []),
      };
    });
  }
}

/** The q-quantile (0..1) of ascending-sorted values, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Columns padded for a terminal. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** A single-line progress bar, redrawn in place with \r. */
export function progressLine(fraction: number, text: string, width = 28): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`;
}

/** How often progress is printed where it cannot be redrawn (a CI log, a file). */
const PLAIN_PROGRESS_EVERY_MS = 5_000;

/**
 * Progress on stderr: a bar redrawn in place on a terminal; elsewhere a plain line every few seconds,
 * so a CI log is not flooded with redraws. `done` ends the bar (and always prints).
 */
export function progressWriter(stream: NodeJS.WriteStream = process.stderr): (fraction: number, text: string, done?: boolean) => void {
  let lastPlain = -Infinity;
  return (fraction, text, done = false) => {
    if (stream.isTTY) {
      stream.write(progressLine(fraction, text) + (done ? '\n' : ''));
      return;
    }
    const now = Date.now();
    if (!done && now - lastPlain < PLAIN_PROGRESS_EVERY_MS) return;
    lastPlain = now;
    stream.write(`[${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%] ${text}\n`);
  };
}

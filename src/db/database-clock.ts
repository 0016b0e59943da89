// Hold times are written by the database's clock and compared here with this process's clock. Caches
// keyed on them (taken seats, listings) stop relying on such a time a little early, in case ours runs behind.

const CLOCK_MARGIN_MS = 500;

/** This process's epoch ms until which the database time `at` can be relied on (Infinity for none). */
export function reliableUntil(at: Date | string | null | undefined): number {
  return at ? new Date(at).getTime() - CLOCK_MARGIN_MS : Infinity;
}

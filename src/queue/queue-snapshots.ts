// Carries the in-process lines over a restart: each line's state and the tokens that changed are written
// to the database every few seconds while it changes and once more on shutdown, and read back at start.
// A crash loses at most the changes since the last snapshot; the fans who joined in that window are told
// LINE_RESET and rejoin.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { OutageLog, type OutageLogger } from '../health/outage-log.js';
import { loadQueueSnapshots, saveQueueSnapshot } from './queue-line.repository.js';
import type { SavedLine } from './queue.store.factory.js';
import type { LineState, MemoryQueueLines, SavedToken } from './queue.store.memory.js';

export const SNAPSHOT_INTERVAL_MS = 2_000;

/** Every line saved under this deployment's prefix (the rows are keyed `<prefix><lineId>`). */
export async function loadSavedLines(db: Kysely<DB>, prefix: string, log?: OutageLogger): Promise<SavedLine[]> {
  const lines: SavedLine[] = [];
  for (const row of await loadQueueSnapshots(db, prefix)) {
    try {
      const state = JSON.parse(row.state) as LineState;
      if (state.version !== 3) throw new Error(`unknown snapshot version ${String(state.version)}`);
      const tokens = row.tokens.map((t) => JSON.parse(t) as SavedToken);
      lines.push({ lineId: row.line.slice(prefix.length), snapshot: { ...state, tokens }, savedAt: row.savedAt.getTime() });
    } catch (err) {
      // A line that cannot be read is a line lost: start a new one rather than refuse to start.
      log?.error({ err, line: row.line }, 'a saved waiting line could not be read; starting it empty');
    }
  }
  return lines;
}

export interface SnapshotLoop {
  /** Stops the timer and writes a last snapshot (on shutdown). */
  stop(): Promise<void>;
}

export function startSnapshots(options: {
  db: Kysely<DB>;
  lines: MemoryQueueLines;
  prefix: string;
  intervalMs?: number;
  log?: OutageLogger;
  now?: () => number;
}): SnapshotLoop {
  const { db, lines, prefix, log, now = Date.now } = options;
  const outage = new OutageLog(log, 'saving the waiting lines');
  const savedChanges = new Map<string, number>();
  /** Lines whose last save failed: what it carried is gone from the store's changes, so the next is whole. */
  const whole = new Set<string>();
  let saving: Promise<void> = Promise.resolve();

  const save = () => {
    saving = saving.then(async () => {
      try {
        for (const [lineId, store] of lines.entries()) {
          const changes = store.changeCount;
          if (changes === savedChanges.get(lineId) && !whole.has(lineId)) continue;
          const replace = whole.has(lineId) || !savedChanges.has(lineId);
          const delta = replace ? (({ tokens, ...state }) => ({ state, tokens, forgotten: [] as string[] }))(store.snapshot()) : store.takeDelta();
          whole.add(lineId);
          await saveQueueSnapshot(db, {
            line: prefix + lineId,
            state: JSON.stringify(delta.state),
            tokens: delta.tokens.map((t): [string, string] => [t[0], JSON.stringify(t)]),
            forgotten: delta.forgotten,
            replace,
            savedAt: new Date(now()),
          });
          whole.delete(lineId);
          savedChanges.set(lineId, changes);
        }
        outage.ok();
      } catch (err) {
        outage.failed(err);
      }
    });
    return saving;
  };

  const timer = setInterval(() => void save(), options.intervalMs ?? SNAPSHOT_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await save();
    },
  };
}

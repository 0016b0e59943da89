// Carries the in-process line over a restart: a snapshot of it is written to the database every few
// seconds while it changes and once more on shutdown, and read back at start. A crash loses at most the
// changes since the last snapshot; the fans who joined in that window are told LINE_RESET and rejoin.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { OutageLog, type OutageLogger } from '../health/outage-log.js';
import { loadQueueSnapshot, saveQueueSnapshot } from './queue-line.repository.js';
import type { MemoryQueueStore, QueueSnapshot } from './queue.store.memory.js';

export const SNAPSHOT_INTERVAL_MS = 2_000;

export async function loadSavedLine(
  db: Kysely<DB>,
  line: string,
  log?: OutageLogger,
): Promise<{ snapshot: QueueSnapshot; savedAt: number } | undefined> {
  const saved = await loadQueueSnapshot(db, line);
  if (!saved) return undefined;
  try {
    const snapshot = JSON.parse(saved.body) as QueueSnapshot;
    if (snapshot.version !== 1 || !Array.isArray(snapshot.tokens)) throw new Error(`unknown snapshot version ${String(snapshot.version)}`);
    return { snapshot, savedAt: saved.savedAt.getTime() };
  } catch (err) {
    // A line that cannot be read is a line lost: start a new one rather than refuse to start.
    log?.error({ err }, 'the saved waiting line could not be read; starting an empty one');
    return undefined;
  }
}

export interface SnapshotLoop {
  /** Stops the timer and writes a last snapshot (on shutdown). */
  stop(): Promise<void>;
}

export function startSnapshots(options: {
  db: Kysely<DB>;
  store: MemoryQueueStore;
  line: string;
  intervalMs?: number;
  log?: OutageLogger;
  now?: () => number;
}): SnapshotLoop {
  const { db, store, line, log, now = Date.now } = options;
  const outage = new OutageLog(log, 'saving the waiting line');
  let savedChanges = -1;
  let saving: Promise<void> = Promise.resolve();

  const save = () => {
    saving = saving.then(async () => {
      const changes = store.changeCount;
      if (changes === savedChanges) return;
      try {
        await saveQueueSnapshot(db, line, JSON.stringify(store.snapshot()), new Date(now()));
        savedChanges = changes;
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

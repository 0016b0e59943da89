// The embedded database on a thread of its own: PGliteThread starts pglite-worker, sends it statements
// and turns its answers back into results and real Errors. PGlite runs its WASM PostgreSQL
// synchronously, so on the main thread every statement (and every burst of disk writes) stalled every
// request; here only the worker waits. Also the protocol both sides share.
import { Worker } from 'node:worker_threads';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';

/** What the worker opens: a directory (or 'memory://'), or a dumped data directory to load. */
export type WorkerSource = { dataDir: string } | { template: ArrayBuffer };

/** A query, with `begin` run first when the query opens a transaction (see PGliteConnection). */
export type WorkerRequest = { id: number; op: 'query'; sql: string; params: unknown[]; begin?: string } | { id: number; op: 'close' };

export interface QueryAnswer<R = unknown> {
  rows: R[];
  affectedRows?: number;
  command?: string;
}

/** A PostgreSQL error's fields that survive the trip between threads (an Error's own class does not). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  constraint?: string;
  detail?: string;
  severity?: string;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  where?: string;
}

/** Replies carry the request's id; id 0 is the worker's one report that the database opened (or not). */
export type WorkerReply = { id: number; ok: true; answer?: QueryAnswer } | { id: number; ok: false; error: SerializedError };

const ERROR_FIELDS = ['code', 'constraint', 'detail', 'severity', 'hint', 'schema', 'table', 'column', 'where'] as const;

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: SerializedError = { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  const fields = err as unknown as Record<string, unknown>;
  for (const key of ERROR_FIELDS) if (typeof fields[key] === 'string') out[key] = fields[key];
  return out;
}

/** An error the database raised in the worker: an Error here, with PostgreSQL's SQLSTATE `code` and fields. */
export class EmbeddedDatabaseError extends Error {
  code?: string;
  constraint?: string;
  detail?: string;
  severity?: string;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  where?: string;
  /** The stack in the worker, where the error was raised. */
  workerStack?: string;

  constructor(serialized: SerializedError) {
    super(serialized.message);
    this.name = 'EmbeddedDatabaseError';
    for (const key of ERROR_FIELDS) if (serialized[key] !== undefined) this[key] = serialized[key];
    if (serialized.stack) this.workerStack = serialized.stack;
  }
}

/**
 * The worker's entry. The build runs plain .js. Under vitest or tsx this module and its sibling are
 * TypeScript, and a worker thread does not inherit the parent's loader: on Node 20 `--import tsx` in
 * its execArgv does not reach the entry module either, so a small bootstrap registers tsx's ESM hooks
 * inside the thread first and then imports the .ts entry.
 */
function startWorker(workerData: WorkerSource, transferList: ArrayBuffer[]): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData, transferList });
  }
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./pglite-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, transferList });
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (err: Error) => void;
}

export class PGliteThread {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly lock: DataDirLock | undefined,
  ) {
    worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      // An idle database thread must not keep the process alive, but one with a statement in flight must.
      if (this.pending.size === 0) worker.unref();
      waiter.resolve(reply);
    });
    worker.on('error', (err) => this.fail(new Error(`the embedded database thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => this.fail(new Error(`the embedded database thread exited (code ${code})`)));
  }

  /**
   * Starts the worker and waits until PGlite is open. A real directory is locked first, for as long as
   * this thread lives, so a second process cannot open it too.
   */
  static async open(source: { dataDir: string } | { template: Blob }): Promise<PGliteThread> {
    const lock = 'dataDir' in source && !source.dataDir.startsWith('memory://') ? await lockDataDir(source.dataDir) : undefined;
    let worker: Worker | undefined;
    try {
      const workerData: WorkerSource = 'template' in source ? { template: await source.template.arrayBuffer() } : source;
      // The template's bytes move to the worker rather than being copied.
      worker = startWorker(workerData, 'template' in workerData ? [workerData.template] : []);
      const thread = new PGliteThread(worker, lock);
      // Id 0 is the worker's report that the database is open.
      const opened = await thread.await(0);
      if (!opened.ok) throw new EmbeddedDatabaseError(opened.error);
      return thread;
    } catch (err) {
      await worker?.terminate();
      await lock?.release();
      throw err;
    }
  }

  get closed(): boolean {
    return this.closing !== undefined || this.exited !== undefined;
  }

  /** The worker runs statements one at a time in the order they were sent. */
  readonly ordered = true;

  async query<R>(sql: string, params: unknown[] = [], options?: { begin?: string }): Promise<QueryAnswer<R>> {
    const reply = await this.send({ id: this.nextId++, op: 'query', sql, params, ...(options?.begin ? { begin: options.begin } : {}) });
    // Thrown here, after the await, so the stack shows the caller's async frames.
    if (!reply.ok) throw new EmbeddedDatabaseError(reply.error);
    return reply.answer as QueryAnswer<R>;
  }

  /** Closes PGlite in the worker (flushing it to disk), ends the thread and frees DATA_DIR. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (!this.exited) {
          const reply = await this.send({ id: this.nextId++, op: 'close' });
          if (!reply.ok) throw new EmbeddedDatabaseError(reply.error);
        }
      } finally {
        await this.worker.terminate();
        await this.lock?.release();
      }
    })();
    return this.closing;
  }

  private send(request: WorkerRequest): Promise<WorkerReply> {
    if (this.exited) return Promise.reject(this.exited);
    if (this.closing && request.op !== 'close') return Promise.reject(new Error('the embedded database is closed'));
    const reply = this.await(request.id);
    try {
      this.worker.postMessage(request);
    } catch (err) {
      // A parameter that cannot be cloned to the worker (a function, say) never left this thread.
      this.pending.delete(request.id);
      if (this.pending.size === 0) this.worker.unref();
      return Promise.reject(err);
    }
    return reply;
  }

  private await(id: number): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
  }

  private fail(err: Error): void {
    this.exited ??= err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}

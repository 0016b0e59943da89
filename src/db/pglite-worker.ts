// The embedded database's thread (started by PGliteThread): opens PGlite on a directory, in memory or
// from a dumped template, then runs the statements it is sent one at a time and posts back each
// answer or error. Everything PGlite does synchronously, it does here, off the main thread.
import { PGlite } from '@electric-sql/pglite';
import { parentPort, workerData } from 'node:worker_threads';
import { INT8_OID, readInt8 } from './int8.js';
import { serializeError, type WorkerReply, type WorkerRequest, type WorkerSource } from './pglite-thread.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker runs as a worker thread (see PGliteThread), not on its own');

const source = workerData as WorkerSource;
const parsers = { [INT8_OID]: readInt8 };

function post(reply: WorkerReply): void {
  try {
    port!.postMessage(reply);
  } catch (err) {
    // A value in the rows that cannot cross to the main thread: the caller gets an error, not silence.
    port!.postMessage({ id: reply.id, ok: false, error: serializeError(err) } satisfies WorkerReply);
  }
}

async function open(): Promise<PGlite | undefined> {
  try {
    const pglite =
      'template' in source ? await PGlite.create({ loadDataDir: new Blob([source.template]), parsers }) : await PGlite.create(source.dataDir, { parsers });
    post({ id: 0, ok: true });
    return pglite;
  } catch (err) {
    // The thread then ends by itself: nothing listens for statements.
    post({ id: 0, ok: false, error: serializeError(err) });
    return undefined;
  }
}

async function handle(pglite: PGlite, request: WorkerRequest): Promise<void> {
  try {
    if (request.op === 'query') {
      if (request.begin) await pglite.query(request.begin);
      const result = await pglite.query(request.sql, request.params);
      post({ id: request.id, ok: true, answer: { rows: result.rows, affectedRows: result.affectedRows, command: result.command } });
    } else {
      if (!pglite.closed) await pglite.close();
      post({ id: request.id, ok: true });
    }
  } catch (err) {
    post({ id: request.id, ok: false, error: serializeError(err) });
  }
}

const pglite = await open();
if (pglite) {
  // One at a time, in arrival order: the main thread's session lock decides the order, this keeps it.
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(() => handle(pglite, request));
  });
}

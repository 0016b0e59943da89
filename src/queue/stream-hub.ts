// The open Server-Sent Event streams of one instance, by line. A change of a line is worked out once
// for the line, not once per stream: its streams are walked in slices, each token read as a poll reads
// it (from the store's copy of the line: no round trip, nor even a promise, for a token the copy
// vouches for), and a stream is written only when its view changed. Between slices the event loop
// serves other requests, so ten thousand streams do not block it. A stream whose client does not read
// (its socket buffer is full) is not written more: it gets the newest view once it drains. At
// `maxStreams` open streams a new one is refused (the route answers 503 with Retry-After, and the
// client polls instead).
import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { TokenClaims } from './queue-token.js';
import type { LineTokenState, QueueService, TokenView } from './queue.service.js';

/** Streams one slice handles before the event loop gets its turn. */
const SLICE = 500;

/**
 * How long a change waits for the ones right behind it before the line's streams are walked: an
 * admission pass of a big line is several store calls and a published message, each a change, and
 * its streams should hear of the pass once, not once per call.
 */
const GATHER_MS = 25;

/**
 * A stream hears that its place alone moved at most this often after the last such move (the first
 * move after other news goes at once), and that other figures alone changed (estimate, seats left) at
 * most this often after its last event; any other change (admitted, ended, paused, a message, the
 * sale's phase) at once. A line admitting by the tick would otherwise write every stream four times a
 * second. Meanwhile the stream shows a place it has already passed, as a poll's copy may: a position
 * overstated, never understated.
 */
const FIGURES_EVERY_MS = 1_000;

/** The parts of a view that move with the line and may wait FIGURES_EVERY_MS. */
const FIGURES = new Set<string>(['position', 'estimatedWaitSeconds', 'pollAfterSeconds', 'expiresAt', 'seatsLeft']);

/** Whether a token's state differs from the view shown in more than the figures (that a state can tell). */
function stateNewsIn(state: LineTokenState, shown: TokenView): boolean {
  return (
    state.status !== shown.status ||
    state.paused !== shown.paused ||
    (state.message ?? undefined) !== shown.message ||
    state.reason !== shown.reason ||
    (shown.drawRank !== undefined && state.drawRank !== shown.drawRank)
  );
}

/** Whether `next` differs from `shown` in more than the figures. */
function newsIn(next: TokenView, shown: TokenView): boolean {
  const a = next as unknown as Record<string, unknown>;
  const b = shown as unknown as Record<string, unknown>;
  let keys = 0;
  for (const key in a) {
    keys++;
    if (!FIGURES.has(key) && a[key] !== b[key]) return true;
  }
  for (const _ in b) keys--;
  return keys !== 0;
}

export interface HubStream {
  claims: TokenClaims;
  lineId: string;
  raw: ServerResponse;
}

interface OpenStream extends HubStream {
  /** The last state written, as sent and as a view. */
  last: string;
  shown: TokenView | undefined;
  /** When the stream was last written (performance.now()). */
  shownAt: number;
  /** When a walk last wrote a move of its place alone (performance.now()); -Infinity after other news. */
  movedAt: number;
  /** A state held back while the socket drains. */
  pending: string | undefined;
  closed: boolean;
  /** Reads that need I/O run one after another, so states leave in the order they were read. */
  reading: Promise<void>;
  /** Such reads queued or under way: while there are any, a read answerable at once waits its turn too. */
  queued: number;
  heartbeat: NodeJS.Timeout;
}

interface LineStreams {
  streams: Set<OpenStream>;
  off: () => void;
  /** A walk waiting for the changes right behind the first (GATHER_MS). */
  gathering: NodeJS.Timeout | undefined;
  /** A walk for the streams whose figures were held back (FIGURES_EVERY_MS). */
  catchingUp: NodeJS.Timeout | undefined;
  walking: Promise<void> | undefined;
  again: boolean;
}

export interface StreamHubOptions {
  queue: Pick<QueueService, 'peek' | 'peekNow' | 'view' | 'onChange'>;
  maxStreams: number;
  /** How often a stream sends a heartbeat and its state (fresh estimate), and counts as a poll. */
  heartbeatMs: number;
  /** A read failed (the store is away): the stream stays open and tries again at the next change. */
  onError: (error: unknown) => void;
  onOpen?: () => void;
  onClose?: () => void;
}

export class StreamHub {
  private readonly lines = new Map<string, LineStreams>();
  private count = 0;

  constructor(private readonly options: StreamHubOptions) {}

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count >= this.options.maxStreams;
  }

  /** Starts serving a stream whose headers are written, with its first state. Returns a function that ends it. */
  open(stream: HubStream, first: TokenView): () => void {
    const open: OpenStream = {
      ...stream,
      last: '',
      shown: undefined,
      shownAt: Number.NEGATIVE_INFINITY,
      movedAt: Number.NEGATIVE_INFINITY,
      pending: undefined,
      closed: false,
      reading: Promise.resolve(),
      queued: 0,
      heartbeat: setInterval(() => {
        if (!open.raw.writableNeedDrain) open.raw.write(': heartbeat\n\n');
        this.read(open, true);
      }, this.options.heartbeatMs),
    };
    let line = this.lines.get(stream.lineId);
    if (!line) {
      const created: LineStreams = {
        streams: new Set(),
        off: () => undefined,
        gathering: undefined,
        catchingUp: undefined,
        walking: undefined,
        again: false,
      };
      created.off = this.options.queue.onChange(() => this.changed(created), stream.lineId);
      this.lines.set(stream.lineId, created);
      line = created;
    }
    line.streams.add(open);
    this.count++;
    this.options.onOpen?.();
    const end = () => this.close(open);
    open.raw.on('close', end);
    open.raw.on('drain', () => {
      const pending = open.pending;
      open.pending = undefined;
      if (pending !== undefined && !open.closed) this.write(open, pending);
    });
    this.send(open, first, true);
    return end;
  }

  /** Ends every stream (the server is closing). */
  closeAll(): void {
    for (const line of [...this.lines.values()]) for (const stream of [...line.streams]) this.close(stream);
  }

  /** A change of the line: its streams are walked once the changes right behind it are in too. */
  private changed(line: LineStreams): void {
    if (line.walking) line.again = true;
    else
      line.gathering ??= setTimeout(() => {
        line.gathering = undefined;
        this.walk(line);
      }, GATHER_MS);
  }

  /** One walk over the line's streams (changed() starts one only when none runs), and one more if changes came meanwhile. */
  private walk(line: LineStreams): void {
    line.walking = (async () => {
      do {
        line.again = false;
        const streams = [...line.streams];
        for (let i = 0; i < streams.length; i += SLICE) {
          if (i > 0) await yieldToLoop();
          const reads: Promise<void>[] = [];
          for (const stream of streams.slice(i, i + SLICE)) {
            const read = this.read(stream, false, line);
            if (read) reads.push(read);
          }
          if (reads.length > 0) await Promise.all(reads);
        }
      } while (line.again);
    })().finally(() => {
      line.walking = undefined;
    });
  }

  /**
   * Reads the stream's token and sends its state if it changed (`always`: the heartbeat sends it
   * anyway). Done at once when the store answers from memory; else returns the read under way.
   */
  private read(stream: OpenStream, always: boolean, line?: LineStreams): Promise<void> | undefined {
    if (stream.closed) return undefined;
    if (stream.queued === 0) {
      let state: LineTokenState | null | undefined;
      try {
        state = this.options.queue.peekNow(stream.claims);
      } catch (error) {
        this.options.onError(error);
        return undefined;
      }
      if (state !== undefined) {
        this.deliver(stream, state, always, line);
        return undefined;
      }
    }
    stream.queued++;
    stream.reading = stream.reading.then(async () => {
      try {
        if (stream.closed) return;
        const state = await this.options.queue.peek(stream.claims);
        if (!stream.closed) this.deliver(stream, state, always, line);
      } catch (error) {
        this.options.onError(error);
      } finally {
        stream.queued--;
      }
    });
    return stream.reading;
  }

  /** `line`: read for a walk of it, whose figures may wait; such a wait asks the line for a walk later. */
  private deliver(stream: OpenStream, state: LineTokenState | null, always: boolean, line?: LineStreams): void {
    // A token the store no longer knows was lost with its line (Redis came back empty): the stream
    // ends without a state, and the client's next poll is told LINE_RESET.
    if (!state) {
      this.close(stream);
      return;
    }
    const now = performance.now();
    const shown = stream.shown;
    // Figures alone wait out their second: a move of the place a second after the last move, any other
    // figure a second after the last event. Most streams of a moving line are in their second, and the
    // state alone shows there is no news (the sale's phase moves with a status or a draw rank), so
    // their view is not even worked out.
    if (line && shown && !stateNewsIn(state, shown)) {
      const since = state.position !== shown.position ? stream.movedAt : stream.shownAt;
      if (now - since < FIGURES_EVERY_MS) {
        this.catchUp(line);
        return;
      }
    }
    const view = this.options.queue.view(state);
    if (line && shown && !newsIn(view, shown)) {
      if (this.send(stream, view, always) && view.position !== shown.position) stream.movedAt = now;
      return;
    }
    if (this.send(stream, view, always)) stream.movedAt = Number.NEGATIVE_INFINITY;
  }

  /** Figures held back: the line is walked again once their second is up. */
  private catchUp(line: LineStreams): void {
    line.catchingUp ??= setTimeout(() => {
      line.catchingUp = undefined;
      this.changed(line);
    }, FIGURES_EVERY_MS);
  }

  /** Sends the view unless it is what the stream shows already (`always`: the heartbeat sends it anyway). */
  private send(stream: OpenStream, view: TokenView, always: boolean): boolean {
    const data = JSON.stringify(view);
    const final = view.status === 'EXPIRED' || view.status === 'SOLD_OUT';
    if (data === stream.last && !always) return false;
    stream.last = data;
    stream.shown = view;
    stream.shownAt = performance.now();
    if (stream.raw.writableNeedDrain && !final) {
      stream.pending = data;
      return true;
    }
    stream.pending = undefined;
    this.write(stream, data);
    if (final) this.close(stream);
    return true;
  }

  private write(stream: OpenStream, data: string): void {
    stream.raw.write(`data: ${data}\n\n`);
  }

  private close(stream: OpenStream): void {
    if (stream.closed) return;
    stream.closed = true;
    clearInterval(stream.heartbeat);
    const line = this.lines.get(stream.lineId);
    if (line?.streams.delete(stream)) {
      this.count--;
      this.options.onClose?.();
      if (line.streams.size === 0) {
        clearTimeout(line.gathering);
        clearTimeout(line.catchingUp);
        line.off();
        this.lines.delete(stream.lineId);
      }
    }
    stream.raw.end();
  }
}

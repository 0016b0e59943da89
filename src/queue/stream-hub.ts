// The open Server-Sent Event streams of one instance, by line. A change of a line is worked out once
// for the line, not once per stream: its streams are walked in slices, each token read as a poll reads
// it (from the store's copy of the line: no round trip for a token the copy vouches for), and a stream
// is written only when its view changed. Between slices the event loop serves other requests, so ten
// thousand streams do not block it. A stream whose client does not read (its socket buffer is full)
// is not written more: it gets the newest view once it drains. At `maxStreams` open streams a new one
// is refused (the route answers 503 with Retry-After, and the client polls instead).
import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { TokenClaims } from './queue-token.js';
import type { QueueService, TokenView } from './queue.service.js';

/** Streams one slice handles before the event loop gets its turn. */
const SLICE = 500;

export interface HubStream {
  claims: TokenClaims;
  lineId: string;
  raw: ServerResponse;
}

interface OpenStream extends HubStream {
  /** The last state written. */
  last: string;
  /** A state held back while the socket drains. */
  pending: string | undefined;
  closed: boolean;
  /** Reads run one after another, so states leave in the order they were read. */
  reading: Promise<void>;
  heartbeat: NodeJS.Timeout;
}

interface LineStreams {
  streams: Set<OpenStream>;
  off: () => void;
  walking: Promise<void> | undefined;
  again: boolean;
}

export interface StreamHubOptions {
  queue: Pick<QueueService, 'peek' | 'view' | 'onChange'>;
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
      pending: undefined,
      closed: false,
      reading: Promise.resolve(),
      heartbeat: setInterval(() => {
        if (!open.raw.writableNeedDrain) open.raw.write(': heartbeat\n\n');
        this.read(open, true);
      }, this.options.heartbeatMs),
    };
    let line = this.lines.get(stream.lineId);
    if (!line) {
      const created: LineStreams = { streams: new Set(), off: () => undefined, walking: undefined, again: false };
      created.off = this.options.queue.onChange(() => this.walk(created), stream.lineId);
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

  /** A change of the line: one walk over its streams at a time, and one more if changes came meanwhile. */
  private walk(line: LineStreams): void {
    if (line.walking) {
      line.again = true;
      return;
    }
    line.walking = (async () => {
      do {
        line.again = false;
        const streams = [...line.streams];
        for (let i = 0; i < streams.length; i += SLICE) {
          if (i > 0) await yieldToLoop();
          await Promise.all(streams.slice(i, i + SLICE).map((stream) => this.read(stream, false)));
        }
      } while (line.again);
    })().finally(() => {
      line.walking = undefined;
    });
  }

  /** Reads the stream's token and sends its state if it changed (`always`: the heartbeat sends it anyway). */
  private read(stream: OpenStream, always: boolean): Promise<void> {
    stream.reading = stream.reading.then(async () => {
      if (stream.closed) return;
      try {
        const state = await this.options.queue.peek(stream.claims);
        if (stream.closed) return;
        // A token the store no longer knows was lost with its line (Redis came back empty): the stream
        // ends without a state, and the client's next poll is told LINE_RESET.
        if (state) this.send(stream, this.options.queue.view(state), always);
        else this.close(stream);
      } catch (error) {
        this.options.onError(error);
      }
    });
    return stream.reading;
  }

  private send(stream: OpenStream, view: TokenView, always: boolean): void {
    const data = JSON.stringify(view);
    const final = view.status === 'EXPIRED' || view.status === 'SOLD_OUT';
    if (data === stream.last && !always) return;
    stream.last = data;
    if (stream.raw.writableNeedDrain && !final) {
      stream.pending = data;
      return;
    }
    stream.pending = undefined;
    this.write(stream, data);
    if (final) this.close(stream);
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
        line.off();
        this.lines.delete(stream.lineId);
      }
    }
    stream.raw.end();
  }
}

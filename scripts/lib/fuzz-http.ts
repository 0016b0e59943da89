// Sends one request exactly as the fuzzer wrote it (any method, repeated headers, raw body bytes, an
// unnormalised path) over a keep-alive node:http agent, and keeps what came back. An event stream is
// closed as soon as its first bytes arrive.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface WireRequest {
  method: string;
  /** Path and query, sent as written (only characters HTTP cannot carry are percent-encoded). */
  path: string;
  /** In order; a name may repeat (each becomes its own header line). */
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Leave Content-Length out and send the body chunked. */
  chunked?: boolean;
}

export interface WireResponse {
  /** 0 when no answer arrived (see `error`). */
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as text, cut at `maxBodyBytes`. */
  text: string;
  ms: number;
  /** Why there is no answer: the client refused to send it, or the connection failed or timed out. */
  error?: { kind: 'unsendable' | 'connection' | 'timeout'; message: string };
}

const MAX_BODY_BYTES = 64 * 1024;

/** Characters a request line can carry (node refuses the rest): percent-encode everything else. */
export function wirePath(path: string): string {
  return path.replace(/[^\u0021-\u007e]/gu, (ch) => (/^[\ud800-\udfff]$/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch)));
}

/**
 * Sends `request`; a reset on a reused keep-alive socket (the server closed it between two requests,
 * a race every keep-alive client has) is retried, up to three times.
 */
export async function sendWire(origin: URL, agent: http.Agent, request: WireRequest, timeoutMs: number): Promise<WireResponse> {
  let answer = await sendOnce(origin, agent, request, timeoutMs);
  for (let attempt = 0; attempt < 3 && answer.error?.kind === 'connection' && answer.reused; attempt++) {
    answer = await sendOnce(origin, agent, request, timeoutMs);
  }
  return answer;
}

function sendOnce(origin: URL, agent: http.Agent, request: WireRequest, timeoutMs: number): Promise<WireResponse & { reused?: boolean }> {
  const started = performance.now();
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of request.headers) {
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const hasLength = request.headers.some(([n]) => n.toLowerCase() === 'content-length');
  if (request.body !== undefined && !request.chunked && !hasLength) headers['content-length'] = String(request.body.length);
  if (request.chunked) headers['transfer-encoding'] = 'chunked';

  return new Promise((resolve) => {
    let settled = false;
    const finish = (response: Omit<WireResponse, 'ms'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...response, ms: performance.now() - started, reused: req?.reusedSocket });
    };
    let req: http.ClientRequest | undefined;
    try {
      req = http.request(
        {
          protocol: origin.protocol,
          hostname: origin.hostname,
          port: origin.port,
          method: request.method,
          path: request.path,
          headers,
          agent,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const done = () => finish({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
          if (request.method.toUpperCase() === 'HEAD') {
            // An answer to HEAD ends with its headers (bytes after them are the server's mistake).
            done();
            return;
          }
          if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
            // An open stream: its status and headers are the answer; the first event, if already there, is kept.
            setImmediate(() => {
              done();
              req?.destroy();
            });
          }
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_BODY_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('end', done);
          res.on('error', done);
          res.on('close', done);
        },
      );
    } catch (err) {
      finish({ status: 0, headers: {}, text: '', error: { kind: 'unsendable', message: (err as Error).message } });
      return;
    }
    req.on('timeout', () => {
      finish({ status: 0, headers: {}, text: '', error: { kind: 'timeout', message: `no answer within ${timeoutMs} ms` } });
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const kind =
        err.code === 'ERR_INVALID_CHAR' || err.code === 'ERR_INVALID_HTTP_TOKEN' || err.code === 'ERR_UNESCAPED_CHARACTERS' ? 'unsendable' : 'connection';
      finish({ status: 0, headers: {}, text: '', error: { kind, message: `${err.code ?? ''} ${err.message}`.trim() } });
    });
    if (request.body !== undefined) req.end(request.body);
    else req.end();
  });
}
